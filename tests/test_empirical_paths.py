"""A file is data: the ``empirical(path)`` CSVs and the ``[server] profile`` file that a profile or a
scenario names must lie in its own folder (resolved: ``..`` and symlinks followed), checked before
anything is opened, unless the user passes ``--allow-outside-paths``; a distribution typed on the
command line is the user's own and reads anywhere.

The folder ``in/`` holds the files handed to the command; ``secret.csv`` beside it has a planted
string in a row that is not a number, which the error of a CSV that is read would quote: it must
appear in no output of a refused command. ``outside.csv`` beside it is a good CSV (11 s per chat),
``in/sub/chats.csv`` one inside (7 s per chat), so that a run's makespan says which was read.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

import harness.sweep
from harness.cli import main
from harness.store import ResultsStore, load_manifest, load_runs
from harness.sweep import CaseTask, InlineExecutor, plan_sweep, run_case, run_sweep
from mock_onyx.distributions import parse_distribution
from mock_onyx.errors import ConfigError
from reports.build import build_report
from reports.answer import planned_cases, recorded_scenario
from scenarios import load_scenario

PLANTED = f"PLANTED-{uuid.uuid4().hex}"
INSIDE_S, OUTSIDE_S = 7.0, 11.0
FLAG = "--allow-outside-paths"
FAST = "default=fixed(0)"  # every other endpoint instant: a run's makespan is its chats' latency

SCENARIO = """
name = "paths"
seed = 1
repetitions = 1
mode = "virtual"
[server]
{server}
[workload]
files = [1]
[[strategies]]
kind = "sequential"
"""


@dataclass(frozen=True)
class Layout:
    root: Path
    folder: Path  # in/: where the files handed to the command are

    @property
    def secret(self) -> Path:
        return self.root / "secret.csv"

    @property
    def outside(self) -> Path:
        return self.root / "outside.csv"

    def profile(self, csv: str, name: str = "p.toml") -> Path:
        path = self.folder / name
        path.write_text(f'[latency]\nsend_message = "empirical({csv})"\ndefault = "fixed(0)"\n')
        return path

    def scenario(self, server: str, name: str = "s.toml") -> Path:
        path = self.folder / name
        path.write_text(SCENARIO.format(server=server))
        return path

    def listing(self) -> set[str]:
        return {str(p.relative_to(self.root)) for p in self.root.rglob("*")}


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (tmp_path / "secret.csv").write_text(f"seconds\n5\n{PLANTED}\n")
    (tmp_path / "outside.csv").write_text(f"seconds\n{OUTSIDE_S}\n{OUTSIDE_S}\n")
    (folder / "sub" / "chats.csv").write_text(f"seconds\n{INSIDE_S}\n{INSIDE_S}\n")
    (folder / "chats.csv").write_text(f"seconds\n{INSIDE_S}\n{INSIDE_S}\n")
    (folder / "secret-link.csv").symlink_to(tmp_path / "secret.csv")
    (folder / "outside-link.csv").symlink_to(tmp_path / "outside.csv")
    return Layout(tmp_path, folder)


# The three ways out of the folder, as written in the file: ``..``, an absolute path, a symlink.
def _secret_ways(layout: Layout) -> list[str]:
    return ["../secret.csv", str(layout.secret), "secret-link.csv"]


def _outside_ways(layout: Layout) -> list[str]:
    return ["../outside.csv", str(layout.outside), "outside-link.csv"]


WAYS = ["dotdot", "absolute", "symlink"]


def _invoke(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


def _assert_refused(result: object, written: str, resolved: Path, folder: Path, before: set[str],
                    layout: Layout) -> str:
    """One line, exit 2, nothing on stdout, nothing written, and the planted row nowhere."""
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and PLANTED not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("onyx-bench: error: ")
    # the path as written and as resolved, the folder it must be in, and both fixes
    assert repr(written) in line and repr(str(resolved.resolve())) in line
    assert f"outside {str(folder.resolve())!r}" in line
    assert "move the" in line and "pass --allow-outside-paths if you trust the file" in line
    assert layout.listing() == before
    return line


def _makespan(result: object) -> float:
    assert result.exit_code == 0, result.output
    return float(json.loads(result.stdout)["makespan_s"])


RUN = ["run", "--files", "1", "--strategy", "sequential", "--mode", "virtual", "--json"]


@pytest.mark.parametrize("way", range(3), ids=WAYS)
def test_run_profile_refuses_a_csv_outside_its_folder(layout: Layout, way: int) -> None:
    written = _secret_ways(layout)[way]
    profile = layout.profile(written)
    before = layout.listing()
    line = _assert_refused(_invoke(*RUN, "--profile", str(profile)), written, layout.secret, layout.folder,
                           before, layout)
    assert f"{profile}: latency.send_message: " in line


def test_the_planted_row_would_show_if_the_file_were_read(layout: Layout) -> None:
    # what the refusal prevents: with the flag the secret CSV is read, and its bad row quoted
    result = _invoke(*RUN, "--profile", str(layout.profile("../secret.csv")), FLAG)
    assert result.exit_code == 2 and PLANTED in result.stderr


@pytest.mark.parametrize("way", range(3), ids=WAYS)
def test_run_profile_reads_a_csv_outside_with_the_flag(layout: Layout, way: int) -> None:
    profile = layout.profile(_outside_ways(layout)[way])
    assert _makespan(_invoke(*RUN, "--profile", str(profile), FLAG)) == pytest.approx(OUTSIDE_S, abs=0.05)


@pytest.mark.parametrize("csv", ["chats.csv", "sub/chats.csv", "./sub/../chats.csv"])
def test_run_profile_reads_a_csv_in_its_folder_or_below(layout: Layout, csv: str) -> None:
    profile = layout.profile(csv)
    assert _makespan(_invoke(*RUN, "--profile", str(profile))) == pytest.approx(INSIDE_S, abs=0.05)


def test_a_csv_typed_on_the_command_line_reads_anywhere(layout: Layout) -> None:
    flag = f"send_message=empirical({layout.outside})"
    assert _makespan(_invoke(*RUN, "--latency", flag, "--latency", FAST)) == pytest.approx(OUTSIDE_S, abs=0.05)
    # also over a profile file from another folder: the flag is the user's, not the file's
    profile = layout.folder / "plain.toml"
    profile.write_text('[latency]\ndefault = "fixed(0)"\n')
    assert _makespan(_invoke(*RUN, "--profile", str(profile), "--latency", flag)) == pytest.approx(OUTSIDE_S,
                                                                                                  abs=0.05)


def test_a_folder_reached_through_a_symlink_is_still_its_own_folder(layout: Layout) -> None:
    alias = layout.root / "alias"
    alias.symlink_to(layout.folder)
    profile = layout.profile("sub/chats.csv")
    assert _makespan(_invoke(*RUN, "--profile", str(alias / profile.name))) == pytest.approx(INSIDE_S, abs=0.05)


def test_serve_refuses_before_it_listens(layout: Layout) -> None:
    profile = layout.profile("../secret.csv")
    before = layout.listing()
    line = _assert_refused(_invoke("serve", "--profile", str(profile), "--port", "0"), "../secret.csv",
                           layout.secret, layout.folder, before, layout)
    assert "latency.send_message" in line


@pytest.mark.parametrize("way", range(3), ids=WAYS)
def test_sweep_refuses_a_scenario_csv_outside_its_folder(layout: Layout, way: int) -> None:
    written = _secret_ways(layout)[way]
    scenario = layout.scenario(f'latency.send_message = "empirical({written})"')
    before = layout.listing()
    line = _assert_refused(_invoke("sweep", str(scenario), "--out", str(layout.root / "out"), "--jobs", "1"),
                           written, layout.secret, layout.folder, before, layout)
    assert "latency.send_message" in line


def test_sweep_refuses_a_server_profile_outside_the_scenario_folder(layout: Layout) -> None:
    (layout.root / "p.toml").write_text('[latency]\nsend_message = "fixed(3)"\n')
    scenario = layout.scenario('profile = "../p.toml"')
    before = layout.listing()
    line = _assert_refused(_invoke("sweep", str(scenario), "--out", str(layout.root / "out"), "--jobs", "1"),
                           "../p.toml", layout.root / "p.toml", layout.folder, before, layout)
    assert line.startswith("onyx-bench: error: server.profile: ") and "move the profile file" in line


def test_a_server_profile_in_the_folder_may_not_reach_out_either(layout: Layout) -> None:
    # the profile file is inside the scenario's folder; its CSV must be inside the profile's folder
    layout.profile("../secret.csv", "sub/p.toml")  # in/sub/p.toml names in/secret.csv: outside in/sub
    (layout.folder / "secret.csv").write_text(f"seconds\n5\n{PLANTED}\n")
    scenario = layout.scenario('profile = "sub/p.toml"')
    before = layout.listing()
    _assert_refused(_invoke("sweep", str(scenario), "--out", str(layout.root / "out"), "--jobs", "1"),
                    "../secret.csv", layout.folder / "secret.csv", layout.folder / "sub", before, layout)


def _sweep_makespan(out: Path) -> float:
    runs = load_runs(out)
    assert len(runs) == 1
    return float(runs["makespan_s"].iloc[0])


@pytest.mark.parametrize("server", ['latency.send_message = "empirical({csv})"\nlatency.default = "fixed(0)"',
                                    'profile = "../p.toml"'], ids=["csv", "server-profile"])
def test_sweep_reads_outside_with_the_flag(layout: Layout, server: str) -> None:
    (layout.root / "p.toml").write_text(f'[latency]\nsend_message = "empirical(outside.csv)"\ndefault = "fixed(0)"\n')
    scenario = layout.scenario(server.format(csv="../outside.csv"))
    out = layout.root / "out"
    result = _invoke("sweep", str(scenario), "--out", str(out), "--jobs", "1", FLAG)
    assert result.exit_code == 0, result.output
    assert _sweep_makespan(out) == pytest.approx(OUTSIDE_S, abs=0.05)


def test_sweep_reads_a_csv_in_a_subfolder_without_the_flag(layout: Layout) -> None:
    scenario = layout.scenario('latency.send_message = "empirical(sub/chats.csv)"\nlatency.default = "fixed(0)"')
    out = layout.root / "out"
    result = _invoke("sweep", str(scenario), "--out", str(out), "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert _sweep_makespan(out) == pytest.approx(INSIDE_S, abs=0.05)


def test_resume_needs_the_flag_again_and_the_printed_command_has_it(
        layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = layout.scenario('latency.send_message = "empirical(../outside.csv)"\nlatency.default = "fixed(0)"')
    out = layout.root / "out"
    real_run_case = harness.sweep.run_case

    def failing(task: CaseTask):  # type: ignore[no-untyped-def]
        raise RuntimeError("the mock fell over")

    monkeypatch.setattr(harness.sweep, "run_case", failing)
    result = _invoke("sweep", str(scenario), "--out", str(out), "--jobs", "1", FLAG)
    assert result.exit_code == 1, result.output
    command = shlex.split(result.stderr.strip().splitlines()[-1].split("to retry the failed ones: ", 1)[1])
    assert command == ["onyx-bench", "sweep", str(scenario), "--jobs", "1", FLAG, "--out", str(out), "--resume"]
    monkeypatch.setattr(harness.sweep, "run_case", real_run_case)
    before = layout.listing()
    _assert_refused(_invoke("sweep", str(scenario), "--out", str(out), "--jobs", "1", "--resume"),
                    "../outside.csv", layout.outside, layout.folder, before, layout)
    finish = _invoke(*command[1:])
    assert finish.exit_code == 0, finish.output
    assert _sweep_makespan(out) == pytest.approx(OUTSIDE_S, abs=0.05)


TUNE = ["--sizes", "1-2", "--reps", "2", "--screen-reps", "2", "--jobs", "1", "--no-confirm", "--no-report",
        "--json"]


def test_tune_refuses_then_reads_with_the_flag(layout: Layout) -> None:
    scenario = layout.scenario('latency.send_message = "empirical(../secret.csv)"')
    out = layout.root / "tune"
    before = layout.listing()
    _assert_refused(_invoke("tune", str(scenario), "--out", str(out), *TUNE), "../secret.csv", layout.secret,
                    layout.folder, before, layout)
    scenario = layout.scenario('latency.send_message = "empirical(../outside.csv)"\nlatency.default = "fixed(0)"')
    result = _invoke("tune", str(scenario), "--out", str(out), *TUNE, FLAG)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["recommendation"]["label"]


def test_sweep_workers_read_no_file(layout: Layout) -> None:
    # the planning process resolves the profile; a worker gets its durations, not the CSV's path
    scenario = layout.scenario('latency.send_message = "empirical(../outside.csv)"\nlatency.default = "fixed(0)"')
    loaded = load_scenario(str(scenario), allow_outside_paths=True)
    store = ResultsStore(layout.root / "out")
    plan = plan_sweep(loaded, store, resume=False)
    assert all(task.profile is not None for task in plan.tasks)
    layout.outside.unlink()
    assert run_sweep(plan, store, InlineExecutor()) == []
    assert run_case(plan.tasks[0]).summary.makespan_s == pytest.approx(OUTSIDE_S, abs=0.05)


def test_parse_distribution_checks_before_it_opens(layout: Layout) -> None:
    fifo = layout.root / "never-opened"
    os.mkfifo(fifo)  # opening it would block this test: the refusal must come first
    with pytest.raises(ConfigError) as caught:
        parse_distribution(f"empirical({fifo})", "latency.send_message", layout.folder)
    assert str(caught.value) == (
        f"latency.send_message: {str(fifo)!r} resolves to {str(fifo)!r}, outside {str(layout.folder)!r}, the "
        f"folder of the file that names it (a file may read only inside its own folder); fix: move the CSV into "
        f"{str(layout.folder)!r} (or below it), or pass --allow-outside-paths if you trust the file")
    # with no folder (a flag), or the allowance, it is read: an outside CSV here
    assert parse_distribution(f"empirical({layout.outside})", "x").mean == OUTSIDE_S
    assert parse_distribution("empirical(../outside.csv)", "x", layout.folder, True).mean == OUTSIDE_S


OUTSIDE_SCENARIO = """
name = "outside"
seed = 1
repetitions = 2
mode = "virtual"
idle_timeout_s = 45
[server.latency]
send_message = "empirical(../outside.csv)"
[workload]
files = [2]
[[strategies]]
kind = "sequential"
[[strategies]]
kind = "batch"
size = 2
"""


def test_the_report_of_a_sweep_allowed_outside_its_folder_still_says_partial_and_why_a_curve_is_missing(
        layout: Layout) -> None:
    # The sweep read ../outside.csv under --allow-outside-paths and was cut short (one case not
    # run); the report reads the results confined (a results folder is a file too): the cases the
    # sweep planned and its idle timeout come from the scenario without its files, and the one
    # figure that needs the CSV says why it lacks the profile's curve, instead of dropping it silently.
    scenario = layout.folder / "outside.toml"
    scenario.write_text(OUTSIDE_SCENARIO)
    loaded = load_scenario(str(scenario), allow_outside_paths=True)
    store = ResultsStore(layout.root / "results")
    plan = plan_sweep(loaded, store, resume=False)
    run_sweep(dataclasses.replace(plan, tasks=plan.tasks[:-1]), store, InlineExecutor())
    manifest = load_manifest(store.root)
    assert recorded_scenario(manifest).idle_timeout_s == 45 and planned_cases(manifest) == 4
    report = build_report(store.root, formats=["md"]).outputs["md"].read_text()
    assert "- partial: 3 of 4 cases finished" in report
    assert "## Per-file latency (the profile's distribution could not be read again)" in report
    assert "## Per-file latency against the profile" not in report
    # the same results, the CSV beside the scenario: the curve is drawn
    (layout.folder / "outside.csv").write_text(layout.outside.read_text())
    scenario.write_text(OUTSIDE_SCENARIO.replace("../outside.csv", "outside.csv"))
    moved = ResultsStore(layout.root / "results-inside")
    plan = plan_sweep(load_scenario(str(scenario)), moved, resume=False)
    run_sweep(plan, moved, InlineExecutor())
    assert "## Per-file latency against the profile" in build_report(moved.root, formats=["md"]).outputs["md"].read_text()
