"""What one request gets: its latency and its fault, drawn from the profile, keyed and reproducible.

The draw for ``(seed, endpoint, key, attempt)`` is fixed whatever else happens (see ``draws``), and
the latency draw does not depend on the fault settings, so adding faults to a profile leaves every
latency unchanged. The harness uses ``Behaviour`` directly to compute expected makespans.

Each fault kind has its own keyed uniform, also keyed by the kind's name, and fires when that
uniform is below the kind's probability; when several fire on one request, the first of them in
``FAULT_PRECEDENCE`` is the request's fault. So the order a profile writes its kinds in never
matters, raising kind A's probability only moves requests into A (from no fault, or from the kinds
A takes precedence over) and never between other kinds, and a fault sweep keeps its common random
numbers. The price: a request gets kind K with probability ``p_K`` times the chance that no kind
before K fires, e.g. ``http_500 = 0.05`` and ``reset = 0.05`` give 5% and 4.75% (0.05 * 0.95).
"""

from __future__ import annotations

from dataclasses import dataclass

from mock_onyx.draws import draw_prefix, prefixed_draw, unit_draw
from mock_onyx.endpoints import Endpoint, FaultKind
from mock_onyx.profile import Profile

# A stream fault strikes somewhere in the middle of the stream, never at its very ends.
FAULT_WINDOW = (0.1, 0.9)
# The key of requests rejected before they name anything (auth, validation).
REJECTION_KEY = "-"
# Which fault a request gets when several kinds fire on it: the first in this order (FaultKind's
# declaration order, written out so that reordering the enum cannot change any seed's faults).
FAULT_PRECEDENCE = (FaultKind.HTTP_500, FaultKind.HTTP_503, FaultKind.HTTP_429, FaultKind.RESET,
                    FaultKind.HANG, FaultKind.ERROR_PACKET, FaultKind.EMPTY_ANSWER,
                    FaultKind.MALFORMED)


@dataclass(frozen=True)
class Draw:
    """The fate of one request, in simulated seconds."""

    endpoint: Endpoint
    key: str
    attempt: int
    latency_s: float
    fault: FaultKind | None
    fault_at_s: float | None  # when a reset, error packet or truncated line happens (None: no fault)
    error_latency_s: float  # how long an error status takes to come back


class Behaviour:
    """Samples per-request latency and faults from a profile. Pure: no state, no clock."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._latency = {endpoint: profile.latency_of(endpoint) for endpoint in Endpoint}
        self._faults = {endpoint: _by_precedence(profile.faults_of(endpoint)) for endpoint in Endpoint}
        # the fixed leading parts of the two draws every request makes, joined once
        self._latency_prefix = {endpoint: draw_prefix(profile.seed, "latency", endpoint) for endpoint in Endpoint}
        self._error_prefix = {endpoint: draw_prefix(profile.seed, "error_latency", endpoint) for endpoint in Endpoint}
        # one fixed draw per endpoint: drawn once here, not on every rejected request
        self._rejection_latency = {endpoint: profile.error_latency.quantile(
            unit_draw(profile.seed, "error_latency", endpoint, REJECTION_KEY, 0)) for endpoint in Endpoint}

    def latency_s(self, endpoint: Endpoint, key: str, attempt: int = 1) -> float:
        return self._latency[endpoint].quantile(prefixed_draw(self._latency_prefix[endpoint], key, attempt))

    def fault(self, endpoint: Endpoint, key: str, attempt: int = 1) -> FaultKind | None:
        """The first kind in ``FAULT_PRECEDENCE`` whose own keyed uniform is below its probability."""
        for kind, probability in self._faults[endpoint]:
            if unit_draw(self.profile.seed, "fault", endpoint, key, attempt, kind) < probability:
                return kind
        return None

    def rejection_latency_s(self, endpoint: Endpoint) -> float:
        """How long a rejected request (403, 404, 422) takes: one fixed draw per endpoint."""
        return self._rejection_latency[endpoint]

    def draw(self, endpoint: Endpoint, key: str, attempt: int) -> Draw:
        seed = self.profile.seed
        latency = self.latency_s(endpoint, key, attempt)
        fault = self.fault(endpoint, key, attempt)
        fault_at_s = None
        if fault is not None:  # drawn only when used: the draw is keyed, so skipping it changes no other
            low, high = FAULT_WINDOW
            fault_at_s = latency * (low + (high - low) * unit_draw(seed, "fault_at", endpoint, key, attempt))
        error_u = prefixed_draw(self._error_prefix[endpoint], key, attempt)
        return Draw(endpoint=endpoint, key=key, attempt=attempt, latency_s=latency, fault=fault,
                    fault_at_s=fault_at_s, error_latency_s=self.profile.error_latency.quantile(error_u))


def _by_precedence(faults: dict[FaultKind, float]) -> tuple[tuple[FaultKind, float], ...]:
    return tuple((kind, faults[kind]) for kind in FAULT_PRECEDENCE if kind in faults)
