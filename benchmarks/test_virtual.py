"""Virtual mode: a whole run of each strategy on the seed's workload (10 files, send_message
uniform(15, 30)), grouped for comparison; simulated seconds per wall second (goal: 3,000x for
batch 8 at 50 files); the client's CPU per file extraction; ``reproduce --no-cross-check``'s wall."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from harness.extractor import OnyxExtractor, Timeouts
from harness.outcomes import ItemKind, Status, WorkItem
from harness.runner import IN_PROCESS_URL, REAL_TIME, Mode, RunConfig, run_once
from harness.strategies import make_strategy
from harness.transports import harness_client
from mock_onyx import profile_from_mapping
from mock_onyx.clock import SimClock
from mock_onyx.inprocess import InProcessTransport
from mock_onyx.model import OnyxModel

STRATEGIES = (("sequential", None), ("batch", 8), ("window", 8), ("adaptive", 16))
SEED_PROFILE = profile_from_mapping({"seed": 0}, "benchmark")  # send_message uniform(15, 30)


def label(kind: str, size: int | None) -> str:
    return kind if size is None else f"{kind}={size}"


@pytest.mark.parametrize(("kind", "size"), STRATEGIES, ids=[label(k, s) for k, s in STRATEGIES])
def test_strategy_run(benchmark, virtual_runner: asyncio.Runner, kind: str, size: int | None) -> None:
    """A whole virtual run of one strategy over the seed's 10 files: wall time per run."""
    benchmark.group = "virtual run, 10 files (seed workload)"
    config = RunConfig(files=10, strategy=make_strategy(kind, size), profile=SEED_PROFILE, mode=Mode.VIRTUAL)
    result = benchmark(lambda: virtual_runner.run(run_once(config)))
    assert result.summary.files_ok == 10
    benchmark.extra_info["simulated_makespan_s"] = result.summary.makespan_s


@pytest.mark.parametrize(("kind", "size", "files"), [("sequential", None, 20), ("batch", 8, 50), ("window", 8, 50)],
                         ids=["sequential@20", "batch=8@50", "window=8@50"])
def test_virtual_speed(benchmark, virtual_runner: asyncio.Runner, figures: dict[str, float], kind: str, size: int | None, files: int) -> None:
    """Simulated seconds per wall second of one run (goal for batch 8 at 50 files: 3,000x)."""
    benchmark.group = "virtual speed"
    config = RunConfig(files=files, strategy=make_strategy(kind, size), profile=SEED_PROFILE, mode=Mode.VIRTUAL)
    result = benchmark.pedantic(lambda: virtual_runner.run(run_once(config)), rounds=10, warmup_rounds=1)
    speed = result.summary.makespan_s / benchmark.stats.stats.median
    benchmark.extra_info["simulated_s_per_wall_s"] = speed
    figures[f"virtual_speed_{kind}{size or ''}_{files}"] = speed


def test_extraction_cpu_per_file(benchmark, virtual_runner: asyncio.Runner, figures: dict[str, float]) -> None:
    """One file's extraction (indexing status, persona, chat session, streamed answer) through the
    harness client over the in-process mock on virtual time: the client stack's CPU per file (the
    in-process mock's share included; nothing sleeps on the wall clock)."""
    benchmark.group = "client CPU per file (virtual)"
    from contextlib import AsyncExitStack
    stack = AsyncExitStack()

    async def open_extractor() -> OnyxExtractor:  # on the benchmark's loop: SimClock reads it
        clock = SimClock(REAL_TIME, wake_early_s=0.0)
        transport = InProcessTransport(OnyxModel(SEED_PROFILE), clock)
        client, _ = await stack.enter_async_context(harness_client(IN_PROCESS_URL, transport=transport))
        return OnyxExtractor(client, clock, clock.now(), Timeouts())

    extractor = virtual_runner.run(open_extractor())
    try:
        ids = iter(range(1, 10**9))
        outcome = benchmark(lambda: virtual_runner.run(extractor.extract(WorkItem(ItemKind.FILE, next(ids)))))
        assert outcome.status is Status.OK, outcome
    finally:
        virtual_runner.run(stack.aclose())
    figures["virtual_cpu_per_file_s"] = benchmark.stats.stats.median


def test_reproduce_no_cross_check(benchmark) -> None:
    """``onyx-bench reproduce --mode virtual --reps 30 --no-cross-check --jobs 2``: the main job's
    table without its sockets cross-check (goal: under 15 s)."""
    benchmark.group = "reproduce (virtual, no cross-check)"
    script = Path(sys.executable).with_name("onyx-bench")

    def reproduce() -> None:
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run([str(script), "reproduce", "--mode", "virtual", "--reps", "30", "--no-cross-check",
                            "--jobs", "2", "--out", f"{folder}/out"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    benchmark.pedantic(reproduce, rounds=1)
    benchmark.extra_info["goal_s"] = 15.0
