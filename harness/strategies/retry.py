"""Whole-item retries, any strategy's: a ``RetrySpec`` (``scenarios.policies``) run by tenacity on
the run's clock.

Tenacity drives the loop (stop, wait, retry on a failed outcome); its sleep is ``SimClock.sleep``,
and every time it is asked about is the run's simulated time, never tenacity's own wall clock, so
a virtual run waits exactly and a real one at its time scale. The jitter of an exponential backoff
is drawn from the run's seed, per item and retry: the same in every run of that seed, whatever the
strategy or the order items fail in.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt, stop_any

from harness.outcomes import ItemOutcome, Status, WorkItem
from harness.strategies.base import RunContext
from scenarios.policies import RetrySpec, parse_retry


@dataclass(frozen=True)
class RetryPolicy(RetrySpec):
    """``RetryPolicy()`` is one attempt; ``RetryPolicy.parse("exponential(5, 1, 30)")`` any spec."""

    @classmethod
    def parse(cls, spec: str) -> RetryPolicy:
        return cls(**dataclasses.asdict(parse_retry(spec)))

    async def run(self, item: WorkItem, ctx: RunContext) -> ItemOutcome:
        """Attempts of ``item`` until one does not fail, the attempts run out or the next retry
        would start past the deadline; the last outcome, with the attempts made and the first
        attempt's start. Tells ``ctx.item_done``."""
        retrying = AsyncRetrying(
            stop=stop_any(stop_after_attempt(self.max_attempts), lambda state: self._past_deadline(state, ctx)),
            wait=lambda state: self.wait_before_s(state.attempt_number, ctx.seed, item,
                                                  _retry_after_s(state)),
            sleep=ctx.clock.sleep, retry=retry_if_result(lambda o: o.status is Status.FAILED),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None)
        outcome: ItemOutcome = await retrying(ctx.extract_safely, item)
        attempts = int(retrying.statistics.get("attempt_number", 1))
        reason = outcome.reason
        if outcome.status is Status.FAILED and attempts < self.max_attempts:
            reason = f"{reason}; no retry after {attempts}: past the run's {self.deadline_s:g} s retry deadline"
        outcome = dataclasses.replace(outcome, attempts=attempts, reason=reason,
                                      start_s=ctx.started.get(item, outcome.start_s))
        ctx.item_done(outcome)
        return outcome

    def wait_before_s(self, retry: int, seed: int, item: WorkItem, retry_after_s: float | None = None) -> float:
        """The wait before retry ``retry`` (1: the first) of ``item``, in simulated seconds."""
        if self.backoff == "exponential":
            cap = math.inf if self.cap_s is None else self.cap_s
            wait = min(cap, self.wait_s * 2.0 ** min(retry - 1, 1000))
            wait *= 1.0 - self.jitter * jitter_draw(seed, item, retry)
        else:
            wait = self.wait_s
        if self.retry_after and retry_after_s is not None:
            wait = max(wait, retry_after_s)  # the server's word: above the cap too
        return wait

    def _past_deadline(self, state: RetryCallState, ctx: RunContext) -> bool:
        """The next retry would start after the deadline (seconds since the run's start)."""
        return self.deadline_s is not None and ctx.now() + (state.upcoming_sleep or 0.0) > self.deadline_s


def jitter_draw(seed: int, item: WorkItem, retry: int) -> float:
    """u in [0, 1) for one item's retry, a pure function of the run's seed (string seeding of
    ``random.Random`` hashes with SHA-512: the same in every process, whatever PYTHONHASHSEED)."""
    return random.Random(f"retry-jitter:{seed}:{item.label}:{retry}").random()


def _retry_after_s(state: RetryCallState) -> float | None:
    """The Retry-After of the failed attempt's last call that carried one (a 429's)."""
    if state.outcome is None or state.outcome.failed:
        return None
    outcome: ItemOutcome = state.outcome.result()
    return next((call.retry_after_s for call in reversed(outcome.calls) if call.retry_after_s is not None), None)
