"""Two results directories side by side: per case, B's makespan against A's, the difference with its
confidence interval, and whether it is significant.

A case is its files, folders, strategy, size and policies (``CASE_KEYS``): runs with different values there
are never pooled. Where both sides ran a case with the same profile seeds (the same drawn
latencies and faults), the comparison is paired: a t-test on the per-seed differences of the
matched runs only. Otherwise it is Welch's t-test (unequal variances). The means shown are over
the runs the comparison used, so that B - A is their difference. No test is made with one run
(or one pair); equal values throughout are "identical", and values with no spread at all that
differ (deterministic runs) are faster or slower with certainty. Cases on one side
only are listed as such. The success rate (items ok over items) is set beside the makespans: a
faster run that failed more items is not better.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from reports.stats import TTest, paired_t_test, welch_t_test
from reports.summary import CASE_KEYS, label, with_folders

ONLY_IN_A = "only in A"
ONLY_IN_B = "only in B"
IDENTICAL = "identical"
NO_DIFFERENCE = "no significant difference"

CaseKey = tuple[int, int, str, int | None, str]


@dataclass(frozen=True)
class CompareRow:
    files: int
    folders: int
    strategy: str
    size: int | None
    reps_a: int
    reps_b: int
    test: str | None  # "paired", "welch", or None (one side only, or no test possible)
    n: int  # pairs (paired), else runs compared
    makespan_s_mean_a: float | None  # over the runs compared
    makespan_s_mean_b: float | None
    diff_s: float | None  # B - A, simulated seconds
    diff_pct: float | None  # of A's mean
    diff_s_ci: float | None  # half-width of its (1 - alpha) confidence interval
    p_value: float | None  # two-sided
    degrees_of_freedom: float | None
    verdict: str  # faster, slower, no significant difference, identical, ... no test, only in A/B
    success_rate_a: float | None
    success_rate_b: float | None
    policy: str = ""  # the policies off their defaults (``reports.summary.CASE_KEYS``)


def compare_runs(a: pd.DataFrame, b: pd.DataFrame, alpha: float = 0.05) -> list[CompareRow]:
    """One row per case of A or B (``load_runs`` frames), in case order."""
    cases_a, cases_b = _cases(a), _cases(b)
    return [_compare_case(key, cases_a.get(key), cases_b.get(key), alpha)
            for key in sorted({*cases_a, *cases_b}, key=_sort_key)]


def _cases(runs: pd.DataFrame) -> dict[CaseKey, pd.DataFrame]:
    if runs.empty:
        return {}
    return {(int(files), int(folders), str(kind), None if pd.isna(size) else int(size), str(policy)): group
            for (files, folders, kind, size, policy), group
            in with_folders(runs).groupby(CASE_KEYS, dropna=False, sort=False)}


def _sort_key(key: CaseKey) -> tuple[int, int, str, int, str]:
    files, folders, kind, size, policy = key
    return files, folders, kind, -1 if size is None else size, policy


def _success_rate(group: pd.DataFrame | None) -> float | None:
    if group is None:
        return None
    items = group["files_ok"] + group["files_failed"] + group["files_skipped"]
    return float((group["files_ok"] / items).mean())


def _by_seed(group: pd.DataFrame) -> pd.Series:
    """Makespan by profile seed (a mean, should a side hold one seed twice)."""
    return group.groupby("seed")["makespan_s"].mean()


def _compare_case(key: CaseKey, a: pd.DataFrame | None, b: pd.DataFrame | None, alpha: float) -> CompareRow:
    files, folders, kind, size, policy = key
    common: dict[str, Any] = {"files": files, "folders": folders, "strategy": kind, "size": size, "policy": policy,
                              "reps_a": 0 if a is None else len(a), "reps_b": 0 if b is None else len(b),
                              "success_rate_a": _success_rate(a), "success_rate_b": _success_rate(b)}
    if a is None or b is None:
        return _one_side(common, a, b)
    seeds_a, seeds_b = _by_seed(a), _by_seed(b)
    seeds = seeds_a.index.intersection(seeds_b.index).sort_values()
    if len(seeds):
        values_a, values_b = seeds_a[seeds].tolist(), seeds_b[seeds].tolist()
        test, result, n = "paired", paired_t_test(values_a, values_b, alpha), len(seeds)
        difference = math.fsum(y - x for x, y in zip(values_a, values_b, strict=True)) / n
    else:
        values_a, values_b = a["makespan_s"].tolist(), b["makespan_s"].tolist()
        test, result, n = "welch", welch_t_test(values_a, values_b, alpha), len(values_a) + len(values_b)
        difference = math.fsum(values_b) / len(values_b) - math.fsum(values_a) / len(values_a)
    mean_a = math.fsum(values_a) / len(values_a)
    return CompareRow(**common, test=test, n=n, makespan_s_mean_a=mean_a,
                      makespan_s_mean_b=math.fsum(values_b) / len(values_b), diff_s=difference,
                      diff_pct=100 * difference / mean_a if mean_a else None,
                      diff_s_ci=None if result is None else result.half_width,
                      p_value=None if result is None else result.p_value,
                      degrees_of_freedom=None if result is None else result.degrees_of_freedom,
                      verdict=_verdict(test, result, values_a, values_b, alpha))


def _one_side(common: dict[str, Any], a: pd.DataFrame | None, b: pd.DataFrame | None) -> CompareRow:
    """A case that only one of the two directories ran."""
    def mean(group: pd.DataFrame | None) -> float | None:
        return None if group is None else float(group["makespan_s"].mean())

    return CompareRow(**common, test=None, n=common["reps_a"] + common["reps_b"], makespan_s_mean_a=mean(a),
                      makespan_s_mean_b=mean(b), diff_s=None, diff_pct=None, diff_s_ci=None, p_value=None,
                      degrees_of_freedom=None, verdict=ONLY_IN_A if b is None else ONLY_IN_B)


def _verdict(test: str, result: TTest | None, a: list[float], b: list[float], alpha: float) -> str:
    if result is not None:
        if result.p_value >= alpha:
            return NO_DIFFERENCE
        return "faster" if result.difference < 0 else "slower"
    if (a == b) if test == "paired" else (len(set(a) | set(b)) == 1):
        return IDENTICAL
    if test == "paired" and len(a) == 1:
        return "1 pair: no test"
    if test == "welch" and min(len(a), len(b)) == 1:
        return "1 run: no test"
    # No spread at all (deterministic runs, virtual mode): the difference is certain, not noise.
    return "faster" if sum(b) / len(b) < sum(a) / len(a) else "slower"


def conclusion(rows: list[CompareRow], alpha: float = 0.05) -> str:
    """One line: in how many of the cases in common B is faster, slower, or neither."""
    both = [row for row in rows if row.test is not None]
    verdicts = Counter("no test" if row.verdict.endswith("no test") else row.verdict for row in both)
    parts = [f"B is faster in {verdicts['faster']} of {len(both)} cases in common",
             f"slower in {verdicts['slower']}", f"{NO_DIFFERENCE} in {verdicts[NO_DIFFERENCE]}"]
    parts += [f"{name} in {verdicts[name]}" for name in (IDENTICAL, "no test") if verdicts[name]]
    tests = Counter(row.test for row in both)
    how = [f"{name} in {tests[test]}" for test, name in (("paired", "paired by seed"), ("welch", "Welch"))
           if tests[test]]
    line = f"{', '.join(parts)} (at {100 * alpha:g}%; {', '.join(how)})"
    lower = sum(1 for row in both if row.success_rate_a is not None and row.success_rate_b is not None
                and row.success_rate_b < row.success_rate_a - 1e-12)
    if lower:
        line += f"; B's success rate is lower in {lower}"
    only = Counter(row.verdict for row in rows if row.test is None)
    extra = [f"{count} case(s) {name}" for name in (ONLY_IN_A, ONLY_IN_B) if (count := only[name])]
    return line + (f"; {', '.join(extra)}" if extra else "")


def compare_json(rows: list[CompareRow]) -> list[dict[str, Any]]:
    return [{key: (None if isinstance(value, float) and math.isnan(value) else value)
             for key, value in asdict(row).items()} for row in rows]


def _cell(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None or math.isnan(value) else f"{value:{spec}}{suffix}"


def _p_cell(p: float | None) -> str:
    return "-" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _test_cell(row: CompareRow) -> str:
    if row.test == "paired":
        return f"paired ({row.n})"
    return "-" if row.test is None else f"Welch (df {_cell(row.degrees_of_freedom, '.1f')})"


def compare_frame(rows: list[CompareRow], alpha: float = 0.05) -> pd.DataFrame:
    """Printed cells, for the terminal."""
    ci = f"{100 * (1 - alpha):g}% CI"
    return pd.DataFrame([{
        "Files": str(row.files) if row.folders == 0 else f"{row.files} + {row.folders} folders",
        "Strategy": label(row.strategy, row.size, row.policy),
        "Reps A": str(row.reps_a), "Reps B": str(row.reps_b),
        "A mean": _cell(row.makespan_s_mean_a, ".1f", " s"), "B mean": _cell(row.makespan_s_mean_b, ".1f", " s"),
        "B - A": _cell(row.diff_s, "+.2f", " s"), "B - A %": _cell(row.diff_pct, "+.1f", "%"),
        ci: "-" if row.diff_s_ci is None else f"± {row.diff_s_ci:.2f} s",
        "p": _p_cell(row.p_value), "Test": _test_cell(row), "Verdict": row.verdict,
        "Success A": _cell(None if row.success_rate_a is None else 100 * row.success_rate_a, ".0f", "%"),
        "Success B": _cell(None if row.success_rate_b is None else 100 * row.success_rate_b, ".0f", "%"),
    } for row in rows], columns=["Files", "Strategy", "Reps A", "Reps B", "A mean", "B mean", "B - A",
                                 "B - A %", ci, "p", "Test", "Verdict", "Success A", "Success B"])
