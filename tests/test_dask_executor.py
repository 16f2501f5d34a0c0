"""Sweeps on Dask distributed (``--executor dask``, issue 15): one LocalCluster of 2 worker
processes for the module, made as the command makes its own (``harness.dask_executor.local_cluster``)
and given to the command as ``--scheduler``. The same results as the local executor; a worker killed
mid-case; SIGTERM during a sweep on a LocalCluster the command started; the one-line error without
Dask. Results are compared through the store's public load functions, on columns."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster

import harness.cli_progress
from harness.cli import main
from harness.dask_executor import DaskExecutor, local_cluster
from harness.store import ResultsStore, load_calls, load_failures, load_files, load_runs
from harness.sweep import InlineExecutor, plan_sweep, run_sweep
from scenarios import load_scenario, parse_scenario
from tests.test_scenarios import GOOD

# 24 cases on virtual time (1 and 4 files, 3 strategies, 4 repetitions), chats' latencies from a CSV
# beside the scenario
VIRTUAL = (GOOD.replace("time_scale = 0.004", 'mode = "virtual"').replace("repetitions = 2", "repetitions = 4")
           .replace('"uniform(15, 30)"', '"empirical(chats.csv)"'))
CASES = 24


def write_scenario(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chats.csv").write_text("seconds\n" + "\n".join(f"{15 + 0.37 * i:.2f}" for i in range(41)))
    (folder / "empirical.toml").write_text(VIRTUAL)
    return folder / "empirical.toml"


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[LocalCluster, Client]]:
    with local_cluster(2) as started, Client(started) as client:
        yield started, client


@pytest.fixture(scope="module")
def local_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scenario through the local executor (``--jobs 1``: each case in this process, as a
    worker of the local pool runs it): what Dask must give too."""
    folder = tmp_path_factory.mktemp("local")
    store = ResultsStore(folder / "out")
    assert run_sweep(plan_sweep(load_scenario(str(write_scenario(folder))), store, resume=False), store,
                     InlineExecutor()) == []
    return store.root


def _frame(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, ignore_index=True)[sorted(frame.columns)]


def assert_same_results(a: Path, b: Path) -> None:
    """The same cases, and per case the same files (latencies, statuses: every column)."""
    pd.testing.assert_frame_equal(_frame(load_runs(a), ["case_id"]), _frame(load_runs(b), ["case_id"]))
    pd.testing.assert_frame_equal(_frame(load_files(a), ["case_id", "kind", "id"]),
                                  _frame(load_files(b), ["case_id", "kind", "id"]))


def test_dask_gives_the_local_executors_results_and_its_workers_read_no_file(
        tmp_path: Path, cluster: tuple[LocalCluster, Client], local_results: Path) -> None:
    # the tasks carry the resolved profile, so the CSV is deleted before the Dask sweep runs (a
    # worker on another machine would not have it)
    scenario = write_scenario(tmp_path)
    store = ResultsStore(tmp_path / "dask")
    plan = plan_sweep(load_scenario(str(scenario)), store, resume=False)
    (tmp_path / "chats.csv").unlink()
    executor = DaskExecutor(cluster[1], "the module's cluster")
    assert run_sweep(plan, store, executor) == []
    assert executor.stats.cases == len(plan.tasks) == CASES and executor.stats.busy_s > 0
    assert 2 <= executor.stats.tasks < CASES  # chunks of virtual cases, spread over both workers
    assert_same_results(local_results, store.root)
    assert set(load_files(store.root)["status"]) == {"ok"}


def _kill_a_busy_worker(client: Client, killed: list[tuple[str, int, int]]) -> None:
    """Once: SIGKILL a worker process that holds a case (as the kernel's OOM killer would)."""
    if killed:
        return
    busy = {worker: keys for worker, keys in client.processing().items() if keys}
    worker = sorted(busy)[0]
    pid = client.run(os.getpid, workers=[worker])[worker]
    os.kill(pid, signal.SIGKILL)
    killed.append((worker, pid, len(busy[worker])))


def test_a_worker_killed_mid_case_costs_no_case_and_none_is_written_twice(
        tmp_path: Path, cluster: tuple[LocalCluster, Client]) -> None:
    # on sockets (time scale 0.004: a case is 0.3-0.5 s), one case per task; after the first case
    # is stored, both workers hold one: one of them is killed
    text = GOOD.replace("files = [1, 4]", "files = [4]").replace("size = [2, 3]", "size = [2]")
    loaded = parse_scenario(text, "kill.toml", None)
    store = ResultsStore(tmp_path / "killed")
    plan = plan_sweep(loaded, store, resume=False)
    client = cluster[1]
    before = set(client.nthreads())
    killed: list[tuple[str, int, int]] = []
    failures = run_sweep(plan, store, DaskExecutor(client, "the module's cluster"),
                         on_case=lambda case: _kill_a_busy_worker(client, killed))
    worker, pid, held = killed[0]
    assert held >= 1 and not psutil.pid_exists(pid) and worker in before
    runs, failed = load_runs(store.root), load_failures(store.root)
    # every case exactly once: run (its task given to the other worker), or reported with the reason
    ids = [*runs["case_id"], *([] if failed.empty else failed["case_id"])]
    assert sorted(ids) == sorted(case.case_id for case in loaded.scenario.cases()) and len(ids) == 4
    assert [f.reason for _, f in failures] == ([] if failed.empty else list(failed["error"] + ": " + failed["message"]))
    assert failed.empty or set(failed["error"]) == {"WorkerDied"}
    # what ran drew what the model draws for the same seeds: the same statuses and latencies as
    # the local executor gives these cases (on virtual time: the model itself, exact)
    straight = ResultsStore(tmp_path / "straight")
    run_sweep(plan_sweep(loaded.with_overrides(mode="virtual"), straight, resume=False), straight, InlineExecutor())
    ran = set(runs["case_id"])
    model_files, model_calls = load_files(straight.root), load_calls(straight.root)
    keys = ["case_id", "kind", "id"]
    assert_frame_columns_equal(load_files(store.root), model_files[model_files["case_id"].isin(ran)], keys,
                               ["status", "attempts", "chat_tries"])
    assert_frame_columns_equal(load_calls(store.root), model_calls[model_calls["case_id"].isin(ran)],
                               ["case_id", "endpoint", "kind", "id"], ["status_code", "drawn_latency_s"])


def assert_frame_columns_equal(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], columns: list[str]) -> None:
    pd.testing.assert_frame_equal(a.sort_values(keys, ignore_index=True)[keys + columns],
                                  b.sort_values(keys, ignore_index=True)[keys + columns])


def test_sigterm_during_a_dask_sweep_keeps_what_finished_and_leaves_no_worker_and_resumes(
        tmp_path: Path, cluster: tuple[LocalCluster, Client], local_results: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # --executor dask alone: the command starts a LocalCluster of --jobs 1 worker process; SIGTERM
    # arrives (from this process, in the sweep) when the first case is stored
    scenario = write_scenario(tmp_path)
    before = {child.pid for child in psutil.Process().children(recursive=True)}  # the module's cluster's
    started: list[int] = []
    advance = harness.cli_progress.Progress.advance

    def terminate_at_the_first_case(self: harness.cli_progress.Progress, count: int = 1) -> None:
        advance(self, count)
        if not started:
            started.extend(p.pid for p in psutil.Process().children(recursive=True) if p.pid not in before)
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(harness.cli_progress.Progress, "advance", terminate_at_the_first_case)
    out = tmp_path / "out"
    args = ["sweep", str(scenario), "--executor", "dask", "--jobs", "1", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 143, result.output
    kept = len(load_runs(out))
    assert 1 <= kept < CASES
    assert result.stderr.rstrip().splitlines()[-1] == (
        f"terminated: {kept} of {CASES} cases kept in {out}; to finish them: onyx-bench sweep {scenario} "
        f"--executor dask --jobs 1 --out {out} --resume")
    # the LocalCluster's worker process is gone with the command
    assert started and not [pid for pid in started if psutil.pid_exists(pid)]
    monkeypatch.undo()
    resume = CliRunner().invoke(main, ["sweep", str(scenario), "--executor", "dask", "--scheduler",
                                       cluster[0].scheduler_address, "--out", str(out), "--resume"])
    assert resume.exit_code == 0, resume.output
    assert f"{kept} already done, {CASES - kept} to run on the Dask cluster of" in resume.stderr
    assert_same_results(local_results, out)


def test_without_dask_the_flag_is_one_line_saying_how_to_install_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` raises ImportError
    monkeypatch.delitem(sys.modules, "harness.dask_executor")
    scenario = write_scenario(tmp_path)
    for command in (["sweep", str(scenario)], ["tune", str(scenario), "--no-confirm"]):
        result = CliRunner().invoke(main, [*command, "--executor", "dask", "--out", str(tmp_path / "out")])
        assert result.exit_code == 2, result.output
        assert result.stderr == ("onyx-bench: error: --executor dask: needs Dask distributed, which is not "
                                 "installed here; fix: pip install 'onyx-bench[dask]', or drop --executor dask\n")
        assert not (tmp_path / "out").exists()
