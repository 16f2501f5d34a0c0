"""Adaptive concurrency: a window whose width is a limit that grows while calls succeed and backs
off on failures and on rising latency, between 1 and ``size`` (its maximum).

The reference design is Netflix's concurrency-limits (its ``AIMDLimit`` and ``Gradient2Limit``),
with TCP's congestion control and a circuit breaker's half-open probe, fitted to this workload: a
few dozen files of 15-30 s each, a server that falls over above an unknown number of chats in
flight and refuses connections while it restarts, and latencies with a 2x spread at no load at
all. The limit counts attempts in flight (a retry waits for a slot as any start does:
``base.AttemptGate``); the next attempt starts when one ends and fewer than the limit are in
flight, in input order. Every decision is on the run's simulated clock, from the outcomes alone:
deterministic, with no randomness and no wall-clock reads. The arithmetic is in
``adaptive_limit``; this module admits attempts and tells the frontend.

Growth (additive increase, after a slow start). Each success adds 1 to the limit until the first
decrease (slow start: it doubles per round of calls, so starting low costs a round or two), then
1 / limit (one per round). Not when the run is app-limited (fewer than half the limit in flight,
as ``AIMDLimit`` has it: too few items left to use more), and never above the ceiling (below).

Drops (multiplicative decrease). An attempt that fails as a loaded server fails it (``reset``,
``refused``, ``timeout``, a 5xx or a 429) is a drop. The first drop of a burst halves the limit
(``backoff``), once: drops of attempts admitted before that decrease are the same burst (a crash
cuts every stream at once; TCP too answers a window's losses once). It pauses: no attempt starts
for a retransmission timeout (RFC 6298: SRTT + 4 RTTVAR over successful attempts' durations,
35-60 s for uniform(15, 30) after a few samples, less as they grow; ``first_pause_s`` before any), doubled
after each pause that ends in another drop with no success between, at most ``max_pause_s``: a
server that crashed refuses connections while it restarts, and each attempt it refuses is a file
lost. The pause ends half-open: one probe alone for ``probe_s``. A refusal comes at once (in
milliseconds), so a probe still in flight after a second was let in: the server is up, and the
rest of the limit follows. A refused probe changes no limit (the server is down; that says
nothing of how much it takes): it pauses again, twice as long. The pause is silent, as a 60 s
frontend will notice: give ``adaptive`` heartbeats.

The level that broke. A burst also sets a ceiling the limit never grows past again in this run
(a second crash costs every file in flight, more than a run of a few dozen files can earn back
by probing above it). At the first drop it is one less than the attempts in flight; when the
burst is in (``BURST_S``) and was a crash (several drops, some cut in their chat), it comes from
the chats cut: a crash comes as a chat begins, so those that began before the last ones were
held, and the ceiling is their number (``adaptive_limit.crash_ceiling``; chats beginning at one
instant cannot be told apart, so it errs low: 7 chats cut, the last two begun together, say 5).

Latency (a gradient, as ``Gradient2Limit``, comparing like with like). One file's time says
little (uniform(15, 30) is a 2x spread with no load), so averages are compared: a long-term
baseline, the mean duration of successful attempts admitted at the run's lowest concurrency (its
first ``warmup`` successes, which slow start keeps low, and any later one admitted as low),
against the mean of the last ``short_window`` successes admitted within the limit since the
last decrease. When the short mean passes ``tolerance`` x the baseline, the limit is multiplied
by tolerance x baseline / short (never below one half), once per round. The tolerance is what
noise alone does not reach: both means are of a few draws, and with uniform(15, 30) the ratio of
a mean of 4 to another mean of 4 passes 1.5 in about 2% of 50-file runs, 1.75 in about 1 in
10,000 (measured). A server whose chats are 75% slower than at low load is queueing: more chats
in flight buy it no throughput, only latency.

Defaults, and why: ``initial`` 4, below production's batches of 5 that held, and few enough that
the first round's durations are a low-load baseline (and growing one at a time, a crash on the
way up cuts one or two above the threshold, not a whole large first round); ``backoff`` 0.5,
TCP's (Netflix's AIMD takes 0.9 for many small requests; here a drop is a crash); ``tolerance``
1.75, ``warmup`` 4 and ``short_window`` 4 (above: small windows react within a round; Netflix's
Gradient2 compares against a 600-sample average, which a run of a few dozen files never fills);
``probe_s`` 1 s; ``first_pause_s`` 30 s (the seed's longest call) and ``max_pause_s`` 240 s.

Events (kind ``limit``), what the frontend hears: "limit 4 -> 5 after 1 success", "limit 7 -> 3
after 7 failures (reset), 7 chats cut: at most 5 from now on; pausing 38 s", "limit 3: resuming
after a 38 s pause, one probe first", "limit 9 -> 7: latency 51.3 s over 1.75 x the 22.4 s
baseline". ``limit_trace`` reads the limit over time back from them; ``RunSummary`` keeps its
peak and its final value.
"""

from __future__ import annotations

import asyncio
import heapq
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.outcomes import ErrorKind, ItemOutcome, Status, WorkItem
from harness.progress import EventKind, ProgressEvent
from harness.strategies.adaptive_limit import (
    AdaptiveLimit,
    chat_start_s,
    crash_ceiling,
    is_drop,
    plural,
)
from harness.strategies.base import RunContext
from harness.strategies.window import run_lanes
from harness.strategies.retry import RetryPolicy

BURST_S = 1.0  # the drops of one crash come within this of the first; their count is announced then
_LIMIT_MESSAGE = re.compile(r"^limit (\d+)(?: -> (\d+))?")


@dataclass
class _Burst:
    """A decrease for drops, announced once its drops are in (``BURST_S``)."""

    old: int  # the limit before it
    pause_s: float
    kinds: list[str]  # one per drop
    chat_starts: list[float]  # when each chat cut began

    def add(self, outcome: ItemOutcome) -> None:
        self.kinds.append(str(outcome.error_kind))
        start = chat_start_s(outcome)
        if start is not None:
            self.chat_starts.append(start)


class _Gate:
    """The window: admits attempts in the order they ask while fewer than the limit are in
    flight, none during a pause and one alone while probing; tells the limit every outcome."""

    def __init__(self, strategy: Adaptive, ctx: RunContext) -> None:
        self._strategy, self._ctx = strategy, ctx
        self.limit = strategy.new_limit()
        self._loop = asyncio.get_running_loop()
        self._waiting: deque[tuple[WorkItem, asyncio.Future[None]]] = deque()
        self._in_flight: dict[WorkItem, tuple[int, int]] = {}  # each attempt's item: its number, level
        self._admissions = 0
        self._paused = self._probing = False
        self._probe: WorkItem | None = None
        self._pauses_since_success = 0
        self._burst: _Burst | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    async def enter(self, item: WorkItem) -> None:
        if not self._waiting and self._room():
            self._admit(item)
            return
        admitted: asyncio.Future[None] = self._loop.create_future()
        self._waiting.append((item, admitted))
        try:
            await admitted
        except asyncio.CancelledError:
            if admitted.done() and not admitted.cancelled():
                self.leave(item, None)  # admitted, then cancelled before it began: the slot goes back
            elif (item, admitted) in self._waiting:
                self._waiting.remove((item, admitted))
            raise

    def leave(self, item: WorkItem, outcome: ItemOutcome | None) -> None:
        admitted, level = self._in_flight.pop(item)
        in_flight = len(self._in_flight) + 1  # itself included
        probe = item == self._probe
        if probe:
            self._probe = None
        if outcome is not None and is_drop(outcome):
            self._dropped(outcome, admitted, in_flight)
        elif outcome is not None:
            if outcome.status is Status.OK:
                self._pauses_since_success = 0
                change = self.limit.success(admitted, level, outcome.duration_s, in_flight, self._admissions)
                if change is not None:
                    self._emit(change.message)
            self._probing = self._probing and not probe  # the probe was let in: the server is up
        self._dispatch()

    def flush(self) -> None:
        """Announce the last burst, if its announcement is still due."""
        if self._burst is None:
            return
        burst, self._burst = self._burst, None
        failures = plural(len(burst.kinds), "failure", "failures")
        # A crash cuts every chat in service at once: those chats tell the level that broke it
        # (the attempts in flight, counted at the first drop, may include some not there yet).
        most = ""
        if len(burst.kinds) > 1 and burst.chat_starts:
            self.limit.held_at_most(crash_ceiling(burst.chat_starts))
            cut = plural(len(burst.chat_starts), "chat", "chats")
            most = f", {cut} cut: at most {self.limit.ceiling} from now on"
        limit = f"limit {burst.old}" + (f" -> {self.limit.current}" if self.limit.current != burst.old else "")
        self._emit(f"{limit} after {failures} "
                   f"({', '.join(sorted(set(burst.kinds)))}){most}; pausing {burst.pause_s:.0f} s")

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def _room(self) -> bool:
        if self._paused or (self._probing and self._probe is not None):
            return False
        return len(self._in_flight) < self.limit.current

    def _admit(self, item: WorkItem) -> None:
        self._admissions += 1
        self._in_flight[item] = (self._admissions, len(self._in_flight) + 1)
        if self._probing:
            self._probe = item
            self._after(self._strategy.probe_s, lambda: self._probe_passed(item))

    def _dispatch(self) -> None:
        while self._waiting and self._room():
            item, admitted = self._waiting.popleft()
            if not admitted.cancelled():
                self._admit(item)
                admitted.set_result(None)

    def _dropped(self, outcome: ItemOutcome, admitted: int, in_flight: int) -> None:
        refused = outcome.error_kind is ErrorKind.REFUSED
        change = self.limit.drop(admitted, in_flight, self._admissions, refused)
        if change is None:  # a drop of the burst already answered
            if self._burst is not None:
                self._burst.add(outcome)
            return
        self.flush()
        strategy = self._strategy
        pause = min(strategy.max_pause_s,
                    self.limit.pause_s(strategy.first_pause_s) * 2.0 ** self._pauses_since_success)
        self._pauses_since_success += 1
        self._paused, self._probing, self._probe = True, False, None
        self._burst = _Burst(change.old, pause, [], [])
        self._burst.add(outcome)
        self._after(min(BURST_S, pause), self.flush)
        self._after(pause, lambda: self._resume(pause))

    def _resume(self, pause_s: float) -> None:
        self.flush()
        self._paused, self._probing = False, True
        self._emit(f"limit {self.limit.current}: resuming after a {pause_s:.0f} s pause, one probe first")
        self._dispatch()

    def _probe_passed(self, item: WorkItem) -> None:
        if self._probe == item and item in self._in_flight:  # still in flight: it was let in
            self._probing, self._probe = False, None
            self._dispatch()

    def _emit(self, message: str) -> None:
        self._ctx.emit(EventKind.LIMIT, message)

    def _after(self, simulated_s: float, callback: Callable[[], None]) -> None:
        def fire() -> None:
            self._timers.discard(timer)
            callback()

        timer = self._loop.call_later(self._ctx.clock.to_wall(simulated_s), fire)
        self._timers.add(timer)


@dataclass(frozen=True)
class Adaptive:
    """At most the limit in flight, the limit between 1 and ``size`` (module docstring)."""

    size: int = 16  # the largest the limit may grow to
    retry: RetryPolicy = RetryPolicy()
    heartbeat_s: float = 0.0
    rate_limit: float = 0.0
    initial: int = 4
    backoff: float = 0.5
    tolerance: float = 1.75
    warmup: int = 4
    short_window: int = 4
    probe_s: float = 1.0
    first_pause_s: float = 30.0  # before any success has given a duration
    max_pause_s: float = 240.0
    name: str = "adaptive"

    @property
    def first_limit(self) -> int:
        """The limit it starts at: ``initial``, at most ``size``."""
        return max(1, min(self.initial, self.size))

    def new_limit(self) -> AdaptiveLimit:
        return AdaptiveLimit(self.size, self.initial, self.backoff, self.tolerance, self.warmup, self.short_window)

    async def run(self, items: Sequence[WorkItem], ctx: RunContext) -> list[ItemOutcome]:
        gate = _Gate(self, ctx)
        ctx.gate = gate
        try:
            outcomes = await run_lanes(items, ctx, self.size, self.retry, self.heartbeat_s,
                                       lambda: f", limit {gate.limit.current}")
            gate.flush()
        finally:
            gate.close()
            ctx.gate = None
        return outcomes

    def planned_makespan_s(self, durations: Sequence[float]) -> float:
        """The same limit over items of these durations, with no faults: each start when a slot
        is free, in input order, and the limit told each success as the run tells it."""
        limit, pending = self.new_limit(), deque(durations)
        running: list[tuple[float, int, float, int]] = []  # end, admission number, start, level
        now, admissions = 0.0, 0
        while pending or running:
            while pending and len(running) < limit.current:
                admissions += 1
                heapq.heappush(running, (now + pending.popleft(), admissions, now, len(running) + 1))
            end, admitted, start, level = heapq.heappop(running)
            now = end
            limit.success(admitted, level, end - start, len(running) + 1, admissions)
        return now

    def mean_makespan_s(self, n_files: int, mean_duration_s: float,
                        expected_max_s: Callable[[int], float]) -> float | None:
        return None  # a limit that moves with the draws has no closed form


def limit_trace(events: Sequence[ProgressEvent], initial: int) -> list[tuple[float, int]]:
    """The limit over a run, from its ``limit`` events: (time, limit) from (0, ``initial``)."""
    trace = [(0.0, initial)]
    for event in events:
        match = _LIMIT_MESSAGE.match(event.message) if event.kind == EventKind.LIMIT else None
        if match is not None:
            trace.append((event.at_s, int(match[2] or match[1])))
    return trace
