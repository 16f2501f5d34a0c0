"""The calibrated profile as TOML text: the fits as the mock's distributions, the faults as its
probabilities, and comments that say where every number came from.

The file holds no ``seed`` and no ``time_scale``: those are a run's own (``--seed``, ``--time-scale``,
a scenario's top level), and a scenario's ``[server]`` refuses them. So the same file loads as
``run --profile FILE`` and as a scenario's ``[server] profile = "FILE"``, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from harness.calibrate.analyze import EndpointFit
from harness.calibrate.faults import FaultRate
from harness.calibrate.measure import Calibration


@dataclass(frozen=True)
class Outputs:
    """The files a calibration writes, beside each other: ``profile.toml``, ``profile.calls.csv``,
    ``profile.<endpoint>.csv`` per endpoint timed (``empirical(...)`` reads them) and
    ``profile.fit.png``."""

    profile: Path

    def durations_csv(self, endpoint: str) -> Path:
        return self.profile.with_name(f"{self.profile.stem}.{endpoint}.csv")

    @property
    def calls_csv(self) -> Path:
        return self.profile.with_name(f"{self.profile.stem}.calls.csv")

    @property
    def plot(self) -> Path:
        return self.profile.with_name(f"{self.profile.stem}.fit.png")

    def all(self, calibration: Calibration) -> list[Path]:
        timed = [fit.endpoint for fit in (*calibration.endpoints, calibration.error_latency)
                 if fit is not None and fit.durations]
        return [self.calls_csv, *(self.durations_csv(name) for name in timed), self.plot, self.profile]


def chosen_spec(fit: EndpointFit, choice: str, outputs: Outputs) -> str | None:
    """The distribution the profile gives an endpoint: its best fit, its lognormal fit (else the
    best), or its durations as ``empirical(...)``; None without durations."""
    if fit.best is None:
        return None
    if choice == "empirical":
        return f"empirical({outputs.durations_csv(fit.endpoint).name})"
    if choice == "lognormal" and fit.lognormal is not None:
        return fit.lognormal.spec
    return fit.best.spec


def profile_text(calibration: Calibration, choice: str, outputs: Outputs) -> str:
    lines = header(calibration, choice)
    if calibration.enterprise is not None:
        answered = "answered" if calibration.enterprise else "answered 404 (not an enterprise build)"
        lines += [f"# the simple API {answered}", f"enterprise = {str(calibration.enterprise).lower()}"]
    error = calibration.error_latency
    if error is not None and (spec := chosen_spec(error, choice, outputs)) is not None:
        lines += ["", *latency_comments(error, outputs), f'error_latency = "{spec}"']
    lines += ["", "[latency]"]
    for fit in calibration.endpoints:
        spec = chosen_spec(fit, choice, outputs)
        lines += [*latency_comments(fit, outputs), *(() if spec is None else (f'{fit.endpoint} = "{spec}"',))]
    for fit in calibration.endpoints:
        lines += fault_lines(fit)
    return "\n".join(lines) + "\n"


def header(calibration: Calibration, choice: str) -> list[str]:
    target, settings = calibration.target, calibration.settings
    what = (f"an onyx-bench mock at time scale {target.time_scale:g}: durations in its simulated seconds"
            if target.is_mock else "a real Onyx: real time, durations in seconds")
    source = ("as the mock drew them (x-mock-latency-s)" if calibration.source == "drawn"
              else "as measured, from each call's start to its last byte")
    folders = f" and {settings.folders} folders" if settings.folders else ""
    choose = {"best": "the best fit by AIC (lowest 2k - 2 ln L)", "lognormal": "the lognormal fit",
              "empirical": "the durations themselves, empirical(CSV)"}[choice]
    return [f"# Server profile written by onyx-bench calibrate {version('onyx-bench')} on {calibration.started_at}",
            f"# against {target.url}, {what}",
            f"# from {len(calibration.calls)} calls: {settings.files} files{folders} one after another, no retry, "
            f"{settings.pause_s:g} s between them, in {calibration.wall_s:.1f} s of wall time",
            f"# durations {source}; each endpoint's latency is {choose}, the other fits in its comments",
            *((f"# {calibration.timeouts_note}",) if calibration.timeouts_note else ()),
            "# No seed or time_scale: a run's own apply. Load it with run --profile FILE, or in a scenario as",
            '# [server] profile = "FILE" (sweep, tune).']


def latency_comments(fit: EndpointFit, outputs: Outputs) -> list[str]:
    """What the fit of one endpoint rests on, as comment lines: its calls and failures, the fits
    by AIC, the lognormal's intervals, the data's own median and p99, and the tail's caveat."""
    lines = [f"# {fit.endpoint}: {len(fit.durations)} of {fit.calls} calls timed; {_failures(fit)}"]
    if fit.best is None:
        return [*lines, "#   no latency to fit (left at the default)"]
    others = ", ".join(f"{f.family} {f.aic - fit.best.aic:+.1f}" for f in fit.fits[1:])
    lines.append(f"#   by AIC {fit.best.spec}" + (f" (AIC {fit.best.aic:.1f}; {others})" if others else "")
                 + f"; KS distance {fit.best.ks:.3f}")
    if fit.median_intervals:
        lognormal = fit.lognormal
        assert lognormal is not None
        lines.append(f"#   {lognormal.spec}: median 95% {' | '.join(i.text() for i in fit.median_intervals)}; "
                     f"p99 95% {' | '.join(i.text() for i in fit.p99_intervals)} (bootstrap | order statistics)")
        lines.append(f"#   data: median {fit.data_quantile(0.5):.4g} s, p99 {fit.data_quantile(0.99):.4g} s; "
                     f"durations: empirical({outputs.durations_csv(fit.endpoint).name})")
    if fit.tail_note:
        lines.append(f"#   {fit.tail_note}")
    return lines


def _failures(fit: EndpointFit) -> str:
    if not fit.faults:
        return f"none failed (95%: at most {_none_seen_upper(fit.calls):.2%} would)"
    return "; ".join(f"{rate.count} failed as {rate.kind} ({rate.observed:.2%}, 95% {_percent(rate)})"
                     + ("" if rate.probability is not None else ", not a fault the mock plays")
                     for rate in fit.faults)


def fault_lines(fit: EndpointFit) -> list[str]:
    """The ``[faults.<endpoint>]`` table, when a fault the mock plays was seen (the counts and
    intervals are in the endpoint's latency comments)."""
    played = [rate for rate in fit.faults if rate.probability is not None]
    if not played:
        return []
    return ["", f"[faults.{fit.endpoint}]", *(f"{rate.kind} = {rate.probability:.6g}" for rate in played)]


def _none_seen_upper(calls: int) -> float:
    from harness.calibrate.intervals import wilson

    high = wilson(0, calls).high
    assert high is not None
    return high


def _percent(rate: FaultRate) -> str:
    return f"{rate.share.low or 0:.2%}-{rate.share.high if rate.share.high is not None else 1:.2%}"
