"""A sliding window: at most ``size`` items in flight; the next starts the moment one ends. No
batch waits for its straggler, and every finished item is a progress event (and, with
``heartbeat_s``, a heartbeat whenever that long passes without one)."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.outcomes import ItemOutcome, WorkItem
from harness.progress import EventKind
from harness.strategies.base import RunContext
from harness.strategies.heartbeat import heartbeats
from harness.strategies.retry import RetryPolicy


@dataclass(frozen=True)
class Window:
    size: int = 8
    retry: RetryPolicy = RetryPolicy()
    heartbeat_s: float = 0.0
    rate_limit: float = 0.0
    name: str = "window"

    async def run(self, items: Sequence[WorkItem], ctx: RunContext) -> list[ItemOutcome]:
        return await run_lanes(items, ctx, self.size, self.retry, self.heartbeat_s)

    def planned_makespan_s(self, durations: Sequence[float]) -> float:
        """List scheduling in input order on ``size`` slots."""
        slots = [0.0] * min(self.size, len(durations))
        for duration in durations:
            heapq.heapreplace(slots, slots[0] + duration)
        return max(slots, default=0.0)

    def mean_makespan_s(self, n_files: int, mean_duration_s: float,
                        expected_max_s: Callable[[int], float]) -> float | None:
        if n_files <= self.size:
            return expected_max_s(n_files)
        return None  # list scheduling over random durations has no simple closed form


async def run_lanes(items: Sequence[WorkItem], ctx: RunContext, lanes: int, retry: RetryPolicy,
                    heartbeat_s: float, status: Callable[[], str] = lambda: "") -> list[ItemOutcome]:
    """Items through ``lanes`` workers sharing one queue in input order (``Window``, and
    ``Adaptive``, whose gate narrows it further); a progress event per finished item, and with
    ``heartbeat_s`` a heartbeat (``status``: what it adds to the message)."""
    outcomes: list[ItemOutcome | None] = [None] * len(items)
    queue = iter(enumerate(items))
    started = ctx.now()

    async def worker() -> None:
        for index, item in queue:  # workers share one iterator: input order, no item twice
            outcome = await retry.run(item, ctx)
            outcomes[index] = outcome
            ctx.emit(EventKind.ITEM_DONE, f"{ctx.done}/{len(items)} done: {item.label} {outcome.status}")

    def beat() -> str:
        return f"Processing... ({ctx.now() - started:.0f}s elapsed, {ctx.done}/{len(items)} done{status()})"

    async with heartbeats(ctx, heartbeat_s, beat):
        await asyncio.gather(*(worker() for _ in range(min(lanes, len(items)))))
    return [outcome for outcome in outcomes if outcome is not None]
