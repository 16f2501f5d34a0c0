"""``onyx-bench compare A B``: per case, B's makespan against A's, paired by seed where the seeds
match (else Welch's t-test), the success rates beside, and bad input as one line with exit 2.

The results directories are tiny virtual-mode sweeps (exact and deterministic, well under a second
each); the statistics are checked against closed forms of Student's t.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.store import ResultsStore, load_runs
from harness.sweep import InlineExecutor, plan_sweep, run_sweep
from reports.compare import compare_runs, conclusion
from reports.stats import paired_t_test, t975, t_critical, two_sided_p, welch_df, welch_t_test
from scenarios import parse_scenario
from tests.test_cli_startup import HEAVY, modules_after

BASE = """
name = "compare-me"
seed = 3
repetitions = 3
mode = "virtual"
[server.latency]
send_message = "uniform(15, 30)"
[workload]
files = [2, 3]
[[strategies]]
kind = "sequential"
[[strategies]]
kind = "batch"
size = [2]
"""
CASES = 4  # files x (sequential + batch=2)


def _sweep(root: Path, text: str) -> Path:
    store = ResultsStore(root)
    run_sweep(plan_sweep(parse_scenario(text, f"{root.name}.toml", None), store, resume=False), store,
              InlineExecutor())
    return root


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Results directories: the base scenario twice, with the model's call doubled, with another
    seed, with a grid that overlaps the base's in part, with faults, and with no case in common."""
    root = tmp_path_factory.mktemp("compare")
    variants = {
        "a": BASE, "again": BASE,
        "slow": BASE.replace('"uniform(15, 30)"', '"uniform(30, 60)"'),
        "other_seed": BASE.replace("seed = 3", "seed = 4"),
        "partial": BASE.replace("files = [2, 3]", "files = [2]").replace("size = [2]", "size = [2, 3]"),
        "faulty": BASE.replace("[workload]", "[server.faults.send_message]\nhttp_500 = 0.5\n[workload]"),
        "elsewhere": BASE.replace("files = [2, 3]", "files = [7]").replace("repetitions = 3", "repetitions = 1"),
    }
    return {name: _sweep(root / name, text) for name, text in variants.items()}


def _compare(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["compare", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def _rows(a: Path, b: Path, *options: str) -> tuple[str, list[dict[str, object]]]:
    code, out, err = _compare(a, b, "--json", *options)
    assert code == 0, err
    printed = json.loads(out)
    return printed["conclusion"], printed["rows"]


# --- the statistics ------------------------------------------------------------------------------

@pytest.mark.parametrize(("t", "df", "expected", "tolerance"), [
    (2.228, 10, 0.05, 1e-3),  # the 95% critical value of t(10) is 2.2281
    (1.0, 1, 0.5, 1e-12),  # t(1) is Cauchy: P(|T| > 1) = 1/2
    (2.0, 2, 1 - 2 / math.sqrt(6), 1e-12),  # t(2): P(|T| > t) = 1 - t / sqrt(2 + t^2)
    (-2.0, 2, 1 - 2 / math.sqrt(6), 1e-12),  # two-sided: the sign does not matter
    (0.0, 5.5, 1.0, 1e-12), (math.inf, 3, 0.0, 0.0),
])
def test_two_sided_p_matches_known_values(t: float, df: float, expected: float, tolerance: float) -> None:
    assert two_sided_p(t, df) == pytest.approx(expected, abs=tolerance)


@pytest.mark.parametrize("df", [1.0, 2.7, 5.52, 17.3, 400.0])
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_t_critical_inverts_the_p_value_for_any_degrees_of_freedom(df: float, alpha: float) -> None:
    assert two_sided_p(t_critical(df, alpha), df) == pytest.approx(alpha, rel=1e-9)
    assert t_critical(10, 0.05) == t975(10) == pytest.approx(2.2281389, abs=1e-6)


def test_welch_on_a_hand_example() -> None:
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0, 10.0]  # variances 5/3 and 10
    share_a, share_b = 5 / 3 / 4, 10 / 5
    df = (share_a + share_b) ** 2 / (share_a**2 / 3 + share_b**2 / 4)
    assert welch_df(5 / 3, 4, 10.0, 5) == pytest.approx(df, rel=1e-12) == pytest.approx(5.5208, abs=1e-4)
    test = welch_t_test(a, b)
    assert test is not None
    error = math.sqrt(share_a + share_b)
    assert test.difference == pytest.approx(3.5)
    assert test.degrees_of_freedom == pytest.approx(df, rel=1e-12)
    assert test.p_value == pytest.approx(two_sided_p(3.5 / error, df), rel=1e-12)
    assert test.half_width == pytest.approx(t_critical(df, 0.05) * error, rel=1e-12)
    assert min(3, 4) <= test.degrees_of_freedom <= 4 + 5 - 2  # Welch's df lies between these


def test_paired_on_a_hand_example() -> None:
    # differences 1, 2, 1: mean 4/3, standard error 1/3, so t = 4 on 2 degrees of freedom
    test = paired_t_test([10.0, 12.0, 14.0], [11.0, 14.0, 15.0])
    assert test is not None
    assert test.difference == pytest.approx(4 / 3)
    assert test.p_value == pytest.approx(1 - 4 / math.sqrt(18), abs=1e-12)
    assert test.half_width == pytest.approx(4.3026527 / 3, abs=1e-6)


def test_no_test_is_made_without_variance_or_with_one_value() -> None:
    assert paired_t_test([1.0], [2.0]) is None
    assert paired_t_test([1.0, 5.0], [2.0, 6.0]) is None  # every pair differs by exactly 1
    assert welch_t_test([1.0], [2.0, 3.0]) is None
    assert welch_t_test([1.0, 1.0], [2.0, 2.0]) is None


def _frame(makespans: list[float], seeds: list[int], ok: int = 2) -> pd.DataFrame:
    return pd.DataFrame({"files": 2, "folders": 0, "kind": "sequential", "size": math.nan,
                         "seed": seeds, "repetition": range(len(seeds)), "makespan_s": makespans,
                         "files_ok": ok, "files_failed": 2 - ok, "files_skipped": 0})


@pytest.mark.parametrize(("a", "b", "verdict"), [
    (_frame([50.0], [1]), _frame([60.0], [2]), "1 run: no test"),
    (_frame([50.0], [1]), _frame([60.0], [1]), "1 pair: no test"),
    (_frame([50.0], [1]), _frame([50.0], [1]), "identical"),
    (_frame([50.0, 50.0], [1, 2]), _frame([60.0, 60.0], [3, 4]), "slower"),  # no spread: certain
    (_frame([50.0, 50.0], [1, 2]), _frame([50.0, 50.0], [3, 4]), "identical"),
])
def test_what_cannot_be_tested_says_so(a: pd.DataFrame, b: pd.DataFrame, verdict: str) -> None:
    (row,) = compare_runs(a, b)
    assert row.verdict == verdict and row.p_value is None and row.diff_s_ci is None
    assert row.diff_s == pytest.approx(float(b["makespan_s"].mean() - a["makespan_s"].mean()))


def test_pairs_use_only_the_seeds_both_sides_ran() -> None:
    a = _frame([50.0, 52.0, 58.0, 99.0], [1, 2, 3, 4])
    b = _frame([51.0, 54.0, 59.0], [1, 2, 3], ok=1)  # seed 4 missing: its 99 s is not compared
    (row,) = compare_runs(a, b)
    assert (row.test, row.n, row.reps_a, row.reps_b) == ("paired", 3, 4, 3)
    assert row.makespan_s_mean_a == pytest.approx(160 / 3) and row.diff_s == pytest.approx(4 / 3)
    assert row.p_value == pytest.approx(1 - 4 / math.sqrt(18), abs=1e-12)
    assert (row.success_rate_a, row.success_rate_b) == (1.0, 0.5)
    assert conclusion([row]).endswith("(at 5%; paired by seed in 1); B's success rate is lower in 1")


# --- the command on real results directories ----------------------------------------------------

def test_the_same_scenario_twice_is_identical_in_every_case(results: dict[str, Path]) -> None:
    line, rows = _rows(results["a"], results["again"])
    assert line == ("B is faster in 0 of 4 cases in common, slower in 0, no significant difference in 0, "
                    "identical in 4 (at 5%; paired by seed in 4)")
    assert len(rows) == CASES
    assert all(row["verdict"] == "identical" and row["test"] == "paired" and row["n"] == 3
               and row["diff_s"] == 0 and row["diff_pct"] == 0 and row["p_value"] is None for row in rows)


def test_a_slower_model_is_significantly_slower_in_every_case(results: dict[str, Path]) -> None:
    line, rows = _rows(results["a"], results["slow"])
    assert line == ("B is faster in 0 of 4 cases in common, slower in 4, no significant difference in 0 "
                    "(at 5%; paired by seed in 4)")
    for row in rows:
        assert row["verdict"] == "slower" and row["test"] == "paired" and row["p_value"] < 0.01
        # the same draws, every send-message twice as long; the other calls take 0.05 s as before
        assert 1.95 < row["makespan_s_mean_b"] / row["makespan_s_mean_a"] < 2
        assert row["diff_s"] - row["diff_s_ci"] > 0
        assert row["diff_s"] == pytest.approx(row["makespan_s_mean_b"] - row["makespan_s_mean_a"])


def test_other_seeds_are_compared_unpaired_with_welch(results: dict[str, Path]) -> None:
    a, b = load_runs(results["a"]), load_runs(results["other_seed"])
    line, rows = _rows(results["a"], results["other_seed"])
    assert "(at 5%; Welch in 4)" in line
    for row in rows:
        assert row["test"] == "welch" and row["n"] == 6 and 2 <= row["degrees_of_freedom"] <= 4
        assert row["verdict"] == ("no significant difference" if row["p_value"] >= 0.05
                                  else "faster" if row["diff_s"] < 0 else "slower")
        case = (a["files"] == row["files"]) & (a["kind"] == row["strategy"])
        expected = welch_t_test(a[case]["makespan_s"].tolist(),
                                b[(b["files"] == row["files"]) & (b["kind"] == row["strategy"])]["makespan_s"].tolist())
        assert expected is not None and row["p_value"] == pytest.approx(expected.p_value, rel=1e-12)


def test_cases_on_one_side_only_are_listed_as_such(results: dict[str, Path]) -> None:
    line, rows = _rows(results["a"], results["partial"])
    by_case = {(row["files"], row["strategy"], row["size"]): row for row in rows}
    assert {case: row["verdict"] for case, row in by_case.items()} == {
        (2, "batch", 2): "identical", (2, "batch", 3): "only in B", (2, "sequential", None): "identical",
        (3, "batch", 2): "only in A", (3, "sequential", None): "only in A"}
    assert by_case[(3, "batch", 2)]["reps_b"] == 0 and by_case[(3, "batch", 2)]["makespan_s_mean_b"] is None
    assert line.endswith("identical in 2 (at 5%; paired by seed in 2); 2 case(s) only in A, 1 case(s) only in B")


def test_the_table_shows_the_success_rates(results: dict[str, Path]) -> None:
    code, out, _ = _compare(results["a"], results["faulty"])
    first, blank, header, *table = out.splitlines()
    assert code == 0 and blank == "" and "B's success rate is lower in" in first
    assert header == ("| Files | Strategy | Reps A | Reps B | A mean | B mean | B - A | B - A % | 95% CI | p "
                      "| Test | Verdict | Success A | Success B |")
    assert len(table) == 1 + CASES
    _, rows = _rows(results["a"], results["faulty"])
    runs = load_runs(results["faulty"])
    assert rows[0]["success_rate_b"] == pytest.approx(float(
        (runs[(runs["files"] == 2) & (runs["kind"] == "batch")]["files_ok"] / 2).mean()))
    assert all(row["success_rate_a"] == 1 for row in rows) and any(row["success_rate_b"] < 1 for row in rows)


def test_alpha_sets_the_level_of_the_tests_and_intervals(results: dict[str, Path]) -> None:
    code, out, _ = _compare(results["a"], results["slow"], "--alpha", "0.2")
    assert code == 0 and "(at 20%; paired by seed in 4)" in out and "| 80% CI |" in out
    _, wide = _rows(results["a"], results["slow"], "--alpha", "0.01")
    _, narrow = _rows(results["a"], results["slow"], "--alpha", "0.2")
    assert all(w["diff_s_ci"] > n["diff_s_ci"] for w, n in zip(wide, narrow, strict=True))


def _empty_results(folder: Path) -> Path:
    store = ResultsStore(folder)
    store.prepare(parse_scenario(BASE, "empty.toml", None), resume=False)
    return folder


@pytest.mark.parametrize(("make_b", "message"), [
    (lambda tmp, r: tmp / "nowhere", "does not exist"),
    (lambda tmp, r: tmp, "has no manifest.json"),
    (lambda tmp, r: _empty_results(tmp / "empty"), "holds no finished case"),
    (lambda tmp, r: r["elsewhere"], "have no case in common"),
    (lambda tmp, r: r["a"] / "manifest.json", "is a file"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, results: dict[str, Path], make_b, message) -> None:
    code, out, err = _compare(results["a"], make_b(tmp_path, results))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("onyx-bench: error: ") and message in err


@pytest.mark.parametrize("alpha", ["0", "1", "nan", "-0.1"])
def test_an_impossible_alpha_is_refused(results: dict[str, Path], alpha: str) -> None:
    code, _, err = _compare(results["a"], results["again"], "--alpha", alpha)
    assert code == 2 and len(err.splitlines()) == 1 and "--alpha" in err


def test_compare_help_imports_nothing_heavy() -> None:
    assert not modules_after("compare", "--help") & HEAVY
