"""A 10,000-case sweep on virtual time through Dask (a LocalCluster of 2 worker processes, one
thread each, as ``--executor dask --jobs 2`` starts) against the local process pool (``--jobs 2``),
results written as a sweep writes them: cases per second side by side (goal: Dask at least 0.8x
local on one machine). Then the chunking rule (``harness.dask_executor.chunk_tasks``) against one
case per Dask task, without the store, and the share of the workers' time spent in cases."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client

from harness.dask_executor import CHUNK_S, DaskExecutor, chunk_tasks, local_cluster
from harness.store import ResultsStore, load_runs
from harness.sweep import CaseExecutor, ProcessExecutor, SweepPlan, plan_sweep, run_sweep
from scenarios import LoadedScenario, parse_scenario

pytestmark = pytest.mark.slow
JOBS = 2
SCENARIO = """
name = "dask-bench"
description = "10,000 short cases on virtual time: 1 and 2 files, 5 strategies, 1,000 repetitions"
seed = 7
repetitions = 1000
mode = "virtual"
[server.latency]
send_message = "uniform(15, 30)"
[workload]
files = [1, 2]
[[strategies]]
kind = "sequential"
[[strategies]]
kind = "batch"
size = [2, 3]
[[strategies]]
kind = "window"
size = [2, 3]
"""
CASES = 10_000
OVERHEAD_CASES = 2_000  # the chunking comparison: one case per task costs ~3 ms a task here


@pytest.fixture(scope="module")
def loaded() -> LoadedScenario:
    scenario = parse_scenario(SCENARIO, "dask-bench.toml", None)
    assert len(scenario.scenario.cases()) == CASES
    return scenario


def _sweep(loaded: LoadedScenario, out: Path, executor: CaseExecutor) -> float:
    """Wall seconds of the whole sweep, results written (``run_sweep``), as the command runs it."""
    store = ResultsStore(out)
    plan = plan_sweep(loaded, store, resume=False)
    start = time.perf_counter()
    failures = run_sweep(plan, store, executor)
    seconds = time.perf_counter() - start
    assert failures == [] and len(load_runs(out)) == CASES
    return seconds


@pytest.mark.timeout(600)
def test_local_pool_sweep(benchmark, figures: dict[str, float], notes: list[str], loaded: LoadedScenario,
                          tmp_path: Path) -> None:
    """The local process pool (its start included, as every sweep pays it)."""
    benchmark.group = "10,000 virtual cases, 2 workers"
    seconds = benchmark.pedantic(_sweep, args=(loaded, tmp_path / "local", ProcessExecutor(JOBS)), rounds=1)
    figures["local_cases_per_s"] = CASES / seconds
    notes.append(f"local pool, 2 processes: 10,000 virtual cases in {seconds:.1f} s, {CASES / seconds:,.0f} cases/s")


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Client, float]]:
    start = time.perf_counter()
    with local_cluster(JOBS) as started, Client(started) as client:
        yield client, time.perf_counter() - start


@pytest.mark.timeout(600)
def test_dask_sweep(benchmark, figures: dict[str, float], notes: list[str], loaded: LoadedScenario,
                    tmp_path: Path, cluster: tuple[Client, float]) -> None:
    """Dask on a LocalCluster of 2 worker processes: its start counted in the ratio (a command
    pays it once: a tune's later rounds do not), and without it."""
    benchmark.group = "10,000 virtual cases, 2 workers"
    client, start_s = cluster
    executor = DaskExecutor(client, "benchmark")
    seconds = benchmark.pedantic(_sweep, args=(loaded, tmp_path / "dask", executor), rounds=1)
    stats = executor.stats
    figures["dask_cases_per_s"] = CASES / (seconds + start_s)
    figures["dask_cases_per_s_cluster_up"] = CASES / seconds
    figures["dask_worker_busy_share"] = stats.busy_s / (seconds * JOBS)
    benchmark.extra_info.update(cluster_start_s=start_s, tasks=stats.tasks, busy_s=stats.busy_s)
    notes.append(f"dask LocalCluster, 2 processes: 10,000 virtual cases in {seconds:.1f} s + {start_s:.1f} s "
                 f"to start the cluster: {CASES / (seconds + start_s):,.0f} cases/s ({CASES / seconds:,.0f} with "
                 f"the cluster up); {stats.tasks} tasks of {CASES / stats.tasks:.0f} cases; workers busy "
                 f"{stats.busy_s / (seconds * JOBS):.0%} of the sweep")


def _executor_only(executor: DaskExecutor, plan: SweepPlan) -> float:
    """Cases through the executor alone (nothing written): wall seconds."""
    start = time.perf_counter()
    count = sum(1 for _ in executor.run(plan.tasks))
    assert count == len(plan.tasks)
    return time.perf_counter() - start


@pytest.mark.timeout(600)
@pytest.mark.parametrize("chunk_s", [CHUNK_S, 0.0], ids=["chunked", "one-case-per-task"])
def test_dask_scheduling_overhead(benchmark, figures: dict[str, float], notes: list[str], loaded: LoadedScenario,
                                  tmp_path: Path, cluster: tuple[Client, float], chunk_s: float) -> None:
    """2,000 of the cases through the executor alone: the chunking rule against a case per task;
    the share of the workers' time not spent in cases is what scheduling costs."""
    benchmark.group = "Dask scheduling overhead, 2,000 virtual cases, nothing written"
    few = loaded.with_overrides(repetitions=OVERHEAD_CASES // 10)
    plan = plan_sweep(few, ResultsStore(tmp_path / "plan"), resume=False)
    executor = DaskExecutor(cluster[0], "benchmark", chunk_s=chunk_s)
    seconds = benchmark.pedantic(_executor_only, args=(executor, plan), rounds=1)
    stats = executor.stats
    chunks = len(chunk_tasks(plan.tasks, JOBS, chunk_s))
    assert stats.cases == OVERHEAD_CASES and stats.tasks == chunks
    busy = stats.busy_s / (seconds * JOBS)
    name = "chunked" if chunk_s else "one_per_task"
    figures[f"dask_{name}_cases_per_s"] = OVERHEAD_CASES / seconds
    figures[f"dask_{name}_overhead_share"] = 1 - busy
    notes.append(f"dask, {name.replace('_', ' ')} ({chunks} tasks for 2,000 cases): {OVERHEAD_CASES / seconds:,.0f} "
                 f"cases/s, workers in cases {busy:.0%} of the time, {(seconds * JOBS - stats.busy_s) / chunks * 1000:.1f} "
                 f"ms of worker time per task outside its cases")
