"""The main job's cross-check: the table's virtual-mode means against the same cases run through
the aiohttp mock on loopback sockets, paired repetition by repetition (the same seeds, so the same
drawn latencies): what is left between them is real mode's own overhead."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from reports.summary import CASE_KEYS, with_folders


@dataclass(frozen=True)
class CrossCheckRow:
    files: int
    strategy: str
    size: int | None
    reps: int
    time_scale: float  # the real runs'
    virtual_makespan_s_mean: float  # over the same repetitions as the real runs
    real_makespan_s_mean: float
    diff_pct: float  # 100 * (real / virtual - 1)
    real_overhead_pct_mean: float | None  # each real run's own measure (harness.overhead)


def cross_check_rows(virtual_runs: pd.DataFrame, real_runs: pd.DataFrame) -> list[CrossCheckRow]:
    virtual_runs, real_runs = with_folders(virtual_runs), with_folders(real_runs)
    rows = []
    for (files, folders, kind, size, policy), real in real_runs.groupby(CASE_KEYS, dropna=False, sort=True):
        same_case = ((virtual_runs["files"] == files) & (virtual_runs["folders"] == folders)
                     & (virtual_runs["kind"] == kind) & (virtual_runs["policy"] == policy)
                     & (virtual_runs["size"].isna() if pd.isna(size) else virtual_runs["size"] == size))
        virtual = virtual_runs[same_case & virtual_runs["repetition"].isin(real["repetition"])]
        if len(virtual) != len(real):
            continue  # a repetition missing on one side: no paired comparison to make
        virtual_mean = float(virtual["makespan_s"].mean())
        real_mean = float(real["makespan_s"].mean())
        overheads = real.get("harness_overhead_pct", pd.Series(dtype=float)).dropna()
        rows.append(CrossCheckRow(
            files=int(files), strategy=str(kind), size=None if pd.isna(size) else int(size),
            reps=len(real), time_scale=float(real["time_scale"].iloc[0]),
            virtual_makespan_s_mean=virtual_mean, real_makespan_s_mean=real_mean,
            diff_pct=100 * (real_mean / virtual_mean - 1),
            real_overhead_pct_mean=float(overheads.mean()) if len(overheads) else None))
    return rows


def cross_check_json(rows: list[CrossCheckRow]) -> list[dict[str, Any]]:
    return [{key: (None if isinstance(value, float) and math.isnan(value) else value)
             for key, value in asdict(row).items()} for row in rows]


def cross_check_frame(rows: list[CrossCheckRow]) -> pd.DataFrame:
    """Printed cells, for the terminal and the report."""
    return pd.DataFrame([{
        "Files": str(row.files),
        "Strategy": row.strategy if row.size is None else f"{row.strategy}={row.size}",
        "Reps": str(row.reps),
        "Time scale": f"{row.time_scale:g}",
        "Virtual mean": f"{row.virtual_makespan_s_mean:.1f} s",
        "Real mean": f"{row.real_makespan_s_mean:.1f} s",
        "Difference": f"{row.diff_pct:+.2f}%",
    } for row in rows], columns=["Files", "Strategy", "Reps", "Time scale", "Virtual mean",
                                 "Real mean", "Difference"])
