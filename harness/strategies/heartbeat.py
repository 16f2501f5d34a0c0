"""Heartbeats: progress events that keep a frontend listening while work is in flight.

``Batch`` awaits its tasks as production did (``asyncio.wait(..., timeout, FIRST_COMPLETED)`` in a
loop, ``batch.py``); ``Window``, whose workers each await one item, runs ``heartbeats`` beside them:
a ticker that emits whenever ``every_s`` simulated seconds pass with no progress event of any kind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from harness.progress import EventKind
from harness.strategies.base import RunContext


def last_event_s(ctx: RunContext) -> float:
    return ctx.events[-1].at_s if ctx.events else 0.0


async def _tick(ctx: RunContext, every_s: float, message: Callable[[], str]) -> None:
    while True:
        last = last_event_s(ctx)
        await ctx.clock.sleep_until(ctx.origin_s + last + every_s)
        if last_event_s(ctx) == last:
            # Silent since: a heartbeat. (Had an event come in meanwhile, wait from it instead:
            # waking and checking the clock again could spin on a timer that fires early.)
            ctx.emit(EventKind.HEARTBEAT, message())


@asynccontextmanager
async def heartbeats(ctx: RunContext, every_s: float, message: Callable[[], str]) -> AsyncIterator[None]:
    """While in the block, a ``HEARTBEAT`` event whenever ``every_s`` pass without an event
    (nothing when ``every_s`` is 0). The ticker is cancelled and awaited on the way out."""
    if not every_s:
        yield
        return
    ticker = asyncio.create_task(_tick(ctx, every_s, message))
    try:
        yield
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
