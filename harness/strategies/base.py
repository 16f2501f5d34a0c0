"""The one interface every strategy implements, and what a run hands it.

A strategy gets the items and a ``RunContext`` (the clock, an ``extract`` coroutine that never
raises, and ``emit`` for progress events) and returns one outcome per item, in input order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tenacity import AsyncRetrying, retry_if_result, stop_after_attempt, wait_fixed

from harness.outcomes import ErrorKind, ItemOutcome, Status, WorkItem
from harness.progress import EventKind, ProgressEvent
from mock_onyx import SimClock

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

    def item_done(self) -> None:
        """One more item finished (ok, failed or skipped)."""
        self.done += 1
        if self.on_item_done is not None:
            self.on_item_done(self.done)

    def now(self) -> float:
        return self.clock.now() - self.origin_s

    def emit(self, kind: EventKind, message: str) -> None:
        self.events.append(ProgressEvent(self.now(), kind, message, self.done, self.total))

    async def sleep(self, simulated_s: float) -> None:
        await self.clock.sleep(simulated_s)

    async def extract_safely(self, item: WorkItem) -> ItemOutcome:
        """``extract``, with an unexpected exception turned into a failed outcome: never lost."""
        start = self.now()
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

    async def run(self, items: Sequence[WorkItem], ctx: RunContext) -> list[ItemOutcome]: ...

    def planned_makespan_s(self, durations: Sequence[float]) -> float:
        """The makespan this strategy gives items of these durations, with no faults."""
        ...

    def mean_makespan_s(self, n_files: int, mean_duration_s: float,
                        expected_max_s: Callable[[int], float]) -> float | None:
        """The expected makespan over i.i.d. file durations, where a closed form exists
        (``expected_max_s(k)``: the expected longest of k files); None where none does."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """Whole-item retries: up to ``max_attempts`` tries of an item that failed, ``wait_s`` apart
    (simulated). Tenacity drives the loop; its sleep is the run's clock."""

    max_attempts: int = 1
    wait_s: float = 0.0

    async def run(self, item: WorkItem, ctx: RunContext) -> ItemOutcome:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts), wait=wait_fixed(self.wait_s),
            sleep=ctx.clock.sleep, retry=retry_if_result(lambda o: o.status is Status.FAILED),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None)
        first_start = ctx.now()
        outcome: ItemOutcome = await retrying(ctx.extract_safely, item)
        attempts = int(retrying.statistics.get("attempt_number", 1))
        outcome = dataclasses.replace(outcome, attempts=attempts, start_s=first_start)
        ctx.item_done()
        return outcome
