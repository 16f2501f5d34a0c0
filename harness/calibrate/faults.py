"""The harness's error kinds per call, read back as the mock's fault probabilities.

Each failed call is mapped to the fault kind that makes the mock fail a call that way:

    http_status 500, other 5xx -> http_500       reset        -> reset
    http_status 502, 503, 504  -> http_503       timeout      -> hang (no answer in time)
    rate_limited (429)         -> http_429       malformed    -> malformed
    error_packet               -> error_packet   empty_answer -> empty_answer

Everything else is not a fault the mock can play, and is counted as such: a 4xx rejection (bad
credentials, a missing file: the client's doing), a refused connection (a server that is down:
capacity's crash and restart, ``mock_onyx.capacity``), a transport error or the harness's own.

The mock gives each kind its own chance on every request, and the first that fires in
``FAULT_PRECEDENCE`` is the fault, so kind K is observed with probability p_K times the chance
that no kind before it fires, which is 1 minus the observed shares of the kinds before it:
p_K = share_K / (1 - sum of the shares before K). That inverts the observed shares exactly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from harness.calibrate.intervals import Interval, wilson
from mock_onyx.behaviour import FAULT_PRECEDENCE
from mock_onyx.endpoints import FaultKind

_BY_ERROR_KIND = {"rate_limited": FaultKind.HTTP_429, "reset": FaultKind.RESET, "timeout": FaultKind.HANG,
                  "malformed": FaultKind.MALFORMED, "error_packet": FaultKind.ERROR_PACKET,
                  "empty_answer": FaultKind.EMPTY_ANSWER}
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class FaultRate:
    kind: str  # a FaultKind, or for what is not one, the harness's error kind (and status)
    count: int
    calls: int
    share: Interval  # the observed share's 95% interval
    probability: float | None  # the profile's p_K (None: not a fault the mock plays)

    @property
    def observed(self) -> float:
        return self.count / self.calls


def fault_of(error_kind: str | None, status_code: int | None) -> FaultKind | str | None:
    """The mock's fault kind for a call's outcome; None for a call that did not fail; a string
    naming the outcome for a failure the mock does not play."""
    if error_kind is None:
        return None
    if error_kind == "http_status" and status_code is not None and status_code >= 500:
        return FaultKind.HTTP_503 if status_code in UNAVAILABLE_STATUSES else FaultKind.HTTP_500
    if error_kind in _BY_ERROR_KIND:
        return _BY_ERROR_KIND[error_kind]
    return f"{error_kind} {status_code}" if status_code is not None else error_kind


def fault_rates(outcomes: list[FaultKind | str | None]) -> list[FaultRate]:
    """One endpoint's calls (each call's ``fault_of``) as fault rates, the mock's kinds in
    precedence order and then the rest; p_K by the inversion above, or the observed shares when
    the inverted probabilities would sum past 1 (which the profile refuses)."""
    calls = len(outcomes)
    counts = Counter(kind for kind in outcomes if kind is not None)
    kinds = [kind for kind in FAULT_PRECEDENCE if counts[kind]]
    before, probabilities = 0.0, {}
    for kind in kinds:
        share = counts[kind] / calls
        probabilities[kind] = share / (1 - before) if before < 1 else 1.0
        before += share
    if sum(probabilities.values()) > 1:
        probabilities = {kind: counts[kind] / calls for kind in kinds}
    others = sorted(str(kind) for kind in counts if not isinstance(kind, FaultKind))
    return ([FaultRate(str(kind), counts[kind], calls, wilson(counts[kind], calls), probabilities[kind])
             for kind in kinds]
            + [FaultRate(kind, counts[kind], calls, wilson(counts[kind], calls), None) for kind in others])
