"""Commands say what they found, how long they will take and how far they are, and take the same
flags: the answer at the top of sweep, reproduce and every report (paired, from the runs
themselves), "partial" on an interrupted sweep, progress lines off a terminal, the expected wall
time up front, and the seed's table without empty sections or "± -"."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.cli_progress import Progress, about
from harness.estimate import run_wall_s, simulated_makespan_s, sweep_wall_s
from harness.expected import expected_mean_makespan_s
from harness.modes import Mode
from harness.runner import RunConfig, run_blocking
from harness.store import ResultsStore, load_runs
from harness.strategies import make_strategy
from harness.sweep import InlineExecutor, plan_sweep, run_sweep
from mock_onyx import load_profile
from reports import markdown_table, seed_table_rows
from reports.answer import answer_lines
from reports.build import build_report
from scenarios import parse_scenario
from tests.test_scenarios import GOOD
from tests.test_sweeps import SCRIPT

VIRTUAL = GOOD.replace("time_scale = 0.004", 'mode = "virtual"')


def _sweep(tmp_path: Path, text: str, *args: str) -> tuple[Path, object]:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(text)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sweep", str(scenario), "--out", str(out), "--jobs", "1", *args])
    assert result.exit_code == 0, result.output
    return out, result


def test_sweep_states_the_fastest_strategy_and_its_paired_speedup(tmp_path: Path) -> None:
    out, result = _sweep(tmp_path, VIRTUAL, "--json")
    data = json.loads(result.stdout)  # type: ignore[attr-defined]
    runs = load_runs(out)
    at_four = runs[runs["files"] == 4]
    means = at_four.groupby(["kind", "size"], dropna=False)["makespan_s"].mean().sort_values()
    fastest = means.index[0]
    name = f"{fastest[0]}={int(fastest[1])}"
    # the paired speedup: each repetition against the sequential run of the same seed
    row = next(r for r in seed_table_rows(runs) if r.files == 4 and r.strategy == fastest[0]
               and r.size == fastest[1])
    assert data["answer"][0] == (
        f"fastest: {name} at every file count (1, 4); at 4 files {means.iloc[0]:.1f} s, "
        f"{row.paired_speedup_pct:.1f} ± {row.paired_speedup_pct_ci95:.1f}% faster than sequential")
    assert data["answer"][1].startswith("then batch=2: ") and data["answer"][1].endswith(
        "slower than batch=3 (within noise: the 95% CI spans 0)")  # 2 repetitions: t(1) = 12.7
    assert data["results"] == str(out) and data["report"] is None
    assert {(r["files"], r["strategy"], r["size"]) for r in data["summary"]} == {
        (f, k, s) for f in (1, 4) for k, s in (("sequential", None), ("batch", 2), ("batch", 3))}
    # the same lines head the report
    report = build_report(out, formats=["md"]).outputs["md"].read_text()
    assert f"## Answer\n\n- {data['answer'][0]}\n- {data['answer'][1]}\n" in report


def test_without_a_sequential_run_there_is_no_speedup_and_no_empty_seed_table(tmp_path: Path) -> None:
    text = VIRTUAL.replace('[[strategies]]\nkind = "sequential"\n', "")
    out, result = _sweep(tmp_path, text, "--report")
    lines = result.stdout.splitlines()  # type: ignore[attr-defined]
    assert "(no sequential run in this scenario to measure a speedup against)" in lines[0]
    assert lines[-2:] == [f"results: {out}", f"report: {out / 'report' / 'report.html'}"]
    report = (out / "report" / "report.md").read_text()
    assert "The seed's table" not in report and markdown_table(seed_table_rows(load_runs(out))) == ""


def test_one_repetition_says_1_run_never_a_dash_after_plus_minus(tmp_path: Path) -> None:
    out, result = _sweep(tmp_path, VIRTUAL, "--reps", "1", "--report")
    assert "(1 run) faster than sequential" in result.stdout  # type: ignore[attr-defined]
    report = (out / "report" / "report.md").read_text()
    assert "± -" not in report and " s (1 run)" in report and "% (1 run)" in report


def test_a_report_of_an_interrupted_sweep_says_it_is_partial(tmp_path: Path) -> None:
    # what an interrupted sweep leaves: every case stored but the two it did not finish
    store = ResultsStore(tmp_path / "out")
    plan = plan_sweep(parse_scenario(VIRTUAL, "scenario.toml", None), store, resume=False)
    unfinished = ("f4-d0-batch-2-r1", "f4-d0-sequential-r0")
    run_sweep(dataclasses.replace(plan, tasks=tuple(t for t in plan.tasks if t.case.case_id not in unfinished)),
              store, InlineExecutor())
    report = build_report(store.root, formats=["md"]).outputs["md"].read_text()
    assert ("- partial: 10 of 12 cases finished; the figures below cover those alone "
            "(--resume finishes the sweep)") in report


def test_sweep_overrides_reps_seed_and_time_scale_and_refuses_a_time_scale_in_virtual_mode(
        tmp_path: Path) -> None:
    out, _ = _sweep(tmp_path, GOOD, "--reps", "1", "--seed", "9", "--time-scale", "0.002")
    runs = load_runs(out)
    assert len(runs) == 6 and set(runs["seed"]) == {9000} and set(runs["time_scale"]) == {0.002}
    refused = CliRunner().invoke(main, ["sweep", "seed-table", "--time-scale", "0.1", "--out",
                                        str(tmp_path / "never")])
    assert refused.exit_code == 2 and not (tmp_path / "never").exists()
    assert refused.stderr.strip().startswith("onyx-bench: error: --time-scale: has no effect")


def test_off_a_terminal_a_long_sweep_prints_progress_lines_and_its_expected_wall_time(
        tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(VIRTUAL)
    done = subprocess.run([str(SCRIPT), "sweep", str(scenario), "--out", str(tmp_path / "out"),
                           "--jobs", "1"], capture_output=True, text=True, timeout=60, check=True)
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"tiny: 12 cases, 0 already done, 12 to run with 1 job(s), about ")
    assert lines[1].startswith("cases 12/12 (100%) in ") and len(lines) == 2  # no bar off a terminal


def test_progress_lines_give_done_total_elapsed_and_time_left() -> None:
    stream = io.StringIO()  # not a terminal
    with Progress(10, "cases", already_done=2, expected_s=40.0, stream=stream, line_every_s=0.0) as progress:
        assert progress.line(0.0) == "cases 2/10 (20%), 0 s elapsed, about 40 s left"  # the estimate
        progress.advance(2)
        # from this command's own pace: 2 cases in 6 s, 6 to go
        assert progress.line(6.0) == "cases 4/10 (40%), 6 s elapsed, about 18 s left"
        progress.advance(6)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("cases 4/10 (40%), ") and lines[-1].startswith("cases 10/10 (100%) in ")
    assert len(lines) == 2  # the last line once, though the end came with a line due
    assert [about(s) for s in (0.2, 42, 600, 9000)] == ["about 1 s", "about 42 s", "about 10 min", "about 2.5 h"]


def test_the_expected_wall_time_is_the_closed_form_times_the_time_scale() -> None:
    profile = load_profile(None, {"time_scale": 0.05})
    closed_form = expected_mean_makespan_s(make_strategy("batch", 8), profile, 50)
    assert closed_form is not None
    assert simulated_makespan_s("batch", 8, 50, profile) == closed_form
    assert run_wall_s("batch", 8, 50, profile, Mode.REAL) == pytest.approx(closed_form * 0.05 + 0.1)
    # a window has no closed form: its files flow through `size` lanes
    one = expected_mean_makespan_s(make_strategy("sequential"), profile, 1)
    assert simulated_makespan_s("window", 8, 50, profile) == pytest.approx(one * 50 / 8)  # type: ignore[operator]
    # cases go to the first free worker
    assert sweep_wall_s([4.0, 1.0, 1.0, 1.0], jobs=2) == pytest.approx(4.0 + 1.5)
    assert sweep_wall_s([4.0, 1.0], jobs=1) == 5.0


def test_a_run_tells_its_listener_each_item_finished_in_turn() -> None:
    seen: list[int] = []
    config = RunConfig(files=7, folders=1, strategy=make_strategy("batch", 3), mode=Mode.VIRTUAL,
                       on_item_done=seen.append)
    result = run_blocking(config)
    assert seen == list(range(1, 9)) and len(result.outcomes) == 8


def test_a_long_run_states_its_expected_wall_time_and_its_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    quick = CliRunner().invoke(main, ["run", "--files", "3", "--mode", "virtual"])
    assert quick.exit_code == 0 and quick.stderr == ""  # a short run says nothing on stderr
    monkeypatch.setattr("harness.cli.LONG_RUN_S", 0.0)  # every run is long: no need to wait 5 s
    done = CliRunner().invoke(main, ["run", "--files", "3", "--strategy", "sequential", "--time-scale", "0.004"])
    assert done.exit_code == 0, done.output
    expected = run_wall_s("sequential", None, 3, load_profile(None, {"time_scale": 0.004}), Mode.REAL)
    lines = done.stderr.splitlines()
    assert lines[0] == f"sequential over 3 files at time scale 0.004: {about(expected)}"
    assert lines[1].startswith("files 3/3 (100%) in ")  # then, at this scale, the overhead warning


def test_a_strategy_that_lost_files_is_never_the_fastest_and_is_named_with_what_broke() -> None:
    # batch=8 ends sooner, but lost files: a crashed server cuts every stream at once, so its
    # makespan is no speed; the headline is the fastest that lost none
    runs = pd.DataFrame({
        "files": 10, "folders": 0, "kind": ["sequential", "batch", "sequential", "batch"],
        "size": [None, 8, None, 8], "seed": [1, 1, 2, 2], "makespan_s": [200.0, 40.0, 210.0, 44.0],
        "files_ok": [10, 8, 10, 9], "files_failed": [0, 2, 0, 1], "files_skipped": 0,
        "server_crashes": [0, 1, 0, 0]})
    assert answer_lines(runs) == [
        "fastest that lost no file: sequential; at 10 files 205.0 s",
        "caution: batch=8 ended sooner (42.0 s) but lost 15.0% of its files (the server crashed in 1 of 2 runs)"]
    # nor is a sequential run that lost files a baseline for a speedup
    runs["files_ok"], runs["files_failed"] = [3, 10, 2, 10], [7, 0, 8, 0]
    assert answer_lines(runs)[0] == ("fastest that lost no file: batch=8; at 10 files 42.0 s (sequential "
                                     "lost 75.0% of its files: no speedup against it)")
