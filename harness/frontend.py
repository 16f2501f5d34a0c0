"""The frontend's view of a run: it listens to the progress events and drops the stream when none
arrives within its idle timeout (nginx's ``proxy_read_timeout``, 60 s by default), as production's
did (``shared/production-history.md``).

``run_watched`` runs a strategy under that timeout, on the run's ``SimClock`` (so in simulated
seconds in both modes): the limit counts from the run's start, then from each event. When it runs
out the run stops there: the strategy's task is cancelled and awaited (its batches cancel their own
tasks, so nothing is left running), every item that finished by then keeps its outcome, and every
other one, in flight or never started, ends ``failed`` with ``ErrorKind.DROPPED``: no input is lost.

What a dropped run reports: its makespan is the drop time (the run ended there for the user, and
nothing after it reached them), ``dropped_at_s`` the same, and its longest progress gap the idle
timeout itself (the silence the frontend sat through before it gave up; how much longer the run
would have stayed silent is not known). Events after the drop time are discarded: on sockets the
watcher can wake a moment late, and anything after the limit came too late for the user. The drop
time is exact in both modes (the last event's time plus the limit, from the events' own stamps,
whenever the watcher wakes), which is why a gap of exactly the limit counts as a drop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from harness.outcomes import ErrorKind, ItemOutcome, Status, WorkItem
from harness.strategies import RunContext, Strategy


@dataclass(frozen=True)
class Watched:
    outcomes: tuple[ItemOutcome, ...]
    dropped_at_s: float | None  # None: the frontend heard the run to its end


async def run_watched(strategy: Strategy, items: Sequence[WorkItem], ctx: RunContext,
                      idle_timeout_s: float | None) -> Watched:
    """``strategy.run``, dropped after ``idle_timeout_s`` simulated seconds without progress (None:
    never)."""
    if idle_timeout_s is None:
        return Watched(tuple(await strategy.run(items, ctx)), None)
    task = asyncio.create_task(strategy.run(items, ctx))
    try:
        dropped_at = await _watch(task, ctx, idle_timeout_s)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    if dropped_at is None:
        return Watched(tuple(task.result()), None)
    ctx.events[:] = [event for event in ctx.events if event.at_s <= dropped_at]
    return Watched(tuple(_at_drop(item, ctx, dropped_at, idle_timeout_s) for item in items), dropped_at)


async def _watch(task: asyncio.Task[list[ItemOutcome]], ctx: RunContext, limit_s: float) -> float | None:
    """The time the frontend drops the run, or None if the run ends first."""
    last, seen = 0.0, 0
    while True:
        for event in ctx.events[seen:]:  # those that came since the last look, in order
            if event.at_s - last >= limit_s:
                return last + limit_s
            last = event.at_s
        seen = len(ctx.events)
        if task.done():
            return last + limit_s if ctx.now() - last >= limit_s else None
        remaining = last + limit_s - ctx.now()
        if remaining <= 0:
            return last + limit_s
        await asyncio.wait({task}, timeout=ctx.clock.to_wall(remaining))


def _at_drop(item: WorkItem, ctx: RunContext, dropped_at: float, limit_s: float) -> ItemOutcome:
    finished = ctx.finished.get(item)
    if finished is not None and finished.end_s <= dropped_at:
        return finished
    started = ctx.started.get(item)
    in_flight = started is not None and started <= dropped_at
    start = started if in_flight and started is not None else dropped_at
    return ItemOutcome(item=item, status=Status.FAILED, start_s=start, end_s=dropped_at,
                       error_kind=ErrorKind.DROPPED, attempts=ctx.attempts.get(item, 0) if in_flight else 0,
                       reason=f"the frontend dropped the stream after {limit_s:g} s without progress "
                              f"({'in flight' if in_flight else 'not started'})")
