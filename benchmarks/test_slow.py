"""The long measurements, marked ``slow`` (``make bench-all`` runs them; ``make bench`` does not):
each run's ``harness_overhead_pct`` by time scale (was time_scale_error.py), the wall time of
``onyx-bench tune production`` (was tune_speed.py, goal 2 minutes on 2 cores), and the tune's
out-of-sample check (was tune_check.py; ``make tune-check``; a plain test: it asserts)."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.expected import call_latency_s
from harness.runner import RunConfig, run_once
from harness.store import TUNE, ResultsStore, load_runs
from harness.strategies import make_strategy
from harness.sweep import executor_for, plan_sweep, run_sweep
from harness.tune import Candidate, strategy_tables
from mock_onyx import Behaviour, Endpoint, profile_from_mapping
from scenarios import LoadedScenario, parse_scenario

pytestmark = pytest.mark.slow
SCRIPT = Path(sys.executable).with_name("onyx-bench")
SCALES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
CASES = (("sequential", None, 3), ("batch", 8, 10), ("batch", 8, 20), ("window", 8, 20))
SEEDS = 3


def _spin() -> None:
    while True:
        pass


@contextmanager
def other_core_busy(busy: bool) -> Iterator[None]:
    """A spinning process on the other core meanwhile, as a shared machine would have."""
    if not busy:
        yield
        return
    spinner = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
    spinner.start()
    try:
        yield
    finally:
        spinner.terminate()
        spinner.join()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("busy", [False, True], ids=["idle", "other-core-busy"])
@pytest.mark.parametrize("scale", SCALES)
def test_time_scale_error(benchmark, notes: list[str], scale: float, busy: bool) -> None:
    """Real runs' ``harness_overhead_pct`` at one time scale: mean and largest over 3 seeds per
    case, and the mean wall overhead per HTTP call, in extra_info (the README's table)."""
    benchmark.group = "time scale error" + (" (other core busy)" if busy else "")
    cells: dict[str, str] = {}
    overheads: list[float] = []

    async def measure() -> None:
        for kind, size, files in CASES:
            pcts = []
            for seed in range(1, SEEDS + 1):
                profile = profile_from_mapping({"seed": seed, "time_scale": scale}, "benchmark")
                result = await run_once(RunConfig(files=files, strategy=make_strategy(kind, size), profile=profile))
                pcts.append(result.summary.harness_overhead_pct or float("nan"))
                behaviour = Behaviour(profile)
                overheads.extend((row.end_s - row.start_s - call_latency_s(behaviour, Endpoint(row.endpoint), row.id))
                                 * scale for row in result.calls_frame().itertuples())
            name = f"{kind}{'' if size is None else f'-{size}'}@{files}"
            cells[name] = f"{statistics.fmean(pcts):+.2f}% ({max(pcts):+.2f})"
    with other_core_busy(busy), asyncio.Runner() as runner:
        benchmark.pedantic(lambda: runner.run(measure()), rounds=1)
    per_call = 1000 * statistics.fmean(overheads)
    benchmark.extra_info.update(cells, ms_per_call=per_call)
    notes.append(f"harness_overhead_pct at time scale {scale:<6g}{' (busy)' if busy else '       '}: "
                 + "  ".join(f"{name} {cell}" for name, cell in cells.items()) + f"  {per_call:.2f} ms/call")


@pytest.mark.timeout(600)
def test_tune_speed(benchmark, notes: list[str]) -> None:
    """``onyx-bench tune production --jobs 2``, its confirmation on sockets included (goal: 120 s)."""
    benchmark.group = "tune production (goal < 120 s)"
    answers = []

    def tune(out: str) -> None:
        done = subprocess.run([str(SCRIPT), "tune", "production", "--jobs", "2", "--out", out, "--json"],
                              capture_output=True, text=True, check=False)
        assert done.returncode in (0, 1), done.stderr
        answers.append(json.loads(done.stdout))
    with tempfile.TemporaryDirectory() as folder:
        benchmark.pedantic(tune, args=(f"{folder}/out",), rounds=1)
    answer = answers[0]
    best = answer["recommendation"]
    benchmark.extra_info.update(candidates=len(answer["candidates"]),
                                cases_per_round=[r["cases"] for r in answer["rounds"]],
                                recommended=best["label"] if best else answer["infeasible"])
    notes.append(f"onyx-bench tune production: {benchmark.stats.stats.max:.1f} s wall (goal < 120 s); "
                 f"{len(answer['candidates'])} candidates; recommended "
                 + (f"{best['label']}, {best['makespan_s_mean']:.1f} s mean at {best['files']} files" if best
                    else answer["infeasible"]))


HOLDOUT_SEED_OFFSET = 100


def _check(loaded: LoadedScenario, out: Path, jobs: int) -> bool:
    """Run the scenario (the recommendation alone) into ``out``; say whether it kept everything."""
    store = ResultsStore(out)
    start = time.perf_counter()
    run_sweep(plan_sweep(loaded, store, resume=False), store, executor_for(jobs))
    runs = load_runs(out)
    lost = int((runs["files_failed"] + runs["files_skipped"]).sum())
    crashes = int(runs["server_crashes"].fillna(0).sum())
    idle = int(runs["idle_timeout_hit"].sum())
    means = ", ".join(f"{files} files {group['makespan_s'].mean():.1f} s" for files, group in runs.groupby("files"))
    print(f"  {loaded.scenario.mode:<7} {len(runs):>3} runs ({loaded.scenario.repetitions} seeds x "
          f"{len(loaded.scenario.workload.files)} file counts, {time.perf_counter() - start:.0f} s wall): "
          f"{lost} files lost, {crashes} server crashes, {idle} idle timeouts; mean makespan {means}")
    return lost == crashes == idle == 0


@pytest.mark.timeout(1200)
def test_tune_check(tmp_path: Path) -> None:
    """The issue's check of ``tune``: its recommendation for ``production``, run 50 times on
    virtual time and 5 on sockets (time scale 0.05) at every file count, on seeds the tune never
    searched on (the scenario's seed + 100), loses no file, never crashes the server and never
    hits the idle timeout. ``ONYX_TUNE_DIR``: a finished tune's folder (default: run one)."""
    jobs = 2
    folder = Path(os.environ["ONYX_TUNE_DIR"]) if os.environ.get("ONYX_TUNE_DIR") else tmp_path / "tune"
    if not os.environ.get("ONYX_TUNE_DIR"):
        subprocess.run([str(SCRIPT), "tune", "production", "--jobs", str(jobs), "--out", str(folder), "--no-report"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    answer = json.loads((folder / TUNE).read_text())
    best = answer["recommendation"]
    assert best is not None, f"nothing to check: {answer['infeasible']}"
    candidate = Candidate.of(best["strategy"], best["size"], best["heartbeat_s"], best["retry"], best["rate_limit"])
    settings = answer["settings"]
    source = settings["scenario"]  # as the tune recorded it: its text, and where it was read
    folder_of = None if source.startswith("builtin:") else Path(source).resolve().parent
    base = parse_scenario(settings["scenario_text"], source, folder_of).with_overrides(
        seed=settings["seed"] + HOLDOUT_SEED_OFFSET, idle_timeout_s=settings["idle_timeout_s"],
        time_scale=settings["time_scale"], strategies=strategy_tables([candidate]))
    print(f"\nrecommended: {candidate.label}; seeds {base.scenario.seed * 1000} and up (never searched on)")
    kept = [_check(base.with_overrides(mode=mode, repetitions=reps), folder / f"check-{mode}", jobs)
            for mode, reps in (("virtual", 50), ("real", 5))]
    assert all(kept), "a run lost a file, crashed the server or hit the idle timeout (see above)"
