"""One run, end to end: a target (the mock embedded on an ephemeral loopback port, or a URL), one
strategy over N files and M folders through the extractor, measured on the simulated clock."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import looptime

from harness.cache import ContextCache
from harness.call_plan import CappedTransport
from harness.expected import closed_form_applies, expected_makespan_s, expected_mean_makespan_s
from harness.extractor import OnyxExtractor, Timeouts
from harness.frontend import Watched, run_watched
from harness.limits import ensure_descriptors, planned_in_flight
from harness.modes import Mode
from harness.overhead import overhead
from harness.outcomes import ItemKind, Status, WorkItem
from harness.progress import max_gap_s
from harness.results import RunResult, RunSummary, capacity_counts, count
from harness.strategies import Adaptive, RunContext, Strategy, limit_trace, start_limiter
from harness.target import TargetSession, redact
from harness.transports import Credentials, TransportKind, harness_client, make_transport
from mock_onyx import (
    ConfigError,
    OnyxBenchError,
    OnyxModel,
    Profile,
    SimClock,
    load_profile,
    running_server,
)
from mock_onyx.clock import SELECTOR_ROUNDING_S
from mock_onyx.inprocess import InProcessTransport
from mock_onyx.profile import profile_from_server
from mock_onyx.stats import RUN_HEADER

REAL_TIME = 1.0
IN_PROCESS_URL = "http://mock-onyx.in-process"
# Loop cycles looptime lets pass before it moves virtual time to the next timer: enough for
# a chain of awaits to schedule its own timers first; each one costs a few microseconds per jump.
VIRTUAL_NOOP_CYCLES = 0


@dataclass(frozen=True)
class RunConfig:
    files: int
    strategy: Strategy
    folders: int = 0
    profile: Profile = field(default_factory=load_profile)
    target: str | None = None  # None: start the mock embedded with ``profile``
    # The CLI's target, resolved and checked (``harness.target``): its credentials and caps. None
    # with a ``target``: the URL is used as given, with credentials from the environment, no caps.
    session: TargetSession | None = None
    transport: TransportKind = TransportKind.AIOHTTP
    timeouts: Timeouts = Timeouts()
    cache: ContextCache | None = None  # the seed's context cache, shared across runs
    mode: Mode = Mode.REAL
    # The frontend's idle timeout (simulated s): the run is dropped when no progress event comes
    # within it, from the start and then from each event (``harness.frontend``). None: never.
    idle_timeout_s: float | None = None
    # Told the number of items finished after each one (a progress display); never part of the
    # measurement: it runs on the loop between items, so it must return at once.
    on_item_done: Callable[[int], None] | None = field(default=None, compare=False)

    def items(self) -> list[WorkItem]:
        return ([WorkItem(ItemKind.FILE, i) for i in range(1, self.files + 1)]
                + [WorkItem(ItemKind.FOLDER, i) for i in range(1, self.folders + 1)])


@dataclass(frozen=True)
class _Target:
    url: str
    time_scale: float
    profile: Profile | None  # the mock's profile, when the target is a mock
    transport: httpx.AsyncBaseTransport | None = None  # in virtual mode: the in-process mock
    model: OnyxModel | None = None  # an embedded mock's (its stats are read from it)
    root: str = ""  # where a mock target serves /_mock/* ("": the client's base URL)


@asynccontextmanager
async def _target(config: RunConfig) -> AsyncIterator[_Target]:
    if config.mode is Mode.VIRTUAL:
        if config.target is not None:
            raise ConfigError("--target", "a running server cannot be run on virtual time",
                              "drop --target, or use --mode real")
        if not isinstance(asyncio.get_running_loop(), looptime.LoopTimeEventLoop):
            raise OnyxBenchError("virtual mode runs on a looptime loop: use harness.runner.run_blocking")
        clock = SimClock(REAL_TIME, wake_early_s=0.0)
        model = OnyxModel(config.profile)
        yield _Target(IN_PROCESS_URL, REAL_TIME, config.profile, InProcessTransport(model, clock), model)
        return
    if config.target is None:
        async with running_server(config.profile) as server:
            yield _Target(server.url, config.profile.time_scale, config.profile, model=server.model)
        return
    if config.session is not None:
        resolved = config.session.target
        yield _Target(resolved.url, resolved.time_scale, resolved.profile, root=resolved.root)
        return
    profile = await _remote_mock_profile(config.target)
    yield _Target(config.target.rstrip("/"), profile.time_scale if profile else REAL_TIME, profile)


async def _remote_mock_profile(url: str) -> Profile | None:
    """A target started with ``onyx-bench serve`` tells its profile; a real Onyx does not."""
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as client:
        try:
            response = await client.get("/_mock/profile")
        except httpx.HTTPError:
            return None
    if response.status_code != 200:
        return None
    # A server's profile: it may make this machine open no file it names (no --allow-outside-paths here).
    return profile_from_server(response.json(), f"{url}/_mock/profile")


async def run_once(config: RunConfig) -> RunResult:
    items = config.items()
    if config.mode is Mode.REAL:
        ensure_descriptors(planned_in_flight(config.strategy.name, config.strategy.size, config.files,
                                             config.folders), embedded=config.target is None)
    async with _target(config) as target:
        clock = SimClock(target.time_scale, wake_early_s=0.0 if config.mode is Mode.VIRTUAL
                         else SELECTOR_ROUNDING_S)
        session = config.session
        credentials = (session.credentials if session else Credentials.from_environment() if config.target
                       else Credentials())
        # Against a running server every request names this run: the mock counts attempts and
        # stats per run, so two identical runs against it draw the same latencies and faults.
        # An embedded mock serves this run alone and needs no label.
        run_id = uuid.uuid4().hex if config.target is not None else ""
        # Over sockets to a target, held to the session's caps (harness.call_plan)
        transport = (CappedTransport(make_transport(config.transport), session.max_in_flight, session.max_calls)
                     if session is not None and target.transport is None else target.transport)
        async with harness_client(target.url, config.transport, credentials, transport,
                                  headers={RUN_HEADER: run_id} if run_id else {}) as (client, counter):
            with GC_PAUSE.held() if config.mode is Mode.REAL else nullcontext():
                origin = clock.now()
                extractor = OnyxExtractor(client, clock, origin, config.timeouts)
                ctx = RunContext(clock=clock, origin_s=origin, extract=extractor.extract,
                                 total=len(items), on_item_done=config.on_item_done,
                                 seed=target.profile.seed if target.profile else 0,
                                 limiter=start_limiter(config.strategy.rate_limit, clock))
                cached = config.cache.get(items) if config.cache else None
                watched = (Watched(cached, None) if cached is not None
                           else await run_watched(config.strategy, items, ctx, config.idle_timeout_s))
                outcomes, dropped_at = watched.outcomes, watched.dropped_at_s
                makespan = ctx.now() if dropped_at is None else dropped_at
            if config.cache is not None and cached is None and dropped_at is None:
                config.cache.put(items, outcomes)
            stats = (await _mock_stats(client, run_id, target.model, target.root)
                     if target.profile is not None else None)
        if config.target is not None:  # a reason quoting a header or the server must not carry a secret
            outcomes = tuple(dataclasses.replace(o, reason=redact(o.reason)) for o in outcomes)
    expected = expected_mean = None
    file_ids = [item.id for item in items]
    # No closed form for a run cut short, or paced by a rate limit (it assumes neither).
    if (target.profile is not None and cached is None and dropped_at is None and not config.strategy.rate_limit
            and closed_form_applies(target.profile, file_ids, config.folders)):
        expected = expected_makespan_s(config.strategy, target.profile, file_ids)
        expected_mean = expected_mean_makespan_s(config.strategy, target.profile, config.files)
    model = await _model_makespan_s(config, target.profile, expected, makespan,
                                    replayable=cached is None)
    overhead_s, overhead_pct = overhead(makespan, model)
    # adaptive's limit over the run, from its events (what the frontend heard)
    limits = ([limit for _, limit in limit_trace(ctx.events, config.strategy.first_limit)]
              if isinstance(config.strategy, Adaptive) else None)
    summary = RunSummary(
        strategy=config.strategy.name, size=config.strategy.size, n_files=config.files,
        n_folders=config.folders, seed=target.profile.seed if target.profile else 0,
        time_scale=target.time_scale, mode=str(config.mode),
        transport="in-process" if target.transport else str(config.transport), makespan_s=makespan,
        files_ok=count(outcomes, Status.OK), files_failed=count(outcomes, Status.FAILED),
        files_skipped=count(outcomes, Status.SKIPPED),
        max_progress_gap_s=max_gap_s([e.at_s for e in ctx.events], makespan),
        idle_timeout_hit=dropped_at is not None, dropped_at_s=dropped_at,
        server_peak_inflight=None if stats is None else stats["peak_in_flight"]["total"],
        **capacity_counts(stats, outcomes),
        client_peak_inflight=counter.peak, expected_makespan_s=expected,
        expected_mean_makespan_s=expected_mean, model_makespan_s=model,
        harness_overhead_s=overhead_s, harness_overhead_pct=overhead_pct,
        heartbeat_s=config.strategy.heartbeat_s, retry=config.strategy.retry.text,
        rate_limit=config.strategy.rate_limit, idle_timeout_s=config.idle_timeout_s,
        peak_limit=max(limits) if limits else None, final_limit=limits[-1] if limits else None)
    return RunResult(summary, outcomes, tuple(ctx.events), stats)


async def _model_makespan_s(config: RunConfig, profile: Profile | None, expected: float | None,
                            makespan: float, replayable: bool) -> float | None:
    """What the behaviour model gives this run's draws (``harness.overhead``).

    The closed form where it applies (fault-free files: exact, and free). Otherwise a real-mode
    run against the embedded mock is replayed on virtual time: the same profile, seed, extractor
    and strategy, so the same latencies and faults, with no wall clock to add overhead. A virtual
    run is the model itself. A ``--target`` mock draws per run (``RUN_HEADER``), so its run is
    replayed from the profile it serves; a real Onyx has no model: None."""
    if expected is not None:
        return expected
    if config.mode is Mode.VIRTUAL:
        return makespan
    if profile is None or not replayable:
        return None
    replay = dataclasses.replace(config, mode=Mode.VIRTUAL, cache=None, target=None, session=None,
                                 profile=profile, on_item_done=None)
    # A thread of its own: a virtual-time loop cannot run inside this (real-time) one.
    result = await asyncio.to_thread(run_blocking, replay)
    return result.summary.makespan_s


class _GcPause:
    """Garbage collection held off while any real-mode run is measured, as ``timeit`` does: a
    full collection of a large heap stalls the event loop for tens of milliseconds, which a time
    scale of 0.05 reads as a second, and could even trip a timeout.

    The collector's switch is process-wide, and runs overlap (two clients sharing a server, a
    fixture, threads): so the first run in collects and switches it off, the last one out puts
    it back as the first found it, and no run collects while another is measured. Real mode
    only: on a virtual clock a pause costs no simulated time, and a full collection per run
    (~40 ms) would cost virtual mode more wall time than the run itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._restore = False

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._restore = gc.isenabled()
                gc.collect()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._restore:
                    gc.enable()


GC_PAUSE = _GcPause()


async def _mock_stats(client: httpx.AsyncClient, run_id: str, model: OnyxModel | None = None,
                      root: str = "") -> dict[str, Any] | None:
    """The mock's counters for this run alone: an embedded one's read from it (a crashed server
    refuses connections until it restarts), as the JSON that ``/_mock/stats`` would serve; a
    target's from its root (``root``: a mock behind a proxy serves its API under /api, not these)."""
    if model is not None:
        return json.loads(json.dumps(model.stats.snapshot(run_id)))
    try:
        response = await client.get(f"{root}/_mock/stats", params={"run": run_id} if run_id else None)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def run_blocking(config: RunConfig) -> RunResult:
    """Run ``config`` to completion on the loop its mode needs (virtual: a looptime loop)."""
    if config.mode is Mode.VIRTUAL:
        factory = partial(looptime.new_event_loop, start=0.0, noop_cycles=VIRTUAL_NOOP_CYCLES)
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(run_once(config))
    return asyncio.run(run_once(config))
