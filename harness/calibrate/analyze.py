"""From a calibration run's calls to a fit per endpoint: durations, fits, intervals, faults.

Which calls are timed: a call answered 2xx that did not fail (``error_kind`` empty) is one draw of
its endpoint's latency. A faulted call is not (its duration is the fault's: a cut stream, a
timeout), nor an error reply (4xx, 5xx): those are timed apart, as the profile's one
``error_latency``, and only when durations are measured (the mock tells the latency it drew for a
reply, not its error delay).

Which duration: ``measured`` is the call's end minus its start on the run's clock, in simulated
seconds (wall seconds against a real Onyx); ``drawn`` is what a mock says it drew for the call
(``x-mock-latency-s``). Against a mock, time is compressed, and the harness's own wall time per
call (about a millisecond) reads as that divided by the time scale: 2 simulated seconds at 0.0005.
So against a mock the drawn latencies are the server's own time, and the measured ones are kept
beside them (``overhead_s``: their difference), as a check of what a real server's would carry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.calibrate.faults import FaultRate, fault_of, fault_rates
from harness.calibrate.fit import Fit, fit_all
from harness.calibrate.intervals import (
    TAIL_CALLS,
    Interval,
    bootstrap_lognormal,
    calls_to_bound,
    order_statistic_interval,
)
from mock_onyx.endpoints import Endpoint, FaultKind

ERROR_LATENCY = "error_latency"


@dataclass(frozen=True)
class EndpointFit:
    endpoint: str  # an Endpoint, or "error_latency": every error reply's
    calls: int
    durations: tuple[float, ...]  # the timed calls', sorted
    fits: tuple[Fit, ...]  # best (lowest AIC) first; empty with no durations
    faults: tuple[FaultRate, ...]
    median_intervals: tuple[Interval, ...] = ()  # bootstrap of the lognormal, order statistics
    p99_intervals: tuple[Interval, ...] = ()
    tail_note: str | None = None  # why the p99 is the model's alone, or a warning: too few calls
    tail_warning: bool = False  # too few calls for a tail estimate at all

    @property
    def best(self) -> Fit | None:
        return self.fits[0] if self.fits else None

    @property
    def lognormal(self) -> Fit | None:
        return next((fit for fit in self.fits if fit.family == "lognormal"), None)

    def data_quantile(self, p: float) -> float:
        """The durations' p-quantile, interpolated as ``empirical(...)`` draws it."""
        return float(np.quantile(np.asarray(self.durations), p))


def call_durations(calls: pd.DataFrame, source: str) -> pd.Series:
    """Each call's duration in simulated seconds: measured (end - start) or as the mock drew it."""
    if source == "drawn":
        return calls["drawn_latency_s"].astype(float)
    return (calls["end_s"] - calls["start_s"]).astype(float)


def timed_calls(calls: pd.DataFrame, source: str) -> pd.Series:
    """Which calls are draws of their endpoint's latency (above)."""
    answered = calls["status_code"].between(200, 299) & calls["error_kind"].isna()
    return answered & call_durations(calls, source).notna()


def error_replies(calls: pd.DataFrame) -> pd.Series:
    return calls["status_code"].fillna(0) >= 400


def call_faults(calls: pd.DataFrame) -> list[FaultKind | str | None]:
    """Each call's fault as the mock would play it (``faults.fault_of``)."""
    return [fault_of(_text(kind), _status(code))
            for kind, code in zip(calls["error_kind"], calls["status_code"], strict=True)]


def analyze(calls: pd.DataFrame, source: str, seed: int) -> tuple[list[EndpointFit], EndpointFit | None]:
    """A fit per endpoint called (in ``Endpoint`` order) and the error replies' (measured only)."""
    durations = call_durations(calls, source)
    timed = timed_calls(calls, source)
    faults = pd.Series(call_faults(calls), index=calls.index, dtype=object)
    fits = []
    for endpoint in Endpoint:
        mine = calls["endpoint"] == endpoint
        if not mine.any():
            continue
        fits.append(endpoint_fit(str(endpoint), int(mine.sum()), durations[mine & timed].to_numpy(),
                                 fault_rates(list(faults[mine])), seed))
    errors = error_replies(calls)
    error_fit = None
    if source == "measured" and errors.any():
        error_fit = endpoint_fit(ERROR_LATENCY, int(errors.sum()), durations[errors].to_numpy(), [], seed)
    return fits, error_fit


def endpoint_fit(endpoint: str, calls: int, durations: np.ndarray, faults: list[FaultRate],
                 seed: int) -> EndpointFit:
    ordered = np.sort(durations.astype(float))
    fits = fit_all(ordered)
    base = EndpointFit(endpoint, calls, tuple(float(d) for d in ordered), tuple(fits), tuple(faults))
    if not fits or fits[0].family == "fixed" or not any(fit.family == "lognormal" for fit in fits):
        return base
    median_boot, p99_boot = bootstrap_lognormal(ordered, seed)
    warning, note = tail_note(endpoint, ordered.size)
    return EndpointFit(endpoint, calls, base.durations, base.fits, base.faults,
                       (median_boot, order_statistic_interval(ordered, 0.5)),
                       (p99_boot, order_statistic_interval(ordered, 0.99)), note, warning)


def tail_note(endpoint: str, n: int) -> tuple[bool, str | None]:
    """(a warning?, what to say of the p99 estimate from ``n`` timed calls)."""
    bound = calls_to_bound(0.99)
    if n < TAIL_CALLS:
        return True, (f"too few calls for a tail estimate: {n} timed {endpoint} calls expect "
                      f"{n / TAIL_CALLS:.1f} beyond the p99 ({TAIL_CALLS} expect one, {bound} bound it "
                      f"without a model); the p99 is the lognormal's extrapolation from the body of "
                      f"the data, only as good as that model")
    if n < bound:
        return False, (f"the p99's upper bound is the lognormal model's: {n} calls bound it only from "
                       f"below without a model ({bound} would bound it from above)")
    return False, None


def median_overhead_s(calls: pd.DataFrame) -> float | None:
    """Median of measured minus drawn over the calls a mock told its draw for (None: none did)."""
    both = calls.dropna(subset=["drawn_latency_s"])
    both = both[both["status_code"].between(200, 299) & both["error_kind"].isna()]
    if both.empty:
        return None
    return float(((both["end_s"] - both["start_s"]) - both["drawn_latency_s"]).median())


def _text(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _status(value: object) -> int | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)  # type: ignore[call-overload]
