"""The summary table: one row per strategy x size x file count x folder count, over repetitions."""

from __future__ import annotations

import pandas as pd

from reports.stats import mean_ci95
from scenarios.policies import default_retry

SUMMARY_COLUMNS = ["files", "folders", "strategy", "size", "heartbeat_s", "retry", "rate_limit", "policy", "reps",
                   "makespan_s_mean", "makespan_s_p50",
                   "makespan_s_p95", "makespan_s_ci95", "expected_makespan_s", "success_rate",
                   "failed_by_kind", "max_progress_gap_s", "idle_timeout_hits", "server_peak_inflight",
                   "server_crashes", "cut_by_crash", "refused_connections", "queue_wait_s",
                   "harness_overhead_pct"]
# Runs with different values here are never pooled. ``policy`` names the strategy's policies off
# their defaults ("" for none; ``scenarios.policies``): heartbeats, retry and rate limit.
CASE_KEYS = ["files", "folders", "kind", "size", "policy"]
P50_MIN_REPS = 3
P95_MIN_REPS = 20  # with fewer, the empirical 95th percentile is (nearly) just the largest value


def summary_table(runs: pd.DataFrame, files: pd.DataFrame) -> pd.DataFrame:
    """Makespan mean, p50, p95 and 95% CI; success rate; failed items by error kind; the longest
    progress gap and the server's peak in flight (the largest over repetitions); the mock's
    crashes, requests cut by them and refused calls (the largest over repetitions) and seconds
    waited for a worker (the mean; ``mock_onyx.capacity``); the harness's own overhead (mean %,
    ``harness.overhead``; 0 in virtual mode).

    Percentiles the sample cannot support are None (printed "-"): p50 needs at least 3
    repetitions, p95 at least 20 (with fewer, the empirical 95th percentile is just the largest
    value, or an interpolation towards it)."""
    failed = files[files["status"] == "failed"]
    rows = []
    for (n_files, n_folders, kind, size, policy), group in with_folders(runs).groupby(CASE_KEYS, dropna=False,
                                                                                     sort=True):
        makespans = group["makespan_s"]
        mean, ci = mean_ci95(makespans.tolist())
        items = group["files_ok"] + group["files_failed"] + group["files_skipped"]
        kinds = failed[failed["case_id"].isin(group["case_id"])]["error_kind"].value_counts()
        expected = group["expected_mean_makespan_s"].dropna()
        rows.append({
            "files": int(n_files), "folders": int(n_folders), "strategy": kind,
            "size": None if pd.isna(size) else int(size), "heartbeat_s": float(group["heartbeat_s"].iloc[0]),
            "retry": str(group["retry"].iloc[0]), "rate_limit": float(group["rate_limit"].iloc[0]),
            "policy": policy, "reps": len(group), "makespan_s_mean": mean,
            "makespan_s_p50": _quantile_or_none(makespans, 0.5, P50_MIN_REPS),
            "makespan_s_p95": _quantile_or_none(makespans, 0.95, P95_MIN_REPS), "makespan_s_ci95": ci,
            "expected_makespan_s": float(expected.iloc[0]) if len(expected) else None,
            "success_rate": float((group["files_ok"] / items).mean()),
            "failed_by_kind": ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())) or "-",
            "max_progress_gap_s": float(group["max_progress_gap_s"].max()),
            "idle_timeout_hits": int(group["idle_timeout_hit"].fillna(False).astype(bool).sum()),
            "server_peak_inflight": (None if group["server_peak_inflight"].isna().all()
                                     else int(group["server_peak_inflight"].max())),
            "server_crashes": _max_or_none(group, "server_crashes"),
            "cut_by_crash": _max_or_none(group, "cut_by_crash"),
            "refused_connections": _max_or_none(group, "refused_connections"),
            "queue_wait_s": _mean_or_none(group, "queue_wait_s"),
            "harness_overhead_pct": _mean_or_none(group, "harness_overhead_pct"),
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def label(kind: str, size: object, policy: object = "") -> str:
    """How a strategy, its size and its policies off their defaults are named in tables and
    legends: ``batch=8``, ``batch=8 (heartbeat 10 s)``."""
    name = kind if size is None or pd.isna(size) else f"{kind}={int(size)}"  # type: ignore[arg-type]
    return f"{name} ({policy})" if isinstance(policy, str) and policy else name


def with_folders(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with every case key: results written before a column existed ran no folders, and
    their strategies' default policies, and no frontend dropped them."""
    folders = runs["folders"].fillna(0) if "folders" in runs else 0
    kinds = runs["kind"] if "kind" in runs else pd.Series("", index=runs.index)
    defaults = {"heartbeat_s": pd.Series(0.0, index=runs.index), "rate_limit": pd.Series(0.0, index=runs.index),
                "retry": kinds.map(default_retry), "policy": pd.Series("", index=runs.index),
                "idle_timeout_hit": pd.Series(False, index=runs.index)}
    filled = {column: runs[column].fillna(default) if column in runs else default
              for column, default in defaults.items()}
    return runs.assign(folders=pd.Series(folders, index=runs.index).astype(int), **filled)


def _quantile_or_none(values: pd.Series, q: float, min_count: int) -> float | None:
    return float(values.quantile(q)) if len(values) >= min_count else None


def _max_or_none(group: pd.DataFrame, column: str) -> int | None:
    """The largest count in a column that results written before it existed do not have."""
    if column not in group or group[column].isna().all():
        return None
    return int(group[column].max())


def _mean_or_none(group: pd.DataFrame, column: str) -> float | None:
    """The mean of a column that results written before it existed do not have."""
    if column not in group or group[column].isna().all():
        return None
    return float(group[column].mean())
