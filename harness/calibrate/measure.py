"""Measure a target gently, through the harness's one extractor and runner, and fit what it did.

The run is ``sequential`` over files 1..N and folders 1..M with no retry, and a pause between one
item's end and the next one's start (``Sequential.pause_s``: simulated seconds, which against a
real Onyx, at time scale 1, are wall seconds). So the server sees one call at a time, never the
load a study would put on it, and every call's latency and outcome is recorded as the runner
records any run's (``RunResult.calls_frame``). The run goes through the target session's capped
transport (``harness.call_plan``): a call past ``--max-calls`` is never sent, and is left out of
the fit (its item fails with a reason saying so).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

import pandas as pd

from harness.calibrate.analyze import (
    EndpointFit,
    analyze,
    call_faults,
    error_replies,
    median_overhead_s,
    timed_calls,
)
from harness.call_plan import NOT_SENT
from harness.extractor import Timeouts
from harness.modes import TransportKind
from harness.results import RunResult
from harness.target import ResolvedTarget, TargetSession
from mock_onyx.endpoints import Endpoint
from mock_onyx.errors import ConfigError

WALL_TIMEOUT_FLOOR_S = 0.05  # (``floored_timeouts``)


@dataclass(frozen=True)
class Settings:
    files: int
    folders: int = 0
    pause_s: float = 2.0
    source: str = "auto"  # auto: drawn against a mock that tells its draws, else measured
    seed: int = 0  # the bootstrap's
    transport: TransportKind = TransportKind.AIOHTTP


@dataclass(frozen=True, eq=False)
class Calibration:
    target: ResolvedTarget
    settings: Settings
    started_at: str  # UTC, ISO 8601, to the second
    wall_s: float
    source: str  # "drawn" or "measured": which durations were fitted
    # every call sent (``RunResult.calls_frame``), with ``measured_s``, ``timed`` (a latency draw),
    # ``error_reply`` (timed as error_latency when measured) and ``fault`` (the mock's kind)
    calls: pd.DataFrame = field(repr=False)
    endpoints: tuple[EndpointFit, ...]
    error_latency: EndpointFit | None
    enterprise: bool | None  # whether the simple API answered (None: it was never called)
    overhead_s: float | None  # median measured minus drawn duration per call (a mock's)
    items: dict[str, int]  # item outcomes: ok, failed, skipped
    held_back: int  # calls a cap kept from being sent
    timeouts: Timeouts = Timeouts()  # the extractor's, in simulated seconds (``floored_timeouts``)

    @property
    def timeouts_note(self) -> str | None:
        """What the timeout floor changed (``floored_timeouts``), if anything."""
        base = Timeouts()
        raised = [f"{f.name.removesuffix('_s').replace('_', ' ')} {getattr(self.timeouts, f.name):.3g} s "
                  f"(production's {getattr(base, f.name):g})" for f in fields(Timeouts)
                  if getattr(self.timeouts, f.name) != getattr(base, f.name)]
        if not raised:
            return None
        return (f"timeouts at least {WALL_TIMEOUT_FLOOR_S:g} s of wall time at time scale "
                f"{self.target.time_scale:g}: {', '.join(raised)}, so that this machine's hiccups do not read "
                f"as the server hanging")

    @property
    def warnings(self) -> list[str]:
        return [f"{fit.endpoint}: {fit.tail_note}" for fit in self.endpoints if fit.tail_warning]


def measure(session: TargetSession, settings: Settings,
            on_item_done: Callable[[int], None] | None = None) -> Calibration:
    """Run the calibration against ``session``'s target and fit what it recorded."""
    from harness.runner import RunConfig, run_blocking
    from harness.strategies import RetryPolicy, Sequential

    strategy = Sequential(retry=RetryPolicy.parse("none"), pause_s=settings.pause_s)
    config = RunConfig(files=settings.files, folders=settings.folders, strategy=strategy,
                       target=session.target.url, session=session, transport=settings.transport,
                       timeouts=floored_timeouts(session.target.time_scale), on_item_done=on_item_done)
    started, clock = datetime.now(UTC), time.perf_counter()
    result = run_blocking(config)
    calibration = fit_run(session.target, settings, result, started.isoformat(timespec="seconds"),
                          time.perf_counter() - clock)
    return dataclasses.replace(calibration, timeouts=config.timeouts)


def floored_timeouts(time_scale: float) -> Timeouts:
    """Production's timeouts, none shorter than ``WALL_TIMEOUT_FLOOR_S`` of wall time. Against a
    real Onyx (time scale 1) that changes nothing; against a mock at time scale 0.0005 it keeps
    a hiccup of this machine (a busy core) from reading as the server hanging: production's 10 s
    to create a chat session would be 5 ms of wall time, about 6 times the harness's own time per
    call. A mock that hangs (never answers) still times out."""
    base = Timeouts()
    return Timeouts(**{f.name: max(getattr(base, f.name), WALL_TIMEOUT_FLOOR_S / time_scale)
                       for f in fields(Timeouts)})


def fit_run(target: ResolvedTarget, settings: Settings, result: RunResult, started_at: str,
            wall_s: float) -> Calibration:
    calls, held_back = sent_calls(result)
    if calls.empty:
        raise ConfigError("--target", f"{target.url} was sent no call (every one held back by a cap)",
                          "raise --max-calls")
    source = latency_source(settings.source, target, calls)
    endpoints, error_latency = analyze(calls, source, settings.seed)
    faults = call_faults(calls)
    calls = calls.assign(measured_s=calls["end_s"] - calls["start_s"],
                         timed=timed_calls(calls, source),
                         error_reply=error_replies(calls),
                         fault=[None if f is None else str(f) for f in faults])
    return Calibration(target=target, settings=settings, started_at=started_at, wall_s=wall_s, source=source,
                       calls=calls, endpoints=tuple(endpoints), error_latency=error_latency,
                       enterprise=enterprise(calls),
                       overhead_s=median_overhead_s(calls) if target.is_mock else None,
                       items={"ok": result.summary.files_ok, "failed": result.summary.files_failed,
                              "skipped": result.summary.files_skipped},
                       held_back=held_back)


def sent_calls(result: RunResult) -> tuple[pd.DataFrame, int]:
    """Every call the target was sent, and the count of calls a cap held back: an item stopped by
    a cap ends on the call that was not sent (the extractor stops an item at its first failure)."""
    frame = result.calls_frame()
    held = [outcome.item for outcome in result.outcomes if NOT_SENT in outcome.reason and outcome.calls]
    if not held:
        return frame, 0
    last = frame.reset_index().groupby(["kind", "id"])["index"].max()
    drop = [last[(str(item.kind), item.id)] for item in held]
    return frame.drop(index=drop).reset_index(drop=True), len(drop)


def latency_source(asked: str, target: ResolvedTarget, calls: pd.DataFrame) -> str:
    """``drawn`` when asked for, or by default against a mock that told the draw of every call it
    answered; else ``measured``. Drawn durations from a target that tells none are refused."""
    answered = calls[calls["status_code"].between(200, 299) & calls["error_kind"].isna()]
    told = bool(len(answered)) and bool(answered["drawn_latency_s"].notna().all())
    if asked == "drawn" and not told:
        raise ConfigError("--latency-source drawn", f"{target.url} does not say what latency it drew "
                          "(only an onyx-bench mock does)", "use --latency-source measured (or auto)")
    if asked == "auto":
        return "drawn" if target.is_mock and told else "measured"
    return asked


def enterprise(calls: pd.DataFrame) -> bool | None:
    """Whether the target answered the simple API (an enterprise build), from its replies."""
    simple = calls[calls["endpoint"] == Endpoint.SIMPLE_API]["status_code"].dropna()
    if simple.empty:
        return None
    if (simple == 404).all():
        return False
    return bool(simple.between(200, 299).any())
