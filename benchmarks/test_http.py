"""Over loopback sockets: the mock's requests per second at zero latency against a bare aiohttp
handler returning the same bytes (each server in its own process, its CPU read from /proc: goal
at least 0.7); the harness client's CPU per call against a bare aiohttp client (goal: at most 2x);
the real-mode overhead per call of a run; the client stack at N in flight (was client_stack.py);
the CLI's start-up (was cli_startup.py)."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import httpx
import pytest
import yarl

from harness.expected import call_latency_s
from harness.runner import GC_PAUSE, RunConfig, run_once
from harness.strategies import make_strategy
from harness.transports import TransportKind, harness_client
from mock_onyx import Behaviour, Endpoint, profile_from_mapping, running_server

IN_FLIGHT = 100  # concurrent requests per round
Call = Callable[[], Awaitable[object]]


async def bare_session(stack: AsyncExitStack, url: str) -> Call:
    session = await stack.enter_async_context(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
    parsed = yarl.URL(url)  # parsed once, as the extractor parses its fixed URLs

    async def call() -> object:
        async with session.get(parsed) as response:
            return await response.read()
    return call


async def harness_session(stack: AsyncExitStack, base_url: str, url: str,
                          kind: TransportKind = TransportKind.AIOHTTP) -> Call:
    client, _ = await stack.enter_async_context(harness_client(base_url, kind))
    parsed = httpx.URL(url)

    async def call() -> object:
        return (await client.get(parsed)).content
    return call


async def burst(call: Call, n: int = IN_FLIGHT) -> None:
    await asyncio.gather(*(call() for _ in range(n)))


ALTERNATIONS = 30  # rounds; each sends BURSTS bursts to the mock, then BURSTS to the bare handler
BURSTS = 6


def test_server_requests_per_second(benchmark, real_runner: asyncio.Runner, servers, figures, notes) -> None:
    """100 concurrent GET /persona at zero latency from a bare aiohttp client, to the mock and to
    the bare handler in turn (600 requests each per round, 30 rounds): requests per second of each
    server process's own CPU (user + system, /proc), so the client's cost is not in it. Alternating
    the two within every round puts whatever else the machine does on both alike; measured one
    after the other, their ratio swung by 30% between runs on this shared machine."""
    benchmark.group = "server: 100 concurrent zero-latency GET /persona, mock and bare in turn"
    stack = AsyncExitStack()
    calls = {name: real_runner.run(bare_session(stack, f"{servers[name].url}/persona")) for name in ("mock", "bare")}
    cpu = dict.fromkeys(calls, 0.0)
    try:
        for call in calls.values():
            real_runner.run(burst(call))  # open the connections first

        def round_() -> None:
            for name, call in calls.items():
                before = servers[name].cpu_s()
                for _ in range(BURSTS):
                    real_runner.run(burst(call))
                cpu[name] += servers[name].cpu_s() - before
        benchmark.pedantic(round_, rounds=ALTERNATIONS, warmup_rounds=1)
    finally:
        real_runner.run(stack.aclose())
    sent = (ALTERNATIONS + 1) * BURSTS * IN_FLIGHT  # the warm-up round is counted in cpu too
    for name in calls:
        per_request_us = 1e6 * cpu[name] / sent
        benchmark.extra_info[f"{name}_cpu_us_per_request"] = per_request_us
        figures[f"{name}_rps"] = sent / cpu[name] if cpu[name] > 0 else float("inf")
        notes.append(f"server CPU per zero-latency GET /persona, {name:<4}: {per_request_us:6.1f} us "
                     f"({sent} requests, alternating with the other)")


def test_client_cpu_per_call(benchmark, real_runner: asyncio.Runner, servers, figures, notes) -> None:
    """100 concurrent zero-latency calls to the bare handler (its own process) through the harness's
    default client (httpx over aiohttp, in-flight counter included) and through a bare aiohttp
    client, in turn within every round (as the servers are): this process's CPU per call
    (time.process_time), the median over rounds. The garbage collector is paused during each
    measured half-round, as a real run pauses it (``harness.runner.GC_PAUSE``): with it running,
    whichever client ran after the other's garbage paid for collecting it."""
    benchmark.group = "client: CPU of 100 concurrent calls, harness and bare in turn"
    url = servers["bare"].url
    stack = AsyncExitStack()
    calls = {"harness": real_runner.run(harness_session(stack, url, f"{url}/persona")),
             "bare": real_runner.run(bare_session(stack, f"{url}/persona"))}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    try:
        for call in calls.values():
            real_runner.run(burst(call))

        def round_() -> None:
            for name, call in calls.items():
                with GC_PAUSE.held():  # as in a real run (harness.runner); collected before, not during
                    start = time.process_time()
                    for _ in range(BURSTS):
                        real_runner.run(burst(call))
                    cpu[name].append((time.process_time() - start) / (BURSTS * IN_FLIGHT))
        benchmark.pedantic(round_, rounds=ALTERNATIONS, warmup_rounds=1)
    finally:
        real_runner.run(stack.aclose())
    for name in calls:
        per_call = statistics.median(cpu[name])
        benchmark.extra_info[f"{name}_cpu_us_per_call"] = 1e6 * per_call
        figures[f"{name}_cpu_per_call"] = per_call
        notes.append(f"client CPU per call, 100 in flight, {name:<7}: {1e6 * per_call:6.1f} us "
                     f"(median of {ALTERNATIONS} rounds, alternating with the other)")


CALL_S = 0.1
LABELS = {"bare": "aiohttp (bare)", TransportKind.AIOHTTP: "httpx over aiohttp", TransportKind.HTTPX: "httpx (stock)"}


@pytest.mark.parametrize("in_flight", [8, 50, 100])
@pytest.mark.parametrize("client", list(LABELS), ids=[str(k) for k in LABELS])
def test_client_stack(benchmark, real_runner: asyncio.Runner, notes: list[str], client, in_flight: int) -> None:
    """N concurrent 100 ms calls to the mock (in this process, as runs embed it) through each
    client stack: the wall time of a round (extra over 100 ms in extra_info)."""
    benchmark.group = f"client stack: {in_flight} concurrent 100 ms calls"
    profile = profile_from_mapping({"time_scale": 1.0, "latency": {"persona": f"fixed({CALL_S})"},
                                    "error_latency": "fixed(0)"}, "benchmark")
    stack = AsyncExitStack()

    async def open_() -> Call:
        server = await stack.enter_async_context(running_server(profile))
        url = f"{server.url}/persona"
        return await (bare_session(stack, url) if client == "bare" else harness_session(stack, server.url, url, client))
    call = real_runner.run(open_())
    try:
        real_runner.run(burst(call, in_flight))
        benchmark.pedantic(lambda: real_runner.run(burst(call, in_flight)), rounds=7)
    finally:
        real_runner.run(stack.aclose())
    extra = (benchmark.stats.stats.median - CALL_S) * 1000
    benchmark.extra_info["extra_ms_median"] = extra
    notes.append(f"client stack, {in_flight:>3} concurrent 100 ms calls, {LABELS[client]:<18}: "
                 f"{extra:7.1f} ms over 100 ms (median of 7)")


def test_real_overhead_per_call(benchmark, figures, notes: list[str]) -> None:
    """A real run (batch 8 over 10 files, time scale 0.05, embedded mock): the wall time each HTTP
    call took beyond what the mock drew for it (mean over the run's calls, in extra_info)."""
    benchmark.group = "real mode: overhead per call"
    profile = profile_from_mapping({"seed": 1, "time_scale": 0.05}, "benchmark")
    behaviour = Behaviour(profile)
    config = RunConfig(files=10, strategy=make_strategy("batch", 8), profile=profile)
    overheads: list[float] = []
    pcts: list[float] = []

    def run() -> None:
        result = asyncio.run(run_once(config))  # one loop per run, as the CLI runs it (a run is ~2 s)
        pcts.append(result.summary.harness_overhead_pct or float("nan"))
        overheads.extend((row.end_s - row.start_s - call_latency_s(behaviour, Endpoint(row.endpoint), row.id))
                         * profile.time_scale for row in result.calls_frame().itertuples())
    benchmark.pedantic(run, rounds=3)
    benchmark.extra_info.update(overhead_ms_per_call=1000 * statistics.fmean(overheads),
                                harness_overhead_pct=statistics.fmean(pcts))
    figures["real_overhead_ms_per_call"] = 1000 * statistics.fmean(overheads)
    notes.append(f"real mode, batch 8 over 10 files at time scale 0.05: {1000 * statistics.fmean(overheads):.2f} ms "
                 f"wall overhead per call, harness_overhead_pct {statistics.fmean(pcts):+.2f}% (mean of 3 runs)")


SCRIPT = Path(sys.executable).with_name("onyx-bench")


@pytest.mark.parametrize("command", [[sys.executable, "-c", "pass"], [str(SCRIPT), "--help"],
                                     [str(SCRIPT), "serve", "--help"]],
                         ids=["python -c pass", "onyx-bench --help", "onyx-bench serve --help"])
def test_cli_startup(benchmark, command: list[str]) -> None:
    """The CLI's start-up (goal: under 0.3 s), next to a bare interpreter's."""
    benchmark.group = "CLI start-up (goal < 0.3 s)"
    benchmark.pedantic(lambda: subprocess.run(command, stdout=subprocess.DEVNULL, check=True), rounds=7)
