"""Load, in numbers (issue 16): the mock holds 10,000 slow requests in flight on loopback with zero
errors, in bounded memory; a bounded queue sheds overload as 503s; and the harness runs 1,000 files
in one run in both modes without losing one.

The 10,000 requests: ``onyx-bench serve`` runs in a process of its own (its peak memory, VmHWM in
/proc/PID/status, is the server's alone) with ``persona`` taking a fixed 100 simulated seconds at
time scale 0.1 (10 s of wall time); one aiohttp client with no connection limit opens all of them
at once, each its own connection, under a time limit. Every request must be answered 200; the
mock's own stats must show all of them in flight at once; the wall time from the first request
started to the last answer read is set against the 10 s each one takes, and the overshoot is split
(an aiohttp trace per request): when each request's headers were written (the one client process
opening 10,000 connections: every connect comes before the first request goes out) and how late
its answer came after that plus its 10 s (what serving and answering 10,000 at once costs).

Each test prints one ``load:`` line with its numbers, past pytest's capture (``make reliability``
shows them).
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from harness.outcomes import Status
from harness.runner import Mode, RunConfig, RunResult, run_blocking
from harness.strategies import make_strategy
from mock_onyx import profile_from_mapping

REQUESTS = 10_000
# Simulated; at TIME_SCALE 10 s of wall time each: one client process takes 3-6 s (on 2 busy
# cores) to open 10,000 connections, and every request must still be in flight when the last arrives.
LATENCY_S = 100.0
SHED_LATENCY_S = 30.0  # the bounded queue's: 3 s a round of workers
TIME_SCALE = 0.1
TIME_LIMIT_S = 90.0  # the whole load, wall: the client gives up after this
PEAK_MB_GOAL = 500.0
DESCRIPTORS = REQUESTS + 512  # each process holds one socket per request, plus its own baseline
SERVER_START_S = 30.0
INDEX_HEADER = "x-load-index"  # which request a trace callback sees (the mock ignores the header)


def _report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\nload: {line}")


def _raise_descriptors(need: int) -> None:
    """As ``harness.limits`` does; the server process inherits the raised limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"{need} open files needed, the hard limit is {hard} (ulimit -Hn)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def _listen_overflows() -> int:
    """The kernel's count of connections a full listen queue turned away (machine-wide: TcpExt
    ListenOverflows in /proc/net/netstat); those come back only as the kernel retries, seconds later."""
    header, values = (line.split() for line in Path("/proc/net/netstat").read_text().splitlines()
                      if line.startswith("TcpExt:"))
    return int(values[header.index("ListenOverflows")])


@contextmanager
def _served(profile: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """``onyx-bench serve`` with ``profile`` in a process of its own: (its URL, its pid)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "load.toml"
        path.write_text(_toml(profile))
        command = [str(Path(sys.executable).parent / "onyx-bench"), "serve", "--profile", str(path)]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            url = _wait_for_url(server)
            yield url, server.pid
        finally:
            server.terminate()
            try:
                server.wait(timeout=SERVER_START_S)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            assert server.stdout is not None
            server.stdout.close()


def _wait_for_url(server: subprocess.Popen[str]) -> str:
    assert server.stdout is not None
    started = time.monotonic()
    for line in server.stdout:
        if "listening on " in line:
            return line.split("listening on ", 1)[1].split()[0]
        if time.monotonic() - started > SERVER_START_S:
            break
    raise RuntimeError(f"onyx-bench serve did not start (exit status {server.poll()})")


def _toml(profile: dict[str, Any]) -> str:
    lines = [f"time_scale = {profile['time_scale']}"]
    for table in ("latency", "capacity"):
        if table in profile:
            lines.append(f"[{table}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in profile[table].items()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Answer:
    outcome: str  # the status code, or the client error's type
    sent_s: float  # the request's headers written to its connection (its connection was up)
    answered_s: float  # its body read; both from the first request started


async def _drive(url: str, n: int) -> tuple[list[Answer], dict[str, Any]]:
    """``n`` GET /persona at once: each one's outcome and times, and the mock's stats after."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=TIME_LIMIT_S)
    tracing = aiohttp.TraceConfig()
    sent: dict[int, float] = {}

    async def on_headers_sent(_: aiohttp.ClientSession, __: Any, params: Any) -> None:
        if INDEX_HEADER in params.headers:  # not the stats' request
            sent[int(params.headers[INDEX_HEADER])] = time.perf_counter() - started

    tracing.on_request_headers_sent.append(on_headers_sent)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, trace_configs=[tracing]) as session:
        started = time.perf_counter()

        async def one(i: int) -> tuple[str, float]:
            try:
                async with session.get(f"{url}/persona", headers={INDEX_HEADER: str(i)}) as response:
                    await response.read()
                    return str(response.status), time.perf_counter() - started
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                return type(error).__name__, time.perf_counter() - started

        answers = await asyncio.gather(*(one(i) for i in range(n)))
        async with session.get(f"{url}/_mock/stats") as response:
            stats = await response.json()
    return [Answer(outcome, sent.get(i, float("nan")), at) for i, (outcome, at) in enumerate(answers)], stats


def _quantiles(values: list[float]) -> str:
    ordered = sorted(values)
    return "/".join(f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.2f}" for q in (0.0, 0.5, 0.99)) + \
        f"/{ordered[-1]:.2f}"


def test_the_mock_holds_10000_slow_requests_in_flight_with_no_error(capsys: pytest.CaptureFixture[str]) -> None:
    _raise_descriptors(DESCRIPTORS)
    profile = {"time_scale": TIME_SCALE, "latency": {"persona": f"fixed({LATENCY_S:g})"}}
    with _served(profile) as (url, pid):
        idle_kb = _status_kb(pid, "VmHWM")
        overflows = _listen_overflows()
        answers, stats = asyncio.run(_drive(url, REQUESTS))
        overflows = _listen_overflows() - overflows
        peak_kb = _status_kb(pid, "VmHWM")
    outcomes = Counter(a.outcome for a in answers)
    each_s = LATENCY_S * TIME_SCALE
    first_s, last_s = min(a.answered_s for a in answers), max(a.answered_s for a in answers)
    # The overshoot, split: when each request was on its connection (the client opening 10,000),
    # and how late its answer came after that plus its 10 s (the server's and the client's loops
    # busy with 10,000 sockets)
    late = [a.answered_s - a.sent_s - each_s for a in answers]
    _report(capsys, f"{REQUESTS} requests of {each_s:g} s wall each: {dict(outcomes)}; "
          f"server peak in flight {stats['peak_in_flight']['total']}; server peak memory "
          f"{peak_kb / 1024:.0f} MB (idle {idle_kb / 1024:.0f} MB); first answer {first_s:.2f} s, "
          f"last {last_s:.2f} s: +{last_s - each_s:.2f} s over {each_s:g} s; sent at (min/median/p99/max) "
          f"{_quantiles([a.sent_s for a in answers])} s, answered late by {_quantiles(late)} s; listen "
          f"queue overflows {overflows} (machine-wide)")
    assert outcomes == Counter({"200": REQUESTS})  # zero errors
    assert stats["requests"]["persona"] == {"200": REQUESTS}
    assert stats["peak_in_flight"]["total"] == REQUESTS  # all of them in flight at once
    assert peak_kb / 1024 < PEAK_MB_GOAL
    assert each_s <= first_s and last_s < TIME_LIMIT_S
    assert min(late) >= 0  # none answered before its latency


def test_a_bounded_queue_sheds_the_overload_as_503s_in_bounded_memory(capsys: pytest.CaptureFixture[str]) -> None:
    _raise_descriptors(DESCRIPTORS)
    capacity = {"workers": 1000, "queue_limit": 1000}
    profile = {"time_scale": TIME_SCALE, "latency": {"persona": f"fixed({SHED_LATENCY_S:g})"},
               "capacity": capacity}
    with _served(profile) as (url, pid):
        answers, stats = asyncio.run(_drive(url, REQUESTS))
        peak_kb = _status_kb(pid, "VmHWM")
    outcomes = Counter(a.outcome for a in answers)
    served, shed = outcomes["200"], outcomes["503"]
    round_s = SHED_LATENCY_S * TIME_SCALE
    # The last arrival at the server, bounded from above by what the client saw: a shed request is
    # answered on arrival, a served one at least a round after it
    arrived_by = max(max(a.answered_s for a in answers if a.outcome == "503"),
                     max(a.answered_s for a in answers if a.outcome == "200") - round_s)
    # and the first arrival bounded from below: no request reaches the server before it is sent
    first_sent = min(a.sent_s for a in answers)
    room = capacity["workers"] + capacity["queue_limit"]
    # Until the first request leaves, the first 2,000 to arrive are let in and the rest shed; a
    # worker frees a place at most once a round: by the last arrival, at most workers x
    # floor((arrived_by - first_sent) / round) more were let in. Both bounds are the model's, the
    # times measured.
    most = room + capacity["workers"] * math.floor((arrived_by - first_sent) / round_s)
    _report(capsys, f"{REQUESTS} requests at workers=1000, queue_limit=1000: {dict(outcomes)}; "
          f"server refused {stats['capacity']['refused']}, peak in flight "
          f"{stats['peak_in_flight']['total']}; peak memory {peak_kb / 1024:.0f} MB; last answer "
          f"{max(a.answered_s for a in answers):.2f} s; first sent {first_sent:.2f} s, all arrived by "
          f"{arrived_by:.2f} s: served "
          f"{served} in [{room}, {most}]")
    # Every request is answered, a 200 or a 503, none an error, and never more than workers plus
    # the queue in flight.
    assert outcomes == Counter({"200": served, "503": shed}) and shed > 0
    assert stats["capacity"]["refused"] == shed
    assert stats["peak_in_flight"]["total"] <= room
    assert room <= served <= most
    assert peak_kb / 1024 < PEAK_MB_GOAL


def _thousand_files(mode: Mode, time_scale: float) -> RunResult:
    profile = profile_from_mapping({"seed": 16, "time_scale": time_scale}, "load profile")
    return run_blocking(RunConfig(files=1000, strategy=make_strategy("window", 50), mode=mode,
                                  profile=profile))


@pytest.mark.parametrize(("mode", "time_scale"), [(Mode.VIRTUAL, 0.05), (Mode.REAL, 0.02)])
def test_the_harness_runs_1000_files_in_one_run_without_losing_one(
        mode: Mode, time_scale: float, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    result = _thousand_files(mode, time_scale)
    wall_s = time.perf_counter() - started
    s = result.summary
    ids = sorted(outcome.item.id for outcome in result.outcomes)
    _report(capsys, f"1000 files, window 50, {mode.value} (time scale {time_scale:g}): "
          f"ok {s.files_ok}, failed {s.files_failed}, skipped {s.files_skipped}; makespan "
          f"{s.makespan_s:.1f} s simulated (model {s.model_makespan_s or s.makespan_s:.1f} s), "
          f"wall {wall_s:.1f} s")
    assert ids == list(range(1, 1001))  # every file accounted for, once
    assert s.files_ok + s.files_failed + s.files_skipped == 1000
    assert s.files_ok == 1000 and all(o.status is Status.OK for o in result.outcomes)
