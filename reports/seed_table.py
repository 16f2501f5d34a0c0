"""The seed's Scalability table, side by side with what was measured and the closed form.

Speedup is as the seed defines it: 1 - parallel / sequential, from the mean makespans.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from reports.stats import mean_ci95

# The seed's published figures (shared/seed/PARALLEL_FILE_PROCESSING.md): files ->
# (sequential s, parallel batch=8 s, speedup %).
SEED_TABLE: dict[int, tuple[float, float, float]] = {
    3: (60, 25, 58), 10: (200, 45, 77), 20: (400, 70, 82), 50: (1000, 160, 84)}
SEED_BATCH_SIZE = 8


@dataclass(frozen=True)
class Row:
    files: int
    strategy: str
    size: int | None
    mode: str  # real or virtual
    reps: int
    makespan_s_mean: float
    makespan_s_ci95: float
    expected_makespan_s: float | None
    speedup_pct: float | None
    expected_speedup_pct: float | None
    seed_makespan_s: float | None
    seed_speedup_pct: float | None
    success_rate: float


def seed_table_rows(runs: pd.DataFrame) -> list[Row]:
    """One row per (files, strategy, size): sequential first, then each batch size."""
    rows = []
    for (files, kind, size), group in runs.groupby(["files", "kind", "size"], dropna=False, sort=True):
        mean, ci = mean_ci95(group["makespan_s"].tolist())
        items = group["files_ok"] + group["files_failed"] + group["files_skipped"]
        expected = group["expected_mean_makespan_s"].dropna()
        rows.append(Row(
            files=int(files), strategy=str(kind), size=None if pd.isna(size) else int(size),
            mode=", ".join(sorted(set(group["mode"]))), reps=len(group), makespan_s_mean=mean, makespan_s_ci95=ci,
            expected_makespan_s=float(expected.iloc[0]) if len(expected) else None,
            speedup_pct=None, expected_speedup_pct=None, seed_makespan_s=None, seed_speedup_pct=None,
            success_rate=float((group["files_ok"] / items).mean())))
    return _with_speedups(rows)


def _with_speedups(rows: list[Row]) -> list[Row]:
    sequential = {row.files: row for row in rows if row.strategy == "sequential"}
    finished = []
    for row in rows:
        base = sequential.get(row.files)
        seed = SEED_TABLE.get(row.files)
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


def seed_table_frames(rows: list[Row]) -> dict[int, pd.DataFrame]:
    """The seed's table for each batch size present, as printed cells: the seed's figures, the
    measured mean ± 95% CI, and the closed form."""
    sequential = {row.files: row for row in rows if row.strategy == "sequential"}
    sizes = sorted({row.size for row in rows if row.strategy == "batch" and row.size is not None})
    frames = {}
    for size in sizes:
        cells = []
        for row in (r for r in rows if r.strategy == "batch" and r.size == size):
            base = sequential.get(row.files)
            seed = SEED_TABLE.get(row.files)
            cells.append({
                "Files": str(row.files),
                "Sequential (seed)": _cell(seed[0] if seed else None, 0, " s"),
                "Sequential measured": (f"{_cell(base.makespan_s_mean)} ± {_cell(base.makespan_s_ci95)} s"
                                        if base else "-"),
                "Sequential closed form": _cell(base.expected_makespan_s if base else None, 1, " s"),
                f"Batch={size} (seed)": _cell(row.seed_makespan_s, 0, " s"),
                f"Batch={size} measured": f"{_cell(row.makespan_s_mean)} ± {_cell(row.makespan_s_ci95)} s",
                f"Batch={size} closed form": _cell(row.expected_makespan_s, 1, " s"),
                "Speedup (seed)": _cell(row.seed_speedup_pct, 0, "%"),
                "Speedup measured": _cell(row.speedup_pct, 1, "%"),
                "Speedup closed form": _cell(row.expected_speedup_pct, 1, "%"),
            })
        frames[size] = pd.DataFrame(cells)
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
