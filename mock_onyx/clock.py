"""Simulated time: one time scale maps simulated seconds to the event loop's clock.

Every duration in onyx-bench is in simulated seconds. ``SimClock`` is the single place that turns
them into waits: ``time_scale`` wall seconds per simulated second on a real loop (0.01: a 30 s call
takes 300 ms), or 1.0 on a virtual-time loop, where a wait takes no wall time at all.

Waits are to absolute deadlines, so timer lateness does not add up over a stream of packets.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

# The epoll selector rounds a wait up to the next whole millisecond, so a wall-clock wait ends on
# average half a millisecond late: at time scale 0.01 that is 0.05 simulated seconds per call.
# Waiting half a millisecond less centres the error on zero. On a virtual loop nothing is rounded.
SELECTOR_ROUNDING_S = 0.0005


@dataclass(frozen=True)
class SimClock:
    time_scale: float
    wake_early_s: float = SELECTOR_ROUNDING_S  # 0 on a virtual clock

    def now(self) -> float:
        """Simulated seconds since an arbitrary origin (the loop's clock, unscaled)."""
        return asyncio.get_running_loop().time() / self.time_scale

    def to_wall(self, simulated_s: float) -> float:
        return simulated_s * self.time_scale

    async def sleep(self, simulated_s: float) -> None:
        await self.sleep_until(self.now() + simulated_s)

    def wall_delay(self, deadline_s: float) -> float:
        """The loop-clock seconds to wait for ``now()`` to reach ``deadline_s`` (<= 0: it has)."""
        return (deadline_s - self.now()) * self.time_scale - self.wake_early_s

    async def sleep_until(self, deadline_s: float) -> None:
        """Wait until ``now()`` reaches ``deadline_s`` (returns at once if it has)."""
        remaining = self.wall_delay(deadline_s)
        if remaining > 0:
            await asyncio.sleep(remaining)
