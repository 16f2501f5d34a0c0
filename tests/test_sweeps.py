"""Sweeps: every built-in scenario runs, results are stored atomically, and interrupted sweeps
resume to the same results without running a case twice."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
import harness.sweep
from harness.store import (
    CHUNK_SECONDS_VARIABLE,
    CaseFailure,
    ResultsStore,
    load_calls,
    load_failures,
    load_files,
    load_manifest,
    load_runs,
)
from harness.sweep import (
    CaseTask,
    InlineExecutor,
    ProcessExecutor,
    plan_sweep,
    run_case_recording_failure,
    run_sweep,
)
from reports.seed_table import frame_to_markdown, seed_table_frames, seed_table_rows
from scenarios import builtin_names, load_scenario, parse_scenario
from tests.conftest import Background
from tests.processes import default_sigint
from tests.test_scenarios import GOOD

SCRIPT = Path(sys.executable).with_name("onyx-bench")


def test_no_built_in_scenario_is_missed() -> None:
    shipped = [p.name for p in (resources.files("scenarios") / "builtin").iterdir() if p.name.endswith(".toml")]
    assert sorted(n.removesuffix(".toml") for n in shipped) == builtin_names()
    assert len(builtin_names()) >= 3


@pytest.mark.parametrize("name", builtin_names())
def test_every_built_in_scenario_runs_at_a_tiny_scale(tmp_path: Path, name: str) -> None:
    loaded = load_scenario(name).with_overrides(repetitions=1, time_scale=0.004,
                                                workload={"files": [3]})
    store = ResultsStore(tmp_path / name)
    plan = plan_sweep(loaded, store, resume=False)
    run_sweep(plan, store, InlineExecutor())
    runs = load_runs(store.root)
    assert len(runs) == plan.total == len(loaded.scenario.cases())
    assert (runs["files_ok"] + runs["files_failed"] + runs["files_skipped"] == 3).all()
    assert len(load_files(store.root)) == 3 * plan.total
    manifest = load_manifest(store.root)
    assert manifest["scenario_name"] == name and manifest["format_version"] == 2
    assert manifest["overrides"]["repetitions"] == 1 and "scenario_text" in manifest


def test_a_results_dir_is_not_overwritten_without_resume(tmp_path: Path) -> None:
    text = GOOD.replace("time_scale = 0.004", 'mode = "virtual"')  # on virtual time: in a second
    loaded = parse_scenario(text, "tiny.toml", None)
    store = ResultsStore(tmp_path / "out")
    run_sweep(plan_sweep(loaded, store, resume=False), store, InlineExecutor())
    result = CliRunner().invoke(main, ["sweep", str(_write(tmp_path, text)), "--out", str(store.root)])
    assert result.exit_code == 2 and "already holds results" in result.stderr
    resumed = plan_sweep(loaded, store, resume=True)
    assert resumed.tasks == () and resumed.already_done == resumed.total
    other = parse_scenario(text.replace("seed = 3", "seed = 4"), "other.toml", None)
    with pytest.raises(Exception, match="different scenario"):
        plan_sweep(other, store, resume=True)


def _write(folder: Path, text: str) -> Path:
    path = folder / "scenario.toml"
    path.write_text(text)
    return path


def _snapshot(out: Path) -> dict[str, float]:
    """Each case on disk and the makespan its real run measured (no two runs measure the same)."""
    runs = load_runs(out)
    return dict(zip(runs["case_id"], runs["makespan_s"], strict=True))


def _stored_files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


# Chunks committed at least every 0.3 s, so that a sweep of cases that take a few hundred
# milliseconds commits some while it runs (the default, 10 s, is longer than the whole sweep).
CHUNKS_OF_A_FEW_CASES = {**os.environ, CHUNK_SECONDS_VARIABLE: "0.3"}


def _sweep_until(scenario: Path, out: Path, cases: int, signum: int, resume: bool) -> tuple[int, str]:
    args = [str(SCRIPT), "sweep", str(scenario), "--out", str(out), "--jobs", "2"]
    # Ctrl-C as a terminal delivers it, even when this test runs as a background job of a
    # non-interactive shell, which starts its children with SIGINT ignored.
    process = subprocess.Popen(args + (["--resume"] if resume else []), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint,
                               env=CHUNKS_OF_A_FEW_CASES)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if (out / "manifest.json").is_file() and len(ResultsStore(out).finished()) >= cases:
            break
        time.sleep(0.02)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    return process.returncode, stderr


@pytest.mark.slow
def test_interrupted_sweeps_resume_to_the_same_results(tmp_path: Path) -> None:
    # time scale 0.004 (GOOD's): at 0.002 a 10 s persona timeout is 20 ms of wall time, which a
    # loaded machine trips, and the two sweeps then differ by a lost file
    text = GOOD.replace("files = [1, 4]", "files = [1, 4, 6]").replace("repetitions = 2", "repetitions = 3")
    scenario = _write(tmp_path, text)
    total = len(parse_scenario(text, "t", None).scenario.cases())
    out = tmp_path / "interrupted"
    status, stderr = _sweep_until(scenario, out, 3, signal.SIGINT, resume=False)
    assert status == 130
    after_sigint = _snapshot(out)
    # the message gives the exact command that finishes the sweep
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"interrupted: {len(after_sigint)} of {total} cases kept in {out}; to finish them: ")
    resume_command = shlex.split(last.split("; to finish them: ", 1)[1])
    assert resume_command == [str(SCRIPT), "sweep", str(scenario), "--jobs", "2", "--out", str(out), "--resume"]
    assert 3 <= len(after_sigint) < total
    assert _sweep_until(scenario, out, len(after_sigint) + 3, signal.SIGKILL, resume=True)[0] == -9
    after_sigkill = _snapshot(out)
    assert len(after_sigkill) > len(after_sigint)
    finish = subprocess.run(resume_command, capture_output=True, text=True, timeout=120)
    assert finish.returncode == 0, finish.stderr
    final = _snapshot(out)
    assert len(final) == total
    # no case was run twice: what was stored before each resume is what it measured then
    assert all(final[case] == stamp for case, stamp in after_sigkill.items())
    # nothing half-written left, and the completed sweep is one chunk
    assert [re.sub(r"\d+", "N", name) for name in _stored_files(out)] == [
        "calls/part-N.parquet", "events/part-N.parquet", "files/part-N.parquet", "manifest.json", "runs/part-N.parquet"]
    # the same as a straight sweep: run in-process on virtual time (the model itself, no wall
    # clock), it gives every case's files and exact makespan for the same seeds
    straight = ResultsStore(tmp_path / "straight")
    loaded = parse_scenario(text, str(scenario), None).with_overrides(mode="virtual")
    run_sweep(plan_sweep(loaded, straight, resume=False), straight, InlineExecutor())
    a, b = load_runs(out), load_runs(straight.root)
    assert list(a["case_id"]) == list(b["case_id"])
    assert list(a["files_ok"]) == list(b["files_ok"])
    # the real runs' model makespans are the virtual runs' makespans (the closed form against
    # looptime's clock: within a millisecond); what each real run measured on top of them is its
    # own stated overhead
    assert list(a["model_makespan_s"]) == pytest.approx(list(b["makespan_s"]), abs=1e-3)
    overhead = a["makespan_s"] - a["model_makespan_s"]
    assert list(overhead) == pytest.approx(list(a["harness_overhead_s"]), abs=1e-5)


@pytest.mark.slow
def test_sigterm_is_handled_as_ctrl_c_and_the_sweep_resumes(tmp_path: Path) -> None:
    text = GOOD.replace("repetitions = 2", "repetitions = 1").replace("time_scale = 0.004", "time_scale = 0.002")
    scenario = _write(tmp_path, text)
    total = len(parse_scenario(text, "t", None).scenario.cases())
    out = tmp_path / "terminated"
    code, stderr = _sweep_until(scenario, out, 2, signal.SIGTERM, resume=False)
    assert code == 143, stderr
    kept = _snapshot(out)
    assert 2 <= len(kept) < total
    # what is on disk is exactly the cases the message counts, files and all; the workers ended cleanly
    assert set(load_files(out)["case_id"]) == set(kept) and "leaked semaphore" not in stderr
    assert stderr.rstrip().splitlines()[-1] == (f"terminated: {len(kept)} of {total} cases kept in {out}; "
                                                f"to finish them: {SCRIPT} sweep {scenario} --jobs 2 "
                                                f"--out {out} --resume")
    finish = CliRunner().invoke(main, ["sweep", str(scenario), "--out", str(out), "--jobs", "1", "--resume"])
    assert finish.exit_code == 0, finish.output
    final = _snapshot(out)
    assert len(final) == total and all(final[case] == stamp for case, stamp in kept.items())


FAILING_CASE = "f4-d0-batch-2-r0"


def _failing_for(case_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``run_case`` raises for one case (InlineExecutor calls it in this process)."""
    real_run_case = harness.sweep.run_case

    def run_case(task: CaseTask):  # type: ignore[no-untyped-def]
        if task.case.case_id == case_id:
            raise RuntimeError("the mock\nfell over")
        return real_run_case(task)

    monkeypatch.setattr(harness.sweep, "run_case", run_case)


def test_a_case_that_raises_is_recorded_as_failed_and_the_sweep_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = parse_scenario(GOOD, "tiny.toml", None).with_overrides(mode="virtual")
    store = ResultsStore(tmp_path / "out")
    _failing_for(FAILING_CASE, monkeypatch)
    failures = run_sweep(plan_sweep(loaded, store, resume=False), store, InlineExecutor())
    assert [(case.case_id, failure.reason) for case, failure in failures] == [
        (FAILING_CASE, "RuntimeError: the mock fell over")]
    every = {case.case_id for case in loaded.scenario.cases()}
    assert set(load_runs(store.root)["case_id"]) == store.finished() == every - {FAILING_CASE}
    failed = load_failures(store.root)
    assert list(failed["case_id"]) == [FAILING_CASE] and failed["error"][0] == "RuntimeError"
    assert failed["message"][0] == "the mock\nfell over" and "raise RuntimeError" in failed["traceback"][0]
    # --resume plans exactly the failed case again; its success removes the failure record
    monkeypatch.undo()
    resumed = plan_sweep(loaded, store, resume=True)
    assert [task.case.case_id for task in resumed.tasks] == [FAILING_CASE]
    assert run_sweep(resumed, store, InlineExecutor()) == []
    assert set(load_runs(store.root)["case_id"]) == every and load_failures(store.root).empty


def test_a_sweep_with_a_failed_case_names_it_and_exits_1_with_the_rest_stored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario, out = _write(tmp_path, GOOD), tmp_path / "out"
    _failing_for(FAILING_CASE, monkeypatch)
    result = CliRunner().invoke(main, ["sweep", str(scenario), "--out", str(out), "--jobs", "1",
                                       "--mode", "virtual"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-2:] == [
        f"failed: {FAILING_CASE}: RuntimeError: the mock fell over",
        f"onyx-bench: error: 1 of 12 cases failed (tracebacks in {out / 'failed'}); every other case "
        f"is stored; to retry the failed ones: onyx-bench sweep {scenario} --jobs 1 --mode virtual "
        f"--out {out} --resume"]
    assert len(load_runs(out)) == 11 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_case_that_raises_in_a_worker_is_recorded_as_failed(tmp_path: Path) -> None:
    loaded = parse_scenario(GOOD, "tiny.toml", None).with_overrides(mode="virtual")
    plan = plan_sweep(loaded, ResultsStore(tmp_path / "out"), resume=False)
    good, bad = plan.tasks[:2]
    bad = CaseTask(bad.case, {**bad.profile_document, "latency": {"send_message": "gamma(1)"}}, bad.transport,
                   bad.mode)
    outcomes = dict((task.case.case_id, outcome) for task, outcome in ProcessExecutor(2).run([good, bad]))
    assert outcomes[good.case.case_id].summary.files_ok == 1  # type: ignore[union-attr]
    failure = outcomes[bad.case.case_id]
    assert failure.error == "ConfigError" and "gamma(1)" in failure.message  # type: ignore[union-attr]


DIES = "f4-d0-batch-2-r0"


def run_or_die(task: CaseTask) -> object:
    """Run a case in a worker, except that one case kills its worker outright (as the kernel's
    out-of-memory killer would): no exception, no result, a broken pool."""
    if task.case.case_id == DIES:
        os._exit(9)
    return run_case_recording_failure(task)


@pytest.mark.slow
def test_a_worker_that_dies_costs_only_the_cases_it_held_and_the_sweep_goes_on(tmp_path: Path) -> None:
    loaded = parse_scenario(GOOD, "tiny.toml", None).with_overrides(mode="virtual")
    plan = plan_sweep(loaded, ResultsStore(tmp_path / "out"), resume=False)
    outcomes = dict((task.case.case_id, outcome)
                    for task, outcome in ProcessExecutor(2, work=run_or_die).run(plan.tasks))
    assert sorted(outcomes) == sorted(task.case.case_id for task in plan.tasks)  # none lost
    died = {case_id for case_id, outcome in outcomes.items() if isinstance(outcome, CaseFailure)}
    assert DIES in died and len(died) <= 2  # the dead worker's case, and at most its pool partner's
    assert all(outcomes[case_id].error == "WorkerDied" for case_id in died)  # type: ignore[union-attr]
    assert all(outcome.summary.files_ok >= 1 for case_id, outcome in outcomes.items()  # type: ignore[union-attr]
               if case_id not in died)


@pytest.fixture(scope="module")
def real_mode_table(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Background]:
    """``reproduce --mode real`` at time scale 0.002, started beside the virtual table's test (its
    own test checks that its overhead is large: load only makes it larger; the virtual table is
    exact). Each leaves part of the 2-core machine idle: together they save the suite 3-6 s."""
    folder = tmp_path_factory.mktemp("real-mode-table")
    started = Background("real_mode_table", ["reproduce", "--mode", "real", "--reps", "1", "--time-scale", "0.002",
                                             "--out", str(folder / "r"), "--json"], folder)
    yield started
    started.stop()


@pytest.mark.slow
def test_reproduce_is_the_seeds_table_on_virtual_time(tmp_path: Path, real_mode_table: Background) -> None:
    # The main job's table as `make run` prints it: 30 repetitions on virtual time. (Its
    # cross-check on sockets is the next test: the same code, at 1 repetition to save the suite
    # 20 s.) Exact: the real-mode table (a test below) runs beside it, in a process of its own.
    result = CliRunner().invoke(main, ["reproduce", "--no-cross-check", "--out", str(tmp_path / "r"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {(r["files"], r["strategy"], r["size"]): r for r in data["rows"]}
    assert len(rows) == 5 * 4  # files x (sequential + 3 batch sizes)
    assert {r["mode"] for r in data["rows"]} == {"virtual"} and {r["reps"] for r in data["rows"]} == {30}
    for files, seed_speedup in ((3, 58), (10, 77), (20, 82), (50, 84)):
        row = rows[(files, "batch", 8)]
        assert row["seed_speedup_pct"] == seed_speedup and row["success_rate"] == 1.0
        # the seed's 58% at 3 files is 3 points off its own closed form (61.1%)
        assert row["speedup_pct"] == pytest.approx(seed_speedup, abs=8 if files == 3 else 5)
    for row in data["rows"]:
        # every mean within 4 standard errors (plus 2%) of the closed form: the CI half-width
        # is t(29) = 2.045 standard errors
        if row["expected_makespan_s"] is not None:
            standard_error = row["makespan_s_ci95"] / 2.045
            gap = abs(row["makespan_s_mean"] - row["expected_makespan_s"])
            assert gap <= 4 * standard_error + 0.02 * row["expected_makespan_s"], row
    assert data["cross_check"] == []
    report = Path(data["report"]).read_text()
    assert report.count("table: sequential vs batch=") == 3 and "Cross-check" not in report
    # virtual time is exact: the README shows the very table this prints for batch 8
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert frame_to_markdown(seed_table_frames(seed_table_rows(load_runs(tmp_path / "r")))[8]) in readme
    assert data["answer"][0].startswith("fastest: batch=10 at every file count (1, 3, 10, 20, 50); at 50 files ")


@pytest.mark.slow
def test_reproduce_cross_checks_its_10_file_row_on_sockets(tmp_path: Path) -> None:
    # The main job's second part: the table's 10-file row again through the aiohttp mock on
    # loopback at time scale 0.05, the same seeds (`make run` takes 3 repetitions; 1 here).
    result = CliRunner().invoke(main, ["reproduce", "--reps", "1", "--out", str(tmp_path / "r"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    checks = data["cross_check"]
    assert {(c["strategy"], c["size"]) for c in checks} == {("sequential", None), ("batch", 5), ("batch", 8),
                                                           ("batch", 10)}
    for check in checks:
        assert check["files"] == 10 and check["time_scale"] == 0.05 and check["reps"] == 1
        assert check["diff_pct"] == pytest.approx(
            100 * (check["real_makespan_s_mean"] / check["virtual_makespan_s_mean"] - 1))
        # what is left between the modes is exactly the overhead the real runs state (the same
        # draws: the virtual makespan is the model's), within 0.2 points
        assert check["diff_pct"] == pytest.approx(check["real_overhead_pct_mean"], abs=0.2)
        # and it is small at 0.05: 0.4-1.9% measured with the other core busy, 3.8% at a load of
        # 3.5 on 2 cores (a busy loop and two other test suites)
        assert -0.5 < check["diff_pct"] < 6.0
    report = Path(data["report"]).read_text()
    assert "Cross-check" in report and len(load_runs(tmp_path / "r" / "cross-check")) == 4


def test_reproduce_in_real_mode_runs_the_table_on_sockets_without_a_cross_check(
        real_mode_table: Background) -> None:
    # `onyx-bench reproduce --mode real --reps 1 --time-scale 0.002 --json --out DIR` (real_mode_table)
    exit_code, stdout, stderr = real_mode_table.result()
    assert exit_code == 0, stderr
    data = json.loads(stdout)
    assert {r["mode"] for r in data["rows"]} == {"real"} and data["cross_check"] == []
    runs = load_runs(real_mode_table.folder / "r")
    assert (runs["time_scale"] == 0.002).all() and runs["harness_overhead_pct"].notna().all()
    # at time scale 0.002 the overhead is large, and the command says so
    assert "warning: the harness's own overhead" in stderr and "--time-scale" in stderr


def test_a_sweep_reads_empirical_latencies_beside_its_scenario_from_any_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "scenario").mkdir()
    (tmp_path / "scenario" / "lat.csv").write_text("21\n22\n23\n")
    (tmp_path / "scenario" / "s.toml").write_text(
        'name = "empirical"\nmode = "virtual"\n[server.latency]\nsend_message = "empirical(lat.csv)"\n'
        '[workload]\nfiles = [4]\n[[strategies]]\nkind = "batch"\nsize = 4\n')
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "lat.csv").write_text("100\n100\n")  # the same name, other durations
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = CliRunner().invoke(main, ["sweep", str(tmp_path / "scenario" / "s.toml"), "--out",
                                       str(tmp_path / "out"), "--jobs", "1", "--report"])
    assert result.exit_code == 0, result.output
    calls = load_calls(tmp_path / "out")
    chats = calls[calls["endpoint"] == "send_message"]["drawn_latency_s"]
    assert len(chats) == 4 and chats.between(21, 23).all()
    assert load_runs(tmp_path / "out")["makespan_s"].iloc[0] < 30


def test_results_load_from_a_str_path_as_the_readme_shows(tmp_path: Path) -> None:
    loaded = parse_scenario(GOOD, "tiny.toml", None).with_overrides(mode="virtual")
    store = ResultsStore(tmp_path / "out")
    run_sweep(plan_sweep(loaded, store, resume=False), store, InlineExecutor())
    as_text = str(tmp_path / "out")
    assert len(load_runs(as_text)) == len(load_runs(tmp_path / "out")) == 12
    assert len(load_files(as_text)) > 0 and load_manifest(as_text)["scenario_name"] == "tiny"


def test_resume_needs_an_existing_out_folder(tmp_path: Path) -> None:
    # --resume without --out used to start a brand-new timestamped folder
    alone = CliRunner().invoke(main, ["sweep", "flaky-server", "--resume"])
    assert alone.exit_code == 2 and "--out" in alone.stderr
    missing = CliRunner().invoke(main, ["reproduce", "--resume", "--out", str(tmp_path / "nothere")])
    assert missing.exit_code == 2 and "nothing to resume" in missing.stderr
    assert not (tmp_path / "nothere").exists() and not Path("results").joinpath("flaky-server").exists()


def test_resuming_with_other_settings_names_the_setting_that_differs(tmp_path: Path) -> None:
    loaded = parse_scenario(GOOD, "tiny.toml", None).with_overrides(mode="virtual")
    store = ResultsStore(tmp_path / "out")
    run_sweep(plan_sweep(loaded, store, resume=False), store, InlineExecutor())
    with pytest.raises(Exception, match="repetitions was as written, now 1"):
        plan_sweep(loaded.with_overrides(repetitions=1), store, resume=True)
    with pytest.raises(Exception, match="mode was virtual, now as written"):
        plan_sweep(parse_scenario(GOOD, "tiny.toml", None), store, resume=True)
