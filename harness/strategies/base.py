"""The one interface every strategy implements, and what a run hands it.

A strategy gets the items and a ``RunContext`` (the clock, an ``extract`` coroutine that never
raises, and ``emit`` for progress events) and returns one outcome per item, in input order.

Every attempt at an item goes through ``RunContext.extract_safely``, which first waits for the
run's rate limit (``start_limiter``), so the limit applies to every strategy alike; every finished
item through ``item_done``, which keeps its outcome, so a run cut short (the frontend's idle
timeout, ``harness.frontend``) still knows what finished and what was in flight.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiolimiter import AsyncLimiter

from harness.outcomes import ErrorKind, ItemOutcome, Status, WorkItem
from harness.progress import EventKind, ProgressEvent
from mock_onyx import SimClock
from scenarios.policies import RetrySpec

Extract = Callable[[WorkItem], Awaitable[ItemOutcome]]


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
    limiter: AsyncLimiter | None = None  # the run's rate limit on attempt starts (``start_limiter``)
    finished: dict[WorkItem, ItemOutcome] = field(default_factory=dict)  # final outcomes so far
    started: dict[WorkItem, float] = field(default_factory=dict)  # each item's first attempt start
    attempts: dict[WorkItem, int] = field(default_factory=dict)  # attempts begun, per item

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
        It first waits for the rate limit, if the run has one: each attempt is a start."""
        if self.limiter is not None:
            await self.limiter.acquire()
        start = self.now()
        self.started.setdefault(item, start)
        self.attempts[item] = self.attempts.get(item, 0) + 1
        try:
            return await self.extract(item)
        except Exception as error:
            return ItemOutcome(item=item, status=Status.FAILED, start_s=start, end_s=self.now(),
                               error_kind=ErrorKind.INTERNAL, reason=f"{type(error).__name__}: {error}")


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


def start_limiter(rate_per_s: float, clock: SimClock) -> AsyncLimiter | None:
    """At most ``rate_per_s`` attempt starts per simulated second, spaced 1 / rate apart (None: no
    limit). aiolimiter's leaky bucket, sized 1 so it lets no burst through: with a bucket of R, a
    second could see up to 2R - 1 starts (a full bucket, then its refill). It reads the loop's
    clock, so its period is the simulated second in wall seconds (the time scale on sockets, 1 on
    the virtual loop, where starts land 1 / rate apart to looptime's microsecond). One per run: a
    limiter belongs to one event loop."""
    return None if not rate_per_s else AsyncLimiter(1, clock.to_wall(1.0 / rate_per_s))
