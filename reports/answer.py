"""The answer a results directory gives, in a few sentences: what was fastest, by how much, how
sure that is, and what it cost in lost files. Printed first by ``sweep`` and ``reproduce`` and at
the top of every report.

Comparisons are paired: every strategy of one repetition ran against the same seed's draws, so
each run is compared with the other strategy's run of the same seed, and the difference's 95% CI
says whether it is more than noise. The headline is the largest file count without folders (or
with the fewest), where the choice of strategy matters most.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from reports.stats import mean_ci95
from mock_onyx.errors import ConfigError
from reports.summary import CASE_KEYS, label, with_folders
from scenarios import LoadedScenario, Scenario
from scenarios.loader import scenario_grid

TIE = 1e-9  # relative: strategies this close in mean makespan ran the same schedule


CAUTION_LINES = 5  # strategies that lost files, named one per line; the rest counted


def answer_lines(runs: pd.DataFrame, total_cases: int | None = None) -> list[str]:
    """A few lines stating what the runs show; ``total_cases``: how many the sweep planned.

    Only strategies that lost no file in any repetition compete for "fastest": a run that lost
    its files (a crashed server cuts every stream at once; a dropped frontend ends the run at its
    timeout) ends early, and its makespan is no speed. Those are named after, with what broke."""
    runs = with_folders(runs)
    lines = []
    finished = len(runs)
    if total_cases is not None and finished < total_cases:
        lines.append(f"partial: {finished} of {total_cases} cases finished; the figures below "
                     f"cover those alone (--resume finishes the sweep)")
    if runs.empty:
        return lines
    folders = int(runs["folders"].min())
    shown = runs[runs["folders"] == folders]
    files = int(shown["files"].max())
    at = _files(files) + (f" + {folders} folders" if folders else "")
    cases = _case_means(shown[shown["files"] == files])
    clean = cases[cases["success"] == 1].reset_index(drop=True)
    if clean.empty:
        best = cases.sort_values(["success", "makespan_s"], ascending=[False, True]).iloc[0]
        lines.append(f"no strategy kept every file at {at}; the one that lost fewest: "
                     f"{_name(best)}, {100 * (1 - best['success']):.1f}% lost, {best['makespan_s']:.1f} s")
        return lines + _losses(shown, cases, None)
    fastest = clean.iloc[0]
    name = _name(fastest)
    if len(cases) == 1:
        lines.append(f"only {name} ran at {at}: {fastest['makespan_s']:.1f} s; nothing to compare it with")
        return lines
    lines.append(f"fastest{' that lost no file' if len(clean) < len(cases) else ''}: {name}"
                 f"{_everywhere(shown, name, files)}; at {at} {fastest['makespan_s']:.1f} s"
                 + _against_sequential(shown, cases, fastest))
    runner_up = clean.iloc[1] if len(clean) > 1 else None
    others = ([] if runner_up is None else [runner_up]) + [
        best for kind, best in _best_per_kind(clean).items()
        if kind not in (fastest["kind"], None if runner_up is None else runner_up["kind"], "sequential")]
    for other in others:
        difference = _paired_pct(shown, other, fastest)
        lines.append(f"then {_name(other)}: {other['makespan_s']:.1f} s, {_signed(difference, name)}")
    return lines + _losses(shown, cases, fastest)


def _name(case: pd.Series) -> str:
    return label(case["kind"], case["size"], case["policy"])


def _case_means(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per strategy, size and policy: mean makespan, success rate (1 only if every
    repetition kept every file), repetitions; fastest first."""
    items = runs["files_ok"] + runs["files_failed"] + runs["files_skipped"]
    runs = runs.assign(success=runs["files_ok"] / items)
    means = runs.groupby(CASE_KEYS, dropna=False, sort=False).agg(
        makespan_s=("makespan_s", "mean"), success=("success", "mean"), reps=("makespan_s", "size"))
    return means.reset_index().sort_values(["makespan_s", "kind", "size"], ignore_index=True)


def _files(n: int) -> str:
    return "1 file" if n == 1 else f"{n} files"


def _best_per_kind(cases: pd.DataFrame) -> dict[str, pd.Series]:
    return {kind: group.iloc[0] for kind, group in cases.groupby("kind", sort=True)}


def _everywhere(runs: pd.DataFrame, name: str, files: int) -> str:
    """Whether the fastest at the headline count (of those that lost no file) is the fastest at
    every file count."""
    counts = sorted(int(n) for n in runs["files"].unique())
    if len(counts) == 1:
        return ""
    elsewhere = []
    for n in counts:
        means = _case_means(runs[runs["files"] == n])
        means = means[means["success"] == 1]  # as at the headline: only those that lost no file
        if means.empty:
            elsewhere.append(f"none kept every file at {_files(n)}")
            continue
        tied = means[means["makespan_s"] <= means["makespan_s"].iloc[0] * (1 + TIE)]  # e.g. one batch
        labels = [label(kind, size, policy)
                  for kind, size, policy in zip(tied["kind"], tied["size"], tied["policy"], strict=True)]
        if name not in labels:
            elsewhere.append(f"{labels[0]} at {_files(n)}")
    if not elsewhere:
        return f" at every file count ({', '.join(map(str, counts))})"
    return f" at {_files(files)} (elsewhere: {'; '.join(elsewhere)})"


def _against_sequential(runs: pd.DataFrame, cases: pd.DataFrame, fastest: pd.Series) -> str:
    sequential = cases[cases["kind"] == "sequential"]
    if fastest["kind"] == "sequential":
        return ""
    if sequential.empty:
        return " (no sequential run in this scenario to measure a speedup against)"
    if sequential.iloc[0]["success"] < 1:
        return (f" (sequential lost {100 * (1 - sequential.iloc[0]['success']):.1f}% of its files: "
                f"no speedup against it)")
    mean, ci, pairs = _paired_values(runs, fastest, sequential.iloc[0], lambda own, base: 100 * (1 - own / base))
    return f", {_percent(mean, ci, pairs)} faster than sequential"


def _paired_pct(runs: pd.DataFrame, case: pd.Series, reference: pd.Series) -> tuple[float, float, int]:
    """100 * (case / reference - 1) per seed: mean, CI half-width, pairs."""
    return _paired_values(runs, case, reference, lambda own, base: 100 * (own / base - 1))


def _paired_values(runs: pd.DataFrame, case: pd.Series, reference: pd.Series,
                   measure: object) -> tuple[float, float, int]:
    own, base = _by_seed(runs, case), _by_seed(runs, reference)
    seeds = own.index.intersection(base.index)
    if seeds.empty:  # no common seed: compare the means (no interval)
        return float(measure(own.mean(), base.mean())), math.nan, 0  # type: ignore[operator]
    mean, ci = mean_ci95([float(measure(own[s], base[s])) for s in seeds])  # type: ignore[operator]
    return mean, ci, len(seeds)


def _by_seed(runs: pd.DataFrame, case: pd.Series) -> pd.Series:
    return runs[_same_case(runs, case)].groupby("seed")["makespan_s"].mean()


def _percent(mean: float, ci: float, pairs: int) -> str:
    """``87.5 ± 0.2%`` (the 95% CI of paired runs), ``87.5% (1 run)``, or of unpaired means."""
    if pairs == 0:
        return f"{mean:.1f}% (means of runs with no seed in common)"
    if math.isnan(ci):
        return f"{mean:.1f}% (1 run)"
    return f"{mean:.1f} ± {ci:.1f}%"


def _signed(difference: tuple[float, float, int], reference: str) -> str:
    mean, ci, pairs = difference
    if pairs and mean == 0 and (ci == 0 or math.isnan(ci)):
        return f"the same as {reference} in every run"
    text = f"{_percent(abs(mean), ci, pairs)} {'slower' if mean > 0 else 'faster'} than {reference}"
    if pairs >= 2 and not math.isnan(ci) and abs(mean) <= ci:
        return f"{text} (within noise: the 95% CI spans 0)"
    return text


def _losses(runs: pd.DataFrame, cases: pd.DataFrame, fastest: pd.Series | None) -> list[str]:
    """A caution for each strategy that lost files at the headline count, with what broke: the
    server crashed, or the frontend dropped the run (first the ones that ended sooner than the
    fastest that lost none: they are the ones a makespan alone would recommend)."""
    losing = cases[cases["success"] < 1]
    if fastest is not None:
        losing = pd.concat([losing[losing["makespan_s"] < fastest["makespan_s"]],
                            losing[losing["makespan_s"] >= fastest["makespan_s"]]])
    lines = []
    for _, row in losing.head(CAUTION_LINES).iterrows():
        group = runs[_same_case(runs, row)]
        crashed = int((group["server_crashes"].fillna(0) > 0).sum()) if "server_crashes" in group else 0
        dropped = int(group["idle_timeout_hit"].fillna(False).astype(bool).sum()) \
            if "idle_timeout_hit" in group else 0
        broke = [f"{what} in {count} of {len(group)} runs"
                 for what, count in (("the server crashed", crashed), ("the frontend dropped it", dropped)) if count]
        sooner = (f"ended sooner ({row['makespan_s']:.1f} s) but "
                  if fastest is not None and row["makespan_s"] < fastest["makespan_s"] else "")
        lines.append(f"caution: {_name(row)} {sooner}lost {100 * (1 - row['success']):.1f}% of its files"
                     + (f" ({'; '.join(broke)})" if broke else " (failed or skipped)"))
    if len(losing) > CAUTION_LINES:
        lines.append(f"caution: ... and {len(losing) - CAUTION_LINES} more strategies lost files")
    return lines


def _same_case(runs: pd.DataFrame, case: pd.Series) -> pd.Series:
    return ((runs["files"] == case["files"]) & (runs["folders"] == case["folders"])
            & (runs["kind"] == case["kind"]) & (runs["policy"] == case["policy"])
            & (runs["size"].isna() if pd.isna(case["size"]) else runs["size"] == case["size"]))


def recorded_scenario(manifest: dict[str, Any]) -> Scenario | None:
    """The scenario (with its command-line overrides) that wrote these results: its grid and
    settings, read without the files its server table names (a CSV that moved, or one outside its
    folder that the sweep was allowed to read, changes neither the cases it planned nor its idle
    timeout)."""
    folder = Path(manifest["scenario_dir"]) if manifest.get("scenario_dir") else None
    try:
        source = manifest["scenario_source"]
        loaded = LoadedScenario(scenario_grid(manifest["scenario_text"], source), source,
                                manifest["scenario_text"], folder)
        return loaded.with_overrides(**(manifest.get("overrides") or {})).scenario
    except (ConfigError, KeyError, TypeError):
        return None  # a manifest from an older format


def planned_cases(manifest: dict[str, Any]) -> int | None:
    """How many cases the sweep that wrote these results planned (its scenario and overrides)."""
    scenario = recorded_scenario(manifest)
    return None if scenario is None else len(scenario.cases())
