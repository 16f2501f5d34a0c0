"""The seed's "before": one item after another, each tried up to 3 times 1 s apart; the frontend
hears nothing until the very end (which is why it timed out).

``pause_s`` waits that many simulated seconds between one item's end and the next one's start
(0 for the seed's loop): ``onyx-bench calibrate`` measures a server gently this way, one file at a
time with a pause between them (wall seconds against a real Onyx, whose time scale is 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.outcomes import ItemOutcome, WorkItem
from harness.progress import EventKind
from harness.strategies.base import RunContext
from harness.strategies.retry import RetryPolicy


@dataclass(frozen=True)
class Sequential:
    retry: RetryPolicy = RetryPolicy(max_attempts=3, wait_s=1.0)  # fixed(3, 1): the seed's loop
    rate_limit: float = 0.0
    name: str = "sequential"
    size: int | None = None
    pause_s: float = 0.0  # between one item's end and the next one's start

    @property
    def heartbeat_s(self) -> float:
        return 0.0  # it emits at the end alone: what the seed's frontend saw

    async def run(self, items: Sequence[WorkItem], ctx: RunContext) -> list[ItemOutcome]:
        outcomes = []
        for index, item in enumerate(items):
            if index and self.pause_s:
                await ctx.sleep(self.pause_s)
            outcomes.append(await self.retry.run(item, ctx))
        ctx.emit(EventKind.DONE, f"Processed {len(items)} items")
        return outcomes

    def planned_makespan_s(self, durations: Sequence[float]) -> float:
        return sum(durations) + self.pause_s * max(len(durations) - 1, 0)

    def mean_makespan_s(self, n_files: int, mean_duration_s: float,
                        expected_max_s: Callable[[int], float]) -> float | None:
        return n_files * mean_duration_s + self.pause_s * max(n_files - 1, 0)
