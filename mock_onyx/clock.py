"""Simulated time: one time scale maps simulated seconds to the event loop's clock.

Every duration in onyx-bench is in simulated seconds. ``SimClock`` is the single place that turns
them into waits: ``time_scale`` wall seconds per simulated second on a real loop (0.01: a 30 s call
takes 300 ms), or 1.0 on a virtual-time loop, where a wait takes no wall time at all.

Waits are to absolute deadlines, so timer lateness does not add up over a stream of packets.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class SimClock:
    time_scale: float

    def now(self) -> float:
        """Simulated seconds since an arbitrary origin (the loop's clock, unscaled)."""
        return asyncio.get_running_loop().time() / self.time_scale

    def to_wall(self, simulated_s: float) -> float:
        return simulated_s * self.time_scale

    async def sleep(self, simulated_s: float) -> None:
        await asyncio.sleep(max(0.0, simulated_s) * self.time_scale)

    async def sleep_until(self, deadline_s: float) -> None:
        """Wait until ``now()`` reaches ``deadline_s`` (returns at once if it has)."""
        remaining = deadline_s - self.now()
        if remaining > 0:
            await asyncio.sleep(remaining * self.time_scale)
