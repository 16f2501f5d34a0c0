"""What ``calibrate`` prints: the fit per endpoint with its intervals, the quantiles of the data
beside the fits', the faults, and the warnings; and the same as one JSON object."""

from __future__ import annotations

import math
from typing import Any

from harness.calibrate.analyze import EndpointFit
from harness.calibrate.fit import Fit
from harness.calibrate.intervals import Interval
from harness.calibrate.measure import Calibration

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)


def summary_lines(calibration: Calibration) -> list[str]:
    target, settings = calibration.target, calibration.settings
    what = (f"an onyx-bench mock, time scale {target.time_scale:g}, simulated seconds" if target.is_mock
            else "a real Onyx, real time")
    items = ", ".join(f"{count} {status}" for status, count in calibration.items.items() if count)
    lines = [f"calibrated {target.url} ({what}): {settings.files} files"
             + (f" + {settings.folders} folders" if settings.folders else "")
             + f" ({items}), {len(calibration.calls)} calls in {calibration.wall_s:.1f} s of wall time",
             f"durations: {_source_text(calibration)}"]
    if calibration.timeouts_note:
        lines.append(calibration.timeouts_note)
    if calibration.held_back:
        lines.append(f"{calibration.held_back} calls held back by --max-calls (not sent, not fitted)")
    rows = [_fit_row(fit) for fit in (*calibration.endpoints, *((calibration.error_latency,)
                                                                 if calibration.error_latency else ()))]
    header = ("endpoint", "calls", "timed", "fit (by AIC)", "median [95%: bootstrap | order stat.]",
              "p99 [95%: bootstrap | order stat.]")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        lines.append("  ".join(cell.rjust(width) if i in (1, 2) else cell.ljust(width)
                               for i, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip())
    for fit in calibration.endpoints:
        lines += quantile_lines(fit)
    lines += fault_summary(calibration.endpoints)
    return lines


def _source_text(calibration: Calibration) -> str:
    overhead = calibration.overhead_s
    if calibration.source == "drawn":
        text = "as the mock drew them (x-mock-latency-s)"
        if overhead is not None:
            wall_ms = overhead * calibration.target.time_scale * 1000
            text += (f"; measured ones run {overhead:.3g} s longer per call (median): the harness's own "
                     f"{wall_ms:.2g} ms of wall time, read at time scale {calibration.target.time_scale:g}")
        return text
    text = "as measured, each call from its start to its last byte"
    if overhead is not None:
        text += f" (the mock drew {overhead:.3g} s less per call, median: the harness's own time)"
    return text


def _fit_row(fit: EndpointFit) -> tuple[str, ...]:
    best = fit.best.spec if fit.best is not None else "-"
    median = p99 = "-"
    if fit.median_intervals:
        lognormal = fit.lognormal
        assert lognormal is not None
        median_value, p99_value = lognormal.distribution.quantile(0.5), lognormal.distribution.quantile(0.99)
        median = f"{median_value:.3g} s [{_intervals(fit.median_intervals)}]"
        p99 = f"{p99_value:.3g} s [{_intervals(fit.p99_intervals)}]"
    elif fit.best is not None:
        median = f"{fit.data_quantile(0.5):.3g} s"
    return fit.endpoint, str(fit.calls), str(len(fit.durations)), best, median, p99


def _intervals(intervals: tuple[Interval, ...]) -> str:
    return " | ".join(interval.text("") for interval in intervals)


def quantile_lines(fit: EndpointFit) -> list[str]:
    """The data's quantiles beside each fit's, for an endpoint with a spread to fit."""
    if not fit.median_intervals:
        return []
    labels = [f"{fit.endpoint} quantiles (s)", "  data", *(f"  {candidate.spec}" for candidate in fit.fits)]
    width = max(len(label) for label in labels) + 1
    rows = [labels[0].ljust(width) + "".join(f"{'p' + format(q * 100, 'g'):>10}" for q in QUANTILES),
            labels[1].ljust(width) + "".join(f"{fit.data_quantile(q):>10.3g}" for q in QUANTILES)]
    for label, candidate in zip(labels[2:], fit.fits, strict=True):
        rows.append(label.ljust(width) + "".join(f"{candidate.distribution.quantile(q):>10.3g}" for q in QUANTILES))
    return rows


def fault_summary(endpoints: tuple[EndpointFit, ...]) -> list[str]:
    seen = [(fit.endpoint, rate) for fit in endpoints for rate in fit.faults]
    if not seen:
        calls = sum(fit.calls for fit in endpoints)
        return [f"faults: none in {calls} calls"]
    return [f"faults: {endpoint} {rate.kind}: {rate.count} of {rate.calls} calls ({rate.observed:.1%}, 95% "
            f"{rate.share.low or 0:.1%}-{rate.share.high or 0:.1%})"
            + (f" -> {rate.kind} = {rate.probability:.3g}" if rate.probability is not None
               else ": not a fault the mock plays") for endpoint, rate in seen]


def to_json(calibration: Calibration, written: dict[str, str | None]) -> dict[str, Any]:
    target = calibration.target
    return {"target": target.url, "is_mock": target.is_mock, "time_scale": target.time_scale,
            "started_at": calibration.started_at, "wall_s": calibration.wall_s, "source": calibration.source,
            "overhead_s": calibration.overhead_s, "calls": len(calibration.calls), "items": calibration.items,
            "held_back": calibration.held_back, "enterprise": calibration.enterprise,
            "endpoints": {fit.endpoint: endpoint_json(fit) for fit in calibration.endpoints},
            "error_latency": None if calibration.error_latency is None else endpoint_json(calibration.error_latency),
            "warnings": calibration.warnings, **written}


def endpoint_json(fit: EndpointFit) -> dict[str, Any]:
    lognormal = fit.lognormal
    return {"calls": fit.calls, "timed": len(fit.durations),
            "best": None if fit.best is None else fit.best.spec,
            "fits": [_fit_json(candidate) for candidate in fit.fits],
            "lognormal": None if lognormal is None else lognormal.spec,
            "median_s": None if lognormal is None else lognormal.distribution.quantile(0.5),
            "p99_s": None if lognormal is None else lognormal.distribution.quantile(0.99),
            "data_median_s": fit.data_quantile(0.5) if fit.durations else None,
            "data_p99_s": fit.data_quantile(0.99) if fit.durations else None,
            "median_ci95": [_interval_json(i) for i in fit.median_intervals],
            "p99_ci95": [_interval_json(i) for i in fit.p99_intervals],
            "tail_note": fit.tail_note, "tail_warning": fit.tail_warning,
            "faults": [{"kind": r.kind, "count": r.count, "calls": r.calls, "share_ci95": _interval_json(r.share),
                        "probability": r.probability} for r in fit.faults]}


def _fit_json(candidate: Fit) -> dict[str, Any]:
    """A fit; a point mass's infinite likelihood (and AIC) as null: JSON has no infinity."""
    finite = math.isfinite(candidate.log_likelihood)
    return {"family": candidate.family, "spec": candidate.spec, "aic": candidate.aic if finite else None,
            "ks": candidate.ks, "log_likelihood": candidate.log_likelihood if finite else None}


def _interval_json(interval: Interval) -> dict[str, Any]:
    return {"low": interval.low, "high": interval.high, "method": interval.method}
