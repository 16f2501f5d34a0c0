"""Scenarios: loading, validation errors as one line, grid expansion, and every built-in."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from mock_onyx import ConfigError
from scenarios import builtin_names, load_scenario, parse_scenario

GOOD = """
name = "tiny"
seed = 3
repetitions = 2
time_scale = 0.004
[server.latency]
send_message = "uniform(15, 30)"
[workload]
files = [1, 4]
[[strategies]]
kind = "sequential"
[[strategies]]
kind = "batch"
size = [2, 3]
"""


def test_a_scenario_expands_into_its_grid() -> None:
    loaded = parse_scenario(GOOD, "tiny.toml", None)
    cases = loaded.scenario.cases()
    assert len(cases) == 2 * 2 * 3  # files x (sequential + 2 sizes) x repetitions
    assert {c.case_id for c in cases} >= {"f1-d0-sequential-r0", "f4-d0-batch-3-r1"}
    assert len({c.case_id for c in cases}) == len(cases)


def test_repetition_r_gives_every_strategy_the_same_profile_seed() -> None:
    scenario = parse_scenario(GOOD, "tiny.toml", None).scenario
    assert scenario.profile(1, "t").seed == scenario.profile(1, "t").seed == 3001
    assert scenario.profile(0, "t").seed != scenario.profile(1, "t").seed


MISTAKES = [
    ("bogus = 1", "bogus", "Extra inputs"),
    ("repetitions = 0", "repetitions", "greater than or equal to 1"),
    ("repetitions = 'five'", "repetitions", "valid integer"),
    ("time_scale = -1", "time_scale", "greater than 0"),
    ("time_scale = nan", "time_scale", "finite number"),  # used to read "less than or equal to 100"
    ("[workload]\nfiles = []", "workload.files", "at least 1"),
    ("[workload]\nfiles = [-3]", "workload.files", "greater than or equal to 0"),
    ("[[strategies]]\nkind = 'turbo'", "strategies", "turbo"),
    ("[[strategies]]\nkind = 'sequential'\nsize = 4", "size", "sequential takes no size"),
    ("[[strategies]]\nkind = 'batch'\nsize = []", "size", "empty list"),
    ("[[strategies]]\nkind = 'batch'\nsize = 0", "strategies", "greater than or equal to 1"),
    ("[server.latency]\nsend_message = 'uniform(30, 15)'", "latency.send_message", "0 <= a <= b"),
    ("[server.faults.send_message]\nreset = 2.0", "faults.send_message.reset", "less than or equal"),
    ("[server]\nseed = 3", "server.seed", "top level"),
    ("name = 'two words'", "name", "pattern"),
    ("[[strategies]]\nkind = 'batch'\nsize = [8, 8]", "size", "lists 8 more than once"),
    ("[workload]\nfiles = [10, 10]", "workload.files", "lists 10 more than once"),
    ("[workload]\nfiles = [1]\nfolders = [0, 2, 0]", "workload.folders", "folders = [0, 2]"),
    ("[[strategies]]\nkind = 'batch'\nsize = 8\n[[strategies]]\nkind = 'batch'\nsize = [5, 8]", "strategies",
     "batch size 8 more than once"),
]


def _mutated(change: str) -> str:
    """GOOD with one mistake: replace the table or key that ``change`` names."""
    head = change.split("\n")[0]
    if head.startswith("[[strategies]]"):
        base = GOOD.split("[[strategies]]")[0]
        return base + change + "\n"
    if head.startswith("[server"):
        return GOOD.replace('[server.latency]\nsend_message = "uniform(15, 30)"', change)
    if head.startswith("["):
        return GOOD.replace("[workload]\nfiles = [1, 4]", "") + "\n" + change + \
            ("\n[workload]\nfiles = [1, 4]\n" if "workload" not in head else "\n")
    key = head.split("=")[0].strip()
    lines = [line for line in GOOD.splitlines() if not line.startswith(key + " ")]
    return change + "\n" + "\n".join(lines)


@pytest.mark.parametrize(("change", "where", "words"), MISTAKES)
def test_invalid_scenarios_are_one_line_naming_file_key_and_fix(change: str, where: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_scenario(_mutated(change), "bad.toml", None)
    message = str(caught.value)
    assert message.startswith("bad.toml") and where in message and words in message
    assert "fix:" in message and "\n" not in message


@pytest.mark.parametrize(("args", "words"), [
    (["sweep", "no-such-scenario"], "neither a built-in scenario"),
    (["sweep", "seed-table", "--jobs", "0"], "--jobs"),
    (["reproduce", "--reps", "0"], "--reps"),
    (["reproduce", "--time-scale", "-2"], "--time-scale"),
])
def test_bad_sweep_input_exits_2_and_writes_nothing(tmp_path: Path, args: list[str], words: str) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [*args, "--out", str(out)] if args[0] == "reproduce" else args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0]
    assert not out.exists()


@pytest.mark.parametrize(("change", "words"), [
    ("[[strategies]]\nkind = 'batch'\nsize = [8, 8]",
     "size: lists 8 more than once; fix: list each value once: size = [8]"),
    ("[workload]\nfiles = [10, 10]", "workload.files: lists 10 more than once"),
    ("[workload]\nfiles = [1]\nfolders = [0, 0]", "workload.folders: lists 0 more than once"),
])
def test_a_duplicate_grid_value_exits_2_before_anything_runs(tmp_path: Path, change: str, words: str) -> None:
    scenario, out = tmp_path / "dup.toml", tmp_path / "out"
    scenario.write_text(_mutated(change))
    result = CliRunner().invoke(main, ["sweep", str(scenario), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"onyx-bench: error: {scenario}: {words}")
    assert "fix: list each value once" in lines[0]
    assert not out.exists()


def test_builtins_are_listed_and_valid() -> None:
    result = CliRunner().invoke(main, ["scenarios"])
    assert result.exit_code == 0
    for name in ("seed-table", "batch-size-sweep", "flaky-server", "production"):
        assert name in builtin_names() and name in result.output
        assert load_scenario(name).scenario.name == name


def test_a_scenario_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(GOOD)
    assert load_scenario(str(path)).scenario.name == "tiny"


def test_a_grid_with_no_case_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    text = GOOD.replace("files = [1, 4]", "files = [0]")
    path = tmp_path / "empty.toml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["sweep", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "the grid is empty" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_scenarios_name_prints_a_built_in_scenario_that_parses_back() -> None:
    result = CliRunner().invoke(main, ["scenarios", "seed-table"])
    assert result.exit_code == 0
    assert parse_scenario(result.stdout, "printed", None).scenario == load_scenario("seed-table").scenario
    missing = CliRunner().invoke(main, ["scenarios", "nope"])
    assert missing.exit_code == 2 and "seed-table" in missing.stderr


def test_report_refuses_a_missing_folder_and_an_empty_format_list(tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["report", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "manifest.json").write_text("{}")
    empty = CliRunner().invoke(main, ["report", str(tmp_path / "r"), "--format", ""])
    assert empty.exit_code == 2 and "names no format" in empty.stderr
    assert not (tmp_path / "r" / "report").exists()


@pytest.mark.parametrize("args", [
    ["sweep", "flaky-server", "--out", "/proc/onyx-bench-forbidden"],
    ["reproduce", "--out", "/proc/onyx-bench-forbidden"],
    ["report", "{results}", "--out", "{file}/x"],
])
def test_an_unwritable_output_is_one_line_and_exit_2_before_any_work(tmp_path: Path, args: list[str]) -> None:
    # these used to end in a NotADirectoryError or FileNotFoundError traceback
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "manifest.json").write_text("{}")
    (tmp_path / "file").write_text("not a folder")
    filled = [a.format(results=tmp_path / "results", file=tmp_path / "file") for a in args]
    result = CliRunner().invoke(main, filled)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot be created" in lines[0] and "Traceback" not in result.output
