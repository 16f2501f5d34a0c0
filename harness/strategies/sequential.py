"""The seed's "before": one item after another, each tried up to 3 times 1 s apart; the frontend
hears nothing until the very end (which is why it timed out)."""

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

    @property
    def heartbeat_s(self) -> float:
        return 0.0  # it emits at the end alone: what the seed's frontend saw

    async def run(self, items: Sequence[WorkItem], ctx: RunContext) -> list[ItemOutcome]:
        outcomes = [await self.retry.run(item, ctx) for item in items]
        ctx.emit(EventKind.DONE, f"Processed {len(items)} items")
        return outcomes

    def planned_makespan_s(self, durations: Sequence[float]) -> float:
        return sum(durations)

    def mean_makespan_s(self, n_files: int, mean_duration_s: float,
                        expected_max_s: Callable[[int], float]) -> float | None:
        return n_files * mean_duration_s
