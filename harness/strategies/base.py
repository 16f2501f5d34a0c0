"""The one interface every strategy implements, and what a run hands it.

A strategy gets the items and a ``RunContext`` (the clock, an ``extract`` coroutine that never
raises, and ``emit`` for progress events) and returns one outcome per item, in input order.

Every attempt at an item goes through ``RunContext.extract_safely``, which first waits for the
run's gate, if its strategy set one (``AttemptGate``: ``adaptive``'s concurrency limit, which
counts attempts, not items, so a retry waits for a slot as any start does), then for the run's rate
limit (``StartLimiter``), so the limit applies to every strategy alike; every finished
item through ``item_done``, which keeps its outcome, so a run cut short (the frontend's idle
timeout, ``harness.frontend``) still knows what finished and what was in flight.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from harness.outcomes import ErrorKind, ItemOutcome, Status, WorkItem
from harness.progress import EventKind, ProgressEvent
from mock_onyx import SimClock
from scenarios.policies import RetrySpec

Extract = Callable[[WorkItem], Awaitable[ItemOutcome]]


class AttemptGate(Protocol):
    """Admits attempts: ``enter`` returns when one may start (raising ``CancelledError`` with no
    slot held if cancelled first), and every attempt that entered leaves with its outcome (None
    when it was cancelled)."""

    async def enter(self, item: WorkItem) -> None: ...

    def leave(self, item: WorkItem, outcome: ItemOutcome | None) -> None: ...


@dataclass
class RunContext:
    clock: SimClock
    origin_s: float
    extract: Extract
    total: int
    events: list[ProgressEvent] = field(default_factory=list)
    done: int = 0
    on_item_done: Callable[[int], None] | None = None  # told the count of items finished so far
    seed: int = 0  # the run's profile seed: retry jitter is drawn from it
    limiter: StartLimiter | None = None  # the run's rate limit on attempt starts
    finished: dict[WorkItem, ItemOutcome] = field(default_factory=dict)  # final outcomes so far
    started: dict[WorkItem, float] = field(default_factory=dict)  # each item's first attempt start
    attempts: dict[WorkItem, int] = field(default_factory=dict)  # attempts begun, per item
    gate: AttemptGate | None = None  # set by a strategy that limits attempts in flight (``adaptive``)

    def item_done(self, outcome: ItemOutcome | None = None) -> None:
        """One more item finished (ok, failed or skipped), with its final outcome."""
        self.done += 1
        if outcome is not None:
            self.finished[outcome.item] = outcome
        if self.on_item_done is not None:
            self.on_item_done(self.done)

    def now(self) -> float:
        return self.clock.now() - self.origin_s

    def emit(self, kind: EventKind, message: str) -> None:
        self.events.append(ProgressEvent(self.now(), kind, message, self.done, self.total))

    async def sleep(self, simulated_s: float) -> None:
        await self.clock.sleep(simulated_s)

    async def extract_safely(self, item: WorkItem) -> ItemOutcome:
        """``extract``, with an unexpected exception turned into a failed outcome: never lost.
        It first waits for the gate and then the rate limit, if the run has them: each attempt
        is a start (the gate first: two starts it let through at one instant would otherwise
        both have waited out their spacing in its queue)."""
        gate = self.gate
        if gate is not None:
            await gate.enter(item)
        outcome: ItemOutcome | None = None
        try:
            if self.limiter is not None:
                await self.limiter.acquire()
            start = self.now()
            self.started.setdefault(item, start)
            self.attempts[item] = self.attempts.get(item, 0) + 1
            try:
                outcome = await self.extract(item)
            except Exception as error:
                outcome = ItemOutcome(item=item, status=Status.FAILED, start_s=start, end_s=self.now(),
                                      error_kind=ErrorKind.INTERNAL, reason=f"{type(error).__name__}: {error}")
            return outcome
        finally:
            if gate is not None:
                gate.leave(item, outcome)


class Strategy(Protocol):
    """Runs items through ``ctx.extract``; one outcome per item, in input order."""

    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int | None: ...

    @property
    def retry(self) -> RetrySpec: ...  # the retry policy of each item (``RetryPolicy``)

    @property
    def heartbeat_s(self) -> float: ...  # a progress event at least this often while busy; 0: none

    @property
    def rate_limit(self) -> float: ...  # attempt starts per simulated second (``start_limiter``); 0: none

    async def run(self, items: Sequence[WorkItem], ctx: RunContext) -> list[ItemOutcome]: ...

    def planned_makespan_s(self, durations: Sequence[float]) -> float:
        """The makespan this strategy gives items of these durations, with no faults."""
        ...

    def mean_makespan_s(self, n_files: int, mean_duration_s: float,
                        expected_max_s: Callable[[int], float]) -> float | None:
        """The expected makespan over i.i.d. file durations, where a closed form exists
        (``expected_max_s(k)``: the expected longest of k files); None where none does."""
        ...


class StartLimiter:
    """At most ``rate_per_s`` attempt starts per simulated second: each start takes the next free
    slot, 1 / rate after the one before (or now, if that has passed), in the order they ask, and
    waits for it on the run's clock. No burst: in any second, at most ``rate_per_s`` starts.

    Not aiolimiter, though it is the well-kept leaky bucket, and its period could be the simulated
    second in the loop's seconds (the time scale on sockets, 1 on the virtual loop): it computes
    its next wake-up as last check + level / rate in float seconds, and the float residue of its
    level (1e-14 after 60 starts) asks for a wake-up less than one of looptime's microsecond ticks
    ahead, which looptime schedules at the current tick: virtual time never moves on and the run
    spins for ever (measured: batch 8 over 20 files at 2 starts/s, stuck at 32.32 s). Slots
    counted on the ``SimClock`` are exact in virtual mode and need no dependency."""

    def __init__(self, rate_per_s: float, clock: SimClock) -> None:
        self._interval_s = 1.0 / rate_per_s
        self._clock = clock
        self._next_s = -math.inf  # the earliest time the next start may take (loop's simulated s)

    async def acquire(self) -> None:
        slot = max(self._clock.now(), self._next_s)
        self._next_s = slot + self._interval_s
        await self._clock.sleep_until(slot)


def start_limiter(rate_per_s: float, clock: SimClock) -> StartLimiter | None:
    """The run's limit on attempt starts (None for a rate of 0: no limit)."""
    return StartLimiter(rate_per_s, clock) if rate_per_s else None
