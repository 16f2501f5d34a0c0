"""The seed's Scalability table, side by side with what was measured and the closed form.

Speedup is as the seed defines it: 1 - parallel / sequential. Two measures of it: ``speedup_pct``
from the mean makespans (a ratio of means, as the seed's table does), and ``paired_speedup_pct``, the
mean over repetitions of each run's speedup over the sequential run of the same repetition (the same
seed, so the same drawn latencies), with the half-width of its 95% confidence interval. The printed
table shows the paired one. Rows with different folder counts are never pooled; the seed's figures
are set beside the rows without folders only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from reports.stats import mean_ci95
from reports.summary import CASE_KEYS, with_folders

# The seed's published figures (shared/seed/PARALLEL_FILE_PROCESSING.md): files ->
# (sequential s, parallel batch=8 s, speedup %).
SEED_TABLE: dict[int, tuple[float, float, float]] = {
    3: (60, 25, 58), 10: (200, 45, 77), 20: (400, 70, 82), 50: (1000, 160, 84)}
SEED_BATCH_SIZE = 8


@dataclass(frozen=True)
class Row:
    files: int
    folders: int
    strategy: str
    size: int | None
    mode: str  # real or virtual
    reps: int
    makespan_s_mean: float
    makespan_s_ci95: float
    expected_makespan_s: float | None
    speedup_pct: float | None  # 1 - mean parallel / mean sequential: a ratio of means
    expected_speedup_pct: float | None
    seed_makespan_s: float | None
    seed_speedup_pct: float | None
    success_rate: float
    paired_speedup_pct: float | None = None  # mean over repetitions of 1 - parallel / sequential
    paired_speedup_pct_ci95: float | None = None  # half-width of its 95% CI (nan with one repetition)


def seed_table_rows(runs: pd.DataFrame) -> list[Row]:
    """One row per (files, folders, strategy, size): sequential first, then each batch size. The
    seed's strategies as the seed ran them: runs with a policy off its default are left out."""
    runs = with_folders(runs)
    runs = runs[runs["policy"] == ""]
    sequential = {key: _by_repetition(group) for key, group
                  in runs[runs["kind"] == "sequential"].groupby(["files", "folders"], sort=True)}
    rows = []
    for (files, folders, kind, size, _), group in runs.groupby(CASE_KEYS, dropna=False, sort=True):
        mean, ci = mean_ci95(group["makespan_s"].tolist())
        base = None if kind == "sequential" else sequential.get((files, folders))
        paired, paired_ci = _paired_speedup_pct(group, base)
        items = group["files_ok"] + group["files_failed"] + group["files_skipped"]
        expected = group["expected_mean_makespan_s"].dropna()
        rows.append(Row(
            files=int(files), folders=int(folders), strategy=str(kind), size=None if pd.isna(size) else int(size),
            mode=", ".join(sorted(set(group["mode"]))), reps=len(group), makespan_s_mean=mean, makespan_s_ci95=ci,
            expected_makespan_s=float(expected.iloc[0]) if len(expected) else None,
            speedup_pct=None, expected_speedup_pct=None, seed_makespan_s=None, seed_speedup_pct=None,
            success_rate=float((group["files_ok"] / items).mean()),
            paired_speedup_pct=paired, paired_speedup_pct_ci95=paired_ci))
    return _with_speedups(rows)


def _by_repetition(group: pd.DataFrame) -> pd.Series:
    """Makespan by repetition (a mean, should a results set hold one repetition twice)."""
    return group.groupby("repetition")["makespan_s"].mean()


def _paired_speedup_pct(group: pd.DataFrame, sequential: pd.Series | None) -> tuple[float | None, float | None]:
    """Mean and 95% CI half-width of 100 * (1 - parallel / sequential), per repetition, each run
    against the sequential run of the same repetition; None without such pairs."""
    if sequential is None:
        return None, None
    own = _by_repetition(group)
    common = own.index.intersection(sequential.index)
    if common.empty:
        return None, None
    return mean_ci95((100 * (1 - own[common] / sequential[common])).tolist())


def _with_speedups(rows: list[Row]) -> list[Row]:
    sequential = {(row.files, row.folders): row for row in rows if row.strategy == "sequential"}
    finished = []
    for row in rows:
        base = sequential.get((row.files, row.folders))
        seed = SEED_TABLE.get(row.files) if row.folders == 0 else None
        changes: dict[str, Any] = {}
        if seed is not None and row.strategy == "sequential":
            changes["seed_makespan_s"] = seed[0]
        if seed is not None and row.strategy == "batch" and row.size == SEED_BATCH_SIZE:
            changes.update(seed_makespan_s=seed[1], seed_speedup_pct=seed[2])
        if base is not None and row.strategy != "sequential":
            changes["speedup_pct"] = 100 * (1 - row.makespan_s_mean / base.makespan_s_mean)
            if base.expected_makespan_s and row.expected_makespan_s:
                changes["expected_speedup_pct"] = 100 * (1 - row.expected_makespan_s
                                                         / base.expected_makespan_s)
        finished.append(Row(**{**asdict(row), **changes}))
    return finished


def rows_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [{key: (None if isinstance(value, float) and math.isnan(value) else value)
             for key, value in asdict(row).items()} for row in rows]


def _cell(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}{suffix}"


def _measured(mean: float | None, ci: float | None, unit: str) -> str:
    """``67.3 ± 2.2 s``; ``67.3 s (1 run)`` where one repetition gives no interval."""
    if mean is None or math.isnan(mean):
        return "-"
    if ci is None or math.isnan(ci):
        return f"{mean:.1f}{unit} (1 run)"
    return f"{mean:.1f} ± {ci:.1f}{unit}"


def seed_table_frames(rows: list[Row]) -> dict[int, pd.DataFrame]:
    """The seed's table for each batch size measured beside sequential, as printed cells: the
    seed's figures, the measured mean ± 95% CI, and the closed form. The measured speedup is the
    paired one: the mean over repetitions of each run's speedup over the same repetition's
    sequential run ± 95% CI. A file count without a sequential run has no row (no speedup to
    show), and a column with nothing in it (the seed's figures beside file counts the seed did not
    measure, a closed form where none applies) is left out."""
    sequential = {(row.files, row.folders): row for row in rows if row.strategy == "sequential"}
    sizes = sorted({row.size for row in rows if row.strategy == "batch" and row.size is not None})
    frames = {}
    for size in sizes:
        cells = []
        for row in (r for r in rows if r.strategy == "batch" and r.size == size):
            base = sequential.get((row.files, row.folders))
            if base is None:
                continue
            seed = SEED_TABLE.get(row.files) if row.folders == 0 else None
            cells.append({
                "Files": str(row.files) if row.folders == 0 else f"{row.files} + {row.folders} folders",
                "Sequential (seed)": _cell(seed[0] if seed else None, 0, " s"),
                "Sequential measured": _measured(base.makespan_s_mean, base.makespan_s_ci95, " s"),
                "Sequential closed form": _cell(base.expected_makespan_s, 1, " s"),
                f"Batch={size} (seed)": _cell(row.seed_makespan_s, 0, " s"),
                f"Batch={size} measured": _measured(row.makespan_s_mean, row.makespan_s_ci95, " s"),
                f"Batch={size} closed form": _cell(row.expected_makespan_s, 1, " s"),
                "Speedup (seed)": _cell(row.seed_speedup_pct, 0, "%"),
                "Speedup measured": _measured(row.paired_speedup_pct, row.paired_speedup_pct_ci95, "%"),
                "Speedup closed form": _cell(row.expected_speedup_pct, 1, "%"),
            })
        if cells:
            frame = pd.DataFrame(cells)
            frames[size] = frame.loc[:, (frame != "-").any()]
    return frames


def frame_to_markdown(frame: pd.DataFrame) -> str:
    """A DataFrame of printed cells as a Markdown table (numbers right-aligned)."""
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---:" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def markdown_table(rows: list[Row]) -> str:
    return "\n\n".join(f"### Sequential vs batch={size}\n\n{frame_to_markdown(frame)}"
                        for size, frame in seed_table_frames(rows).items())
