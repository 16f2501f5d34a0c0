"""Counters the mock keeps and serves at ``GET /_mock/stats``: requests, faults, in flight, attempts."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mock_onyx.endpoints import Endpoint, FaultKind


class ServerStats:
    """Mutable counters; every way of serving the model updates them through these methods."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._faults: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._attempts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._disconnects: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()
        self._peak: Counter[str] = Counter()
        self._in_flight_total = 0
        self._peak_total = 0

    def next_attempt(self, endpoint: Endpoint, key: str) -> int:
        """Count one more attempt of ``key`` at ``endpoint``; return its number (1, 2, ...)."""
        self._attempts[endpoint][key] += 1
        return self._attempts[endpoint][key]

    def record(self, endpoint: Endpoint, status: int | None, fault: FaultKind | None) -> None:
        self._requests[endpoint]["hang" if status is None else str(status)] += 1
        if fault is not None:
            self._faults[endpoint][fault] += 1

    def record_disconnect(self, endpoint: Endpoint) -> None:
        """The client went away before its reply was complete (a timeout, a cancelled task)."""
        self._disconnects[endpoint] += 1

    @contextmanager
    def in_flight(self, endpoint: Endpoint) -> Iterator[None]:
        """Count a request as in flight from its arrival until its reply has ended."""
        self._in_flight[endpoint] += 1
        self._in_flight_total += 1
        self._peak[endpoint] = max(self._peak[endpoint], self._in_flight[endpoint])
        self._peak_total = max(self._peak_total, self._in_flight_total)
        try:
            yield
        finally:
            self._in_flight[endpoint] -= 1
            self._in_flight_total -= 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": {name: dict(counts) for name, counts in self._requests.items()},
            "faults": {name: dict(counts) for name, counts in self._faults.items()},
            "disconnects": dict(self._disconnects),
            "in_flight": {"total": self._in_flight_total,
                          "by_endpoint": {k: v for k, v in self._in_flight.items() if v}},
            "peak_in_flight": {"total": self._peak_total, "by_endpoint": dict(self._peak)},
            "attempts": {name: dict(counts) for name, counts in self._attempts.items()},
        }
