"""``onyx-bench tune``: the search's decisions (pure: feasibility, ranking, where repetitions
go, the sentences) and the command on a small scenario on virtual time, whose server crashes
above 5 chats in flight (8 files: a run takes a few milliseconds of wall time)."""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import harness.sweep
from harness.cli import main
from harness.runner import Mode, RunConfig, run_blocking
from harness.store import TUNE, load_runs
from harness.strategies import make_strategy
from harness.tune import (
    Block,
    Candidate,
    Observation,
    compare,
    observations,
    parse_sizes,
    race,
    standings,
    why,
)
from mock_onyx.errors import ConfigError
from scenarios import parse_scenario
from tests.conftest import Background

CRASH_ABOVE = 5
SCENARIO = f"""
name = "tune-test"
seed = 3
repetitions = 4
mode = "virtual"
time_scale = 0.02
idle_timeout_s = 60

[server.latency]
send_message = "uniform(15, 30)"

[server.capacity]
crash_inflight = {CRASH_ABOVE}
restart_s = 30

[workload]
files = [8]

[[strategies]]
kind = "batch"
size = 4
heartbeat_s = [0, 10]

[[strategies]]
kind = "window"
size = 4
"""
# The default tune of SCENARIO: sizes 1-16, 3 repetitions each, up to 20 for the leader
FAST = ["--jobs", "1", "--no-confirm", "--no-report", "--json"]


def _write(folder: Path, text: str = SCENARIO) -> Path:
    path = folder / "tune-test.toml"
    path.write_text(text)
    return path


def _tune(args: list[str]) -> tuple[int, dict[str, Any] | None, str]:
    result = CliRunner().invoke(main, ["tune", *args])
    shown = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result.exit_code, shown, result.stderr


@pytest.fixture(scope="module")
def straight_tune(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Background]:
    """The default tune of SCENARIO, ``onyx-bench tune FILE --out DIR`` + FAST in a process of its
    own, started when a test first asks for it: beside the interrupted tune, on the other core
    (both on virtual time: exact, whatever the load)."""
    folder = tmp_path_factory.mktemp("tune")
    started = Background("straight_tune", ["tune", str(_write(folder)), "--out", str(folder / "out"), *FAST],
                         folder)
    yield started
    started.stop()


def _finished(started: Background) -> tuple[Path, dict[str, Any]]:
    code, stdout, stderr = started.result()
    shown = json.loads(stdout) if stdout.strip().startswith("{") else None
    assert code == 0, stderr
    assert shown is not None
    return started.folder / "out", shown


@pytest.fixture(scope="module")
def tuned(straight_tune: Background) -> tuple[Path, dict[str, Any]]:
    return _finished(straight_tune)


# -- the command ------------------------------------------------------------------------------


def test_an_interrupted_tune_resumes_to_the_same_answer(tmp_path: Path, straight_tune: Background,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # first of the tests on SCENARIO's tune: the straight one runs beside it (straight_tune)
    real, calls = harness.sweep.run_case_recording_failure, []

    def interrupted(task: Any) -> Any:
        calls.append(task)
        if len(calls) == 48 * 3 + 2:  # in round 2
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(harness.sweep, "run_case_recording_failure", interrupted)
    out = tmp_path / "out"
    code, _, stderr = _tune([str(_write(tmp_path)), "--out", str(out), *FAST])
    assert code == 130
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and f"kept in {out / 'round-2'}; to finish them: " in last
    command = shlex.split(last.split("; to finish them: ", 1)[1])
    assert command[-3:] == ["--out", str(out), "--resume"]
    monkeypatch.undo()
    code, shown, stderr = _tune(command[2:])
    assert code == 0, stderr
    assert shown is not None
    _, straight = _finished(straight_tune)
    assert shown["recommendation"] == straight["recommendation"]
    assert [(r["label"], r["runs"]) for r in shown["candidates"]] == \
        [(r["label"], r["runs"]) for r in straight["candidates"]]
    again = CliRunner().invoke(main, ["tune", str(_write(tmp_path)), "--out", str(out), "--objective", "p95",
                                      *FAST[:-1], "--resume"])
    assert again.exit_code == 2 and "objective was 'mean', now 'p95'" in again.stderr


def test_tune_never_recommends_a_size_above_the_crash_threshold(tuned: tuple[Path, dict[str, Any]]) -> None:
    _, shown = tuned
    best = shown["recommendation"]
    assert best["strategy"] in ("batch", "window") and best["size"] <= CRASH_ABOVE
    sizes = {(row["strategy"], row["size"]) for row in shown["candidates"]}
    assert {size for _, size in sizes} == set(range(1, 17))  # sizes 1 to 16 explored
    for row in shown["candidates"]:
        if row["size"] > CRASH_ABOVE:  # every one of them crashed the server, in every run
            assert not row["feasible"] and row["broke"]["crash"] == row["runs"], row
        else:
            assert row["feasible"], row
    assert "crashed the server" in shown["why"] and f"={best['size'] + 1} " in shown["why"]


def test_the_recommendation_rerun_on_20_new_seeds_loses_nothing(tuned: tuple[Path, dict[str, Any]]) -> None:
    _, shown = tuned
    best = shown["recommendation"]
    scenario = parse_scenario(SCENARIO, "tune-test", None).scenario.model_copy(update={"seed": 99})
    for repetition in range(20):  # seeds 99000-99019: none of them was searched on
        result = run_blocking(RunConfig(
            files=8, strategy=make_strategy(best["strategy"], best["size"], best["heartbeat_s"], best["retry"]),
            profile=scenario.profile(repetition, "tune-test"), mode=Mode.VIRTUAL, idle_timeout_s=60))
        summary = result.summary
        assert (summary.files_ok, summary.server_crashes, summary.idle_timeout_hit) == (8, 0, False)


def test_json_shape_and_the_winner_broke_nothing_in_any_stored_run(tuned: tuple[Path, dict[str, Any]]) -> None:
    out, shown = tuned
    assert set(shown) >= {"recommendation", "candidates", "confirmation", "report", "why", "rounds", "results"}
    assert shown["confirmation"] is None and shown["report"] is None  # --no-confirm, --no-report
    best = shown["recommendation"]
    assert set(best) >= {"strategy", "size", "heartbeat_s", "retry", "makespan_s_mean", "success_rate"}
    assert best["success_rate"] == 1.0 and best["runs"] == 20  # 20 repetitions of the one file count
    assert len(shown["candidates"]) == 3 * 16  # batch, batch with heartbeats, window: sizes 1-16
    assert shown["candidates"][0]["status"] == "recommended"
    # from the raw results of every round, not from the tune's own figures
    runs = [load_runs(out / r["results"]) for r in shown["rounds"]]
    mine = [r[(r["kind"] == best["strategy"]) & (r["size"] == best["size"])
              & (r["heartbeat_s"] == best["heartbeat_s"])] for r in runs]
    total = sum(len(r) for r in mine)
    assert total == best["runs"]
    for r in mine:
        assert (r["files_failed"] + r["files_skipped"] == 0).all()
        assert (r["server_crashes"] == 0).all() and not r["idle_timeout_hit"].any()
    assert json.loads((out / TUNE).read_text())["recommendation"] == best


def test_repetitions_are_added_only_where_candidates_overlap(tuned: tuple[Path, dict[str, Any]]) -> None:
    out, shown = tuned
    rounds = shown["rounds"]
    assert rounds[0]["candidates"] == 48 and rounds[0]["reps_added"] == 3 and len(rounds) >= 2
    observed: list[Observation] = []
    blocks: list[Block] = []
    for previous, this in zip(rounds, rounds[1:], strict=False):
        observed += observations(load_runs(out / previous["results"]).to_dict("records"), previous["seed"])
        if Block(previous["seed"], previous["reps_added"]) not in blocks:
            blocks.append(Block(previous["seed"], previous["reps_added"]))
        expected = race(standings(observed, 0.99, "mean"), "mean", 20, blocks)
        assert expected.block == Block(this["seed"], this["reps_added"])
        assert sorted(this["labels"]) == sorted(c.label for c in expected.members)
        ran = load_runs(out / this["results"])
        assert len(ran) == len(expected.members) * expected.add_reps  # one file count
        assert ran.groupby(["kind", "size", "heartbeat_s"]).size().eq(expected.add_reps).all()
    reps = {row["label"]: row["runs"] for row in shown["candidates"]}
    extra = {label: n for label, n in reps.items() if n > 3}
    # only the leader and those not told apart from it ran again: far from 48 x 20 runs
    assert len(extra) <= 6 and sum(reps.values()) < 48 * 3 + 6 * 17
    assert all(row["rounds"] == [1] for row in shown["candidates"] if row["label"] not in extra)
    assert not any(row["feasible"] is False and row["runs"] > 3 for row in shown["candidates"])


def test_objective_p95_ranks_the_feasible_by_their_95th_percentile(tmp_path: Path) -> None:
    code, shown, stderr = _tune([str(_write(tmp_path)), "--objective", "p95", "--sizes", "3-6",
                                 "--out", str(tmp_path / "out"), *FAST])
    assert code == 0, stderr
    assert shown is not None
    feasible = [row for row in shown["candidates"] if row["feasible"]]
    assert all(row["objective_s"] == row["makespan_s_p95"] for row in feasible)
    ranked = [row["makespan_s_p95"] for row in feasible]
    assert ranked == sorted(ranked) and len(ranked) >= 6
    assert "95th-percentile" in shown["why"]


def test_nothing_feasible_is_one_line_naming_the_closest_and_exit_1(tmp_path: Path) -> None:
    text = SCENARIO.split("[[strategies]]")[0].replace("files = [8]", "files = [6]") + \
        '[[strategies]]\nkind = "sequential"\n'
    code, shown, stderr = _tune([str(_write(tmp_path, text)), "--out", str(tmp_path / "out"), *FAST])
    assert code == 1
    errors = [line for line in stderr.splitlines() if line.startswith("onyx-bench: error:")]
    assert len(errors) == 1, stderr
    assert "no configuration met every constraint" in errors[0]
    assert "the closest, sequential, hit the idle timeout in 3 of 3 runs" in errors[0]
    assert shown is not None and shown["recommendation"] is None and shown["infeasible"] in errors[0]


def test_the_confirmation_runs_on_sockets_and_the_report_is_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, shown, stderr = _tune([str(_write(tmp_path)), "--sizes", "4-6", "--confirm-reps", "1",
                                 "--jobs", "1", "--out", str(out), "--json"])
    assert code == 0, stderr
    assert shown is not None
    confirmation = shown["confirmation"]
    assert confirmation["mode"] == "real" and confirmation["holds"] and confirmation["runs"] == 1
    (row,) = confirmation["cross_check"]
    assert row["files"] == 8 and row["strategy"] == shown["recommendation"]["strategy"]
    # the same seed on sockets: the same schedule, plus real mode's own overhead (~1-5% at 0.02)
    assert -1 < row["diff_pct"] < 10
    report = Path(shown["report"])
    assert report.is_file() and (report.parent / "report.md").is_file()
    assert shown["why"] in (report.parent / "report.md").read_text()
    rebuilt = CliRunner().invoke(main, ["report", str(out), "--format", "md"])
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert rebuilt.stdout.strip() == str(out / "report" / "report.md")
    for word in ("## Candidates", "## Search rounds", "## Confirmation", "makespan_and_success_vs_size.png"):
        assert word in (out / "report" / "report.md").read_text()


# -- the decisions, on observations made up to show them --------------------------------------


def _observed(candidate: Candidate, makespans: list[float], crashes: int = 0, lost: int = 0) -> list[Observation]:
    return [Observation(candidate, 30, 0, (1, r), value, 0.5 if r < lost else 1.0, False, 1 if r < crashes else 0)
            for r, value in enumerate(makespans)]


def test_p95_and_mean_pick_differently() -> None:
    steady = Candidate.of("batch", 5)
    spiky = Candidate.of("window", 6)
    seen = _observed(steady, [15.0] * 20) + _observed(spiky, [10.0] * 18 + [40.0, 40.0])  # mean 13, p95 40
    assert standings(seen, 0.99, "mean")[0].candidate == spiky
    assert standings(seen, 0.99, "p95")[0].candidate == steady


def test_a_candidate_that_broke_a_constraint_once_is_never_recommended() -> None:
    fast, safe = Candidate.of("window", 7), Candidate.of("window", 5)
    seen = _observed(fast, [100.0] * 19 + [101.0], crashes=1) + _observed(safe, [140.0] * 20)
    ranked = standings(seen, 0.99, "mean")
    assert ranked[0].candidate == safe and not ranked[1].feasible and ranked[1].broke == {"crash": 1}
    lossy = _observed(fast, [100.0] * 20, lost=1) + _observed(safe, [140.0] * 20)
    assert standings(lossy, 0.99, "mean")[0].candidate == safe
    assert standings(lossy, 0.5, "mean")[0].candidate == fast  # half kept is enough at 0.5


def test_the_race_runs_the_close_and_the_leader_only_on_the_same_draws() -> None:
    leader, close, far, tied, broken = (Candidate.of("window", 6), Candidate.of("batch", 6),
                                        Candidate.of("window", 3), Candidate.of("window", 6, heartbeat_s=10),
                                        Candidate.of("window", 9))
    base = [100.0, 104.0, 98.0]
    first = [Block(1, 3)]
    seen = (_observed(leader, base) + _observed(close, [101.0, 103.0, 99.5])
            + _observed(far, [b + 60 + i for i, b in enumerate(base)]) + _observed(tied, base)
            + _observed(broken, [50.0] * 3, crashes=3))
    ranked = standings(seen, 0.99, "mean")
    assert ranked[0].candidate == tied  # the same schedule as window=6: the heartbeat breaks the tie
    assert compare(ranked[0], next(s for s in ranked if s.candidate == leader), "mean").tied
    following = race(ranked, "mean", 20, first)
    assert set(following.members) == {tied, close}
    assert following.block == Block(2, 3) and following.new_block  # as many again, on new draws
    # once the leader has its repetitions and nothing is close, the race is over
    done = race(standings(_observed(leader, base * 7) + _observed(far, [200.0] * 21), 0.99, "mean"), "mean", 20,
                [Block(1, 21)])
    assert done.members == () and done.leader == leader
    alone = race(standings(_observed(leader, base) + _observed(far, [b + 60 for b in base]), 0.99, "mean"),
                 "mean", 20, first)
    assert alone.members == (leader,) and alone.block == Block(2, 17)  # straight to its evidence
    # a challenger that did not run the leader's later draws catches up on them first
    later = [Observation(leader, 30, 0, (2, r), 100.0 + r % 3, 1.0, False, 0) for r in range(17)]
    behind = race(standings(_observed(leader, base) + later + _observed(close, [99.0, 103.5, 97.0]), 0.99, "mean"),
                  "mean", 20, [Block(1, 3), Block(2, 17)])
    assert behind.members == (close,) and behind.block == Block(2, 17) and not behind.new_block


def test_why_names_the_winner_and_what_the_next_size_breaks() -> None:
    five, six = Candidate.of("batch", 5, heartbeat_s=10), Candidate.of("batch", 6, heartbeat_s=10)
    seen = (_observed(five, [150.0 + r % 3 for r in range(40)])
            + _observed(six, [120.0] * 40, crashes=7))
    ranked = standings(seen, 0.99, "mean")
    sentence = why(ranked[0], ranked, "mean", idle_timeout=True, files=30)
    assert sentence.startswith("batch=5 with a 10 s heartbeat: the fastest that lost no file, never crashed "
                               "the server and never hit the idle timeout in 40 runs")
    assert sentence.endswith("; batch=6 crashed the server in 7 of 40 runs.")


def test_sizes_parse_as_ranges_and_lists() -> None:
    assert parse_sizes("1-16") == tuple(range(1, 17))
    assert parse_sizes("1-3, 8,12") == (1, 2, 3, 8, 12)
    for bad in ("0-3", "5-2", "x", "1-", ""):
        with pytest.raises(ConfigError):
            parse_sizes(bad)


def test_percentiles_and_intervals_are_finite_where_they_can_be() -> None:
    one = standings(_observed(Candidate.of("window", 2), [5.0]), 0.99, "mean")[0]
    assert one.makespan_s_mean == 5.0 and math.isnan(one.makespan_s_ci95) and one.makespan_s_p95 == 5.0
