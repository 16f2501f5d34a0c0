"""Counters the mock keeps and serves at ``GET /_mock/stats``: requests, faults, in flight, attempts.

A client may label its requests with a run (the ``x-onyx-bench-run`` header, ``RUN_HEADER``):
each run then has counters of its own, and its attempts are counted apart, so two identical runs
against one server draw identical latencies and faults, even when their requests interleave.
``GET /_mock/stats?run=ID`` serves one run's counters; without ``run``, the server's lifetime
totals (attempts: those of unlabelled requests).

``capacity`` (``mock_onyx.capacity``): ``crashes`` (a run counts those that cut one of its
requests), ``cut_by_crash`` (requests in the server when it crashed: streams, replies not yet sent
and requests waiting for a worker), ``refused`` (requests that found the server down; over
sockets the closed listener refuses them before the server sees them, so only the in-process
transport counts them: a client counts its own; with ``queue_limit``, also the requests that
found the queue full and were answered 503, in both ways of serving), ``queue_waits`` (requests that found every
worker busy) and ``queue_wait_s`` (their simulated seconds of waiting, in total).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from mock_onyx.endpoints import Endpoint, FaultKind

RUN_HEADER = "x-onyx-bench-run"
UNLABELLED = ""


class _Counters:
    def __init__(self) -> None:
        self.requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.faults: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.attempts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.disconnects: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.in_flight_total = 0
        self.peak_total = 0
        self.crashes = 0
        self.cut_by_crash = 0
        self.refused = 0
        self.queue_waits = 0
        self.queue_wait_s = 0.0

    def enter(self, endpoint: Endpoint) -> None:
        self.in_flight[endpoint] += 1
        self.in_flight_total += 1
        self.peak[endpoint] = max(self.peak[endpoint], self.in_flight[endpoint])
        self.peak_total = max(self.peak_total, self.in_flight_total)

    def leave(self, endpoint: Endpoint) -> None:
        self.in_flight[endpoint] -= 1
        self.in_flight_total -= 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": {name: dict(counts) for name, counts in self.requests.items()},
            "faults": {name: dict(counts) for name, counts in self.faults.items()},
            "disconnects": dict(self.disconnects),
            "in_flight": {"total": self.in_flight_total,
                          "by_endpoint": {k: v for k, v in self.in_flight.items() if v}},
            "peak_in_flight": {"total": self.peak_total, "by_endpoint": dict(self.peak)},
            "attempts": {name: dict(counts) for name, counts in self.attempts.items()},
            "capacity": {"crashes": self.crashes, "cut_by_crash": self.cut_by_crash,
                         "refused": self.refused, "queue_waits": self.queue_waits,
                         "queue_wait_s": self.queue_wait_s},
        }


class ServerStats:
    """Mutable counters; every way of serving the model updates them through these methods,
    naming the run a request belongs to (``UNLABELLED`` for none)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._total = _Counters()
        self._total_only = (self._total,)
        self._runs: dict[str, _Counters] = {}

    def _run(self, run: str) -> _Counters:
        counters = self._runs.get(run)
        if counters is None:  # not setdefault: that would build a _Counters on every request
            counters = self._runs[run] = _Counters()
        return counters

    def _of(self, run: str) -> tuple[_Counters, ...]:
        return self._total_only if run == UNLABELLED else (self._total, self._run(run))

    def next_attempt(self, endpoint: Endpoint, key: str, run: str = UNLABELLED) -> int:
        """Count one more attempt of ``key`` at ``endpoint`` in ``run``; return its number (1, 2, ...)."""
        counters = self._run(run) if run else self._total
        counters.attempts[endpoint][key] += 1
        return counters.attempts[endpoint][key]

    def record(self, endpoint: Endpoint, status: int | None, fault: FaultKind | None,
               run: str = UNLABELLED) -> None:
        for counters in self._of(run):
            counters.requests[endpoint]["hang" if status is None else str(status)] += 1
            if fault is not None:
                counters.faults[endpoint][fault] += 1

    def record_disconnect(self, endpoint: Endpoint, run: str = UNLABELLED) -> None:
        """The client went away before its reply was complete (a timeout, a cancelled task)."""
        for counters in self._of(run):
            counters.disconnects[endpoint] += 1

    def record_crash(self, runs: Iterable[str]) -> None:
        """One crash, counted once in the totals and once in each run it cut a request of."""
        self._total.crashes += 1
        for run in set(runs) - {UNLABELLED}:
            self._run(run).crashes += 1

    def record_cut_by_crash(self, run: str = UNLABELLED) -> None:
        for counters in self._of(run):
            counters.cut_by_crash += 1

    def record_refused(self, run: str = UNLABELLED) -> None:
        for counters in self._of(run):
            counters.refused += 1

    def record_queue_wait(self, wait_s: float, run: str = UNLABELLED) -> None:
        for counters in self._of(run):
            counters.queue_waits += 1
            counters.queue_wait_s += wait_s

    def enter(self, endpoint: Endpoint, run: str = UNLABELLED) -> None:
        """A request is in flight from its arrival (``enter``) until its reply has ended (``leave``)."""
        for counters in self._of(run):
            counters.enter(endpoint)

    def leave(self, endpoint: Endpoint, run: str = UNLABELLED) -> None:
        for counters in self._of(run):
            counters.leave(endpoint)

    def snapshot(self, run: str | None = None) -> dict[str, Any]:
        if run is None or run == UNLABELLED:
            return self._total.snapshot()
        return self._runs.get(run, _Counters()).snapshot()
