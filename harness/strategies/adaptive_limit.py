"""The arithmetic of ``adaptive``'s concurrency limit: what a success or a drop does to it.

No clock, no I/O and no randomness: the caller numbers its admissions (1, 2, ...) and passes
every duration (simulated seconds) and count, so the same outcomes give the same limits, in a run
and in ``Adaptive.planned_makespan_s`` alike. Attempts are told apart by their admission number,
not by time: many are admitted, cut and refused at one simulated instant.
The algorithm and why its defaults are what they are: ``harness.strategies.adaptive``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from harness.outcomes import ErrorKind, ItemOutcome, Status

# What a loaded server does to an attempt: a stream cut, a connection refused, no answer in time,
# a 429 (and, under HTTP_STATUS, a 5xx). Not an error packet or an empty answer: the server
# answered, and backing off would not help.
DROP_KINDS = frozenset({ErrorKind.RESET, ErrorKind.REFUSED, ErrorKind.TIMEOUT, ErrorKind.RATE_LIMITED})
# The extractor's chat calls (``harness.extractor``): what loads the server, and what a crash cuts.
CHAT_ENDPOINTS = frozenset({"send_message", "simple_api"})
# Chats beginning this close together began at one instant (two admitted at once reach their chat
# together; on sockets a few milliseconds of wall time apart, under 0.1 s at time scale 0.05).
SAME_INSTANT_S = 0.1


def is_drop(outcome: ItemOutcome) -> bool:
    """Whether an attempt failed as an overloaded server makes it fail (module comment above)."""
    if outcome.status is not Status.FAILED:
        return False
    if outcome.error_kind in DROP_KINDS:
        return True
    return outcome.error_kind is ErrorKind.HTTP_STATUS and any(
        (call.status_code or 0) >= 500 for call in outcome.calls if call.error_kind is not None)


def chat_start_s(outcome: ItemOutcome) -> float | None:
    """When the chat the attempt failed in began (None: it failed before its chat)."""
    last = outcome.calls[-1] if outcome.calls else None
    return last.start_s if last is not None and last.endpoint in CHAT_ENDPOINTS else None


def crash_ceiling(chat_starts: list[float]) -> int:
    """The most chats the server held, from when the chats a crash cut began: a crash comes as
    a chat begins, so those that began before the last ones were held (chats beginning within
    ``SAME_INSTANT_S`` of the last count as the last: they are the ones that broke it). If all
    began at once, one less than them."""
    last = max(chat_starts)
    held = sum(1 for start in chat_starts if start < last - SAME_INSTANT_S)
    return max(1, held if held else len(chat_starts) - 1)


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@dataclass(frozen=True)
class LimitChange:
    old: int
    new: int
    message: str  # "limit 7 -> 3", "limit 3 -> 4 after 3 successes", "limit 8 -> 5: latency ..."


@dataclass
class AdaptiveLimit:
    """The limit, between 1 and ``maximum``: ``success`` and ``drop`` return the change the
    frontend should hear of, if any. An attempt is named by its admission number and how many
    were in flight when it was admitted (``level``, itself included); ``admissions`` is the
    number of the latest admission."""

    maximum: int
    initial: int = 4
    backoff: float = 0.5
    tolerance: float = 1.75
    warmup: int = 4
    short_window: int = 4
    limit: float = field(init=False)
    ceiling: int = field(init=False)  # one less than the fewest in flight that broke the server
    slow_start: bool = field(init=False, default=True)  # until the first decrease
    decreased_at: int = field(init=False, default=0)  # admissions at the last decrease (or refusal)
    successes: int = field(init=False, default=0)  # since the last change
    baseline: list[float] = field(init=False, default_factory=list)  # durations at low concurrency
    warmup_levels: list[int] = field(init=False, default_factory=list)
    baseline_level: int | None = field(init=False, default=None)  # "low": the warmup's highest level
    recent: deque[float] = field(init=False)  # the short window
    srtt: float | None = field(init=False, default=None)  # RFC 6298's smoothed duration ...
    rttvar: float = field(init=False, default=0.0)  # ... and its mean deviation

    def __post_init__(self) -> None:
        self.limit = float(max(1, min(self.initial, self.maximum)))
        self.ceiling = self.maximum
        self.recent = deque(maxlen=self.short_window)

    @property
    def current(self) -> int:
        return int(self.limit)

    def pause_s(self, before_any_s: float) -> float:
        """A retransmission timeout (RFC 6298): SRTT + 4 RTTVAR of successful attempts' durations,
        or ``before_any_s`` while there is none."""
        return before_any_s if self.srtt is None else self.srtt + 4.0 * self.rttvar

    def success(self, admitted: int, level: int, duration_s: float, in_flight: int,
                admissions: int) -> LimitChange | None:
        """Attempt ``admitted``, admitted with ``level`` in flight, succeeded after
        ``duration_s``, leaving with ``in_flight`` in flight (itself included)."""
        self._smooth(duration_s)
        self._observe_baseline(duration_s, level)
        if admitted <= self.decreased_at:
            return None  # admitted before the last decrease: it tells nothing of the limit since
        if level <= self.limit:  # admitted within the limit as it is, not among those draining
            self.recent.append(duration_s)
        self.successes += 1
        if len(self.recent) == self.short_window and len(self.baseline) >= self.warmup:
            short, base = sum(self.recent) / len(self.recent), sum(self.baseline) / len(self.baseline)
            if short > self.tolerance * base:
                gradient = max(0.5, self.tolerance * base / short)
                return self._decrease(self.limit * gradient, admissions, f": latency {short:.1f} s over "
                                      f"{self.tolerance:g} x the {base:.1f} s baseline")
        if in_flight * 2 < self.limit:
            return None  # app-limited: too few items left to use a larger limit
        old = self.current
        self.limit = min(float(self.ceiling), self.limit + (1.0 if self.slow_start else 1.0 / self.limit))
        return self._changed(old, f" after {plural(self.successes, 'success', 'successes')}")

    def drop(self, admitted: int, in_flight: int, admissions: int, refused: bool = False) -> LimitChange | None:
        """Attempt ``admitted`` dropped with ``in_flight`` in flight (itself included): the
        change when this starts a new burst, else None (it was admitted before the last
        decrease: the same burst). A refusal changes neither the limit nor the ceiling: it says
        the server is down (the pause waits that out), not how much it takes."""
        if admitted <= self.decreased_at:
            return None
        old = self.current
        if refused:
            self.decreased_at = admissions  # a burst all the same: attempts admitted before it are in it
        else:
            self.ceiling = max(1, min(self.ceiling, in_flight - 1))
            self._decrease(min(self.limit * self.backoff, self.ceiling), admissions, "")
        self.successes = 0
        return LimitChange(old, self.current, f"limit {old} -> {self.current}")

    def held_at_most(self, chats: int) -> None:
        """A crash showed the server holds at most ``chats`` chats (``crash_ceiling``)."""
        self.ceiling = max(1, min(self.ceiling, chats))
        self.limit = min(self.limit, float(self.ceiling))

    def _decrease(self, limit: float, admissions: int, why: str) -> LimitChange | None:
        old = self.current
        self.limit = max(1.0, float(math.floor(limit)))
        self.slow_start = False
        self.decreased_at = admissions
        self.recent.clear()
        return self._changed(old, why)

    def _changed(self, old: int, why: str) -> LimitChange | None:
        if self.current == old:
            return None
        self.successes = 0
        return LimitChange(old, self.current, f"limit {old} -> {self.current}{why}")

    def _smooth(self, duration_s: float) -> None:
        if self.srtt is None:
            self.srtt, self.rttvar = duration_s, duration_s / 2.0
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - duration_s)
            self.srtt = 0.875 * self.srtt + 0.125 * duration_s

    def _observe_baseline(self, duration_s: float, level: int) -> None:
        """The first ``warmup`` successes, then any that ran as few in flight as they did."""
        if self.baseline_level is None:
            self.baseline.append(duration_s)
            self.warmup_levels.append(level)
            if len(self.baseline) >= self.warmup:
                self.baseline_level = max(self.warmup_levels)
        elif level <= self.baseline_level:
            self.baseline.append(duration_s)
