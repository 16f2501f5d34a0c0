"""The pytest-benchmark suite's fixtures, and the ratio table printed at the end of the run.

pytest-benchmark calls plain functions; it knows no event loop. Each benchmark gets ONE loop, an
``asyncio.Runner`` kept open for all its rounds (``virtual_runner``: a looptime loop, as
``harness.runner.run_blocking`` builds; ``real_runner``: the default loop), and times
``runner.run(coro())``: one ``run`` costs a few microseconds, a fresh loop per round costs far more
than some of the things measured. Async set-up (servers, clients) runs on the same runner first.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import looptime
import pytest

from harness.runner import VIRTUAL_NOOP_CYCLES

HERE = Path(__file__).resolve().parent

# name -> measured figure, filled by the benchmarks; the summary prints the ratios of pairs.
FIGURES: dict[str, float] = {}
# lines a benchmark wants shown after the run (a table of its own figures)
NOTES: list[str] = []
# (label, numerator, denominator, goal text, goal test); figures missing from the run show as "-".
RATIOS = (
    ("mock req/s / bare aiohttp handler req/s (server CPU)", "mock_rps", "bare_rps", ">= 0.7", lambda r: r >= 0.7),
    ("harness client CPU per call / bare aiohttp client's", "harness_cpu_per_call", "bare_cpu_per_call",
     "<= 2x", lambda r: r <= 2.0),
    ("virtual: simulated s per wall s, batch 8 at 50 files", "virtual_speed_batch8_50", None, ">= 3,000",
     lambda r: r >= 3000),
    ("dask cases/s / local cases/s", "dask_cases_per_s", "local_cases_per_s", ">= 0.8", lambda r: r >= 0.8),
    ("results store: load_runs of 100,000 cases, ms", "store_load_runs_100k_ms", None, "<= 2,000",
     lambda r: r <= 2000),
)


@pytest.fixture(scope="session")
def figures() -> dict[str, float]:
    """Where benchmarks put the figures the closing ratio table reads."""
    return FIGURES


@pytest.fixture(scope="session")
def notes() -> list[str]:
    """Lines printed after the run, under the ratio table."""
    return NOTES


@pytest.fixture
def virtual_runner() -> Iterator[asyncio.Runner]:
    """One looptime loop for the whole benchmark (every round runs on it)."""
    factory = partial(looptime.new_event_loop, start=0.0, noop_cycles=VIRTUAL_NOOP_CYCLES)
    with asyncio.Runner(loop_factory=factory) as runner:
        yield runner


@pytest.fixture
def real_runner() -> Iterator[asyncio.Runner]:
    """One ordinary loop for the whole benchmark."""
    with asyncio.Runner() as runner:
        yield runner


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerProcess:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, str(HERE / "servers.py"), *args],
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url:
            raise RuntimeError(f"benchmarks/servers.py {' '.join(args)} did not start")

    def cpu_s(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerProcess]]:
    """The mock (zero latency) and a bare aiohttp handler serving the mock's /persona bytes, each
    in its own process so that its CPU per request can be read from /proc."""
    import httpx
    mock = ServerProcess("mock")
    try:
        body = httpx.get(f"{mock.url}/persona").content
        path = tmp_path_factory.mktemp("bare") / "persona.json"
        path.write_bytes(body)
        bare = ServerProcess("bare", str(path))
        try:
            yield {"mock": mock, "bare": bare}
        finally:
            bare.stop()
    finally:
        mock.stop()


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    write = terminalreporter.write_line
    if NOTES:
        terminalreporter.section("onyx-bench figures")
        for line in NOTES:
            write(line)
    if not FIGURES:
        return
    terminalreporter.section("onyx-bench ratios (printed, not asserted: the machine is shared)")
    write(f"{'ratio':<56} {'measured':>10} {'goal':>9}")
    for label, top, bottom, goal, met in RATIOS:
        if top not in FIGURES or (bottom is not None and bottom not in FIGURES):
            write(f"{label:<56} {'-':>10} {goal:>9}  (not measured in this run)")
            continue
        value = FIGURES[top] / (FIGURES[bottom] if bottom else 1.0)
        shown = f"{value:,.0f}" if bottom is None else f"{value:.2f}"
        write(f"{label:<56} {shown:>10} {goal:>9}  {'ok' if met(value) else 'MISSED'}")
    for name in sorted(FIGURES):
        write(f"  {name} = {FIGURES[name]:,.6g}")
