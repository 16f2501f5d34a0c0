"""The report's plots, drawn headless (matplotlib ``Figure`` objects, no pyplot state).

Every function takes the results as DataFrames and returns a titled, labelled ``Figure`` (or
None when the results hold nothing to draw it from). Times are simulated seconds.
"""

from __future__ import annotations

from textwrap import fill

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mock_onyx import Distribution
from reports.summary import label

WIDE = (9.0, 5.0)


def _grid(ax: object) -> None:
    ax.grid(True, alpha=0.3)  # type: ignore[attr-defined]


def makespan_vs_files(summary: pd.DataFrame) -> Figure:
    fig = Figure(figsize=WIDE, layout="constrained")
    ax = fig.add_subplot()
    for (kind, size, policy, folders), group in summary.groupby(["strategy", "size", "policy", "folders"],
                                                                dropna=False, sort=True):
        group = group.sort_values("files")
        name = label(kind, size, policy) + (f", {folders} folders" if folders else "")
        line, = ax.plot(group["files"], group["makespan_s_mean"], marker="o", label=name)
        ci = group["makespan_s_ci95"].fillna(0)
        ax.fill_between(group["files"], group["makespan_s_mean"] - ci, group["makespan_s_mean"] + ci,
                        color=line.get_color(), alpha=0.15)
        expected = group.dropna(subset=["expected_makespan_s"])
        if len(expected):
            ax.plot(expected["files"], expected["expected_makespan_s"], linestyle="--",
                    color=line.get_color(), alpha=0.8)
    ax.plot([], [], linestyle="--", color="grey", label="closed form")
    ax.set(title="Makespan by number of files (mean, 95% CI band; closed form dashed)",
           xlabel="files", ylabel="makespan (simulated s)")
    ax.legend(fontsize="small", ncols=2)
    _grid(ax)
    return fig


def speedup_vs_size(summary: pd.DataFrame) -> Figure | None:
    """The tuning curve: speedup over sequential (else over size 1) against batch or window size."""
    sized = summary.dropna(subset=["size"])
    if sized.empty:
        return None
    fig = Figure(figsize=WIDE, layout="constrained")
    ax = fig.add_subplot()
    drawn = False
    for (kind, policy, n_files, folders), group in sized.groupby(["strategy", "policy", "files", "folders"],
                                                                 sort=True):
        base = summary[(summary["files"] == n_files) & (summary["folders"] == folders)
                       & (summary["strategy"] == "sequential") & (summary["policy"] == "")]
        if base.empty:
            base = group[group["size"] == 1]
        if base.empty:
            continue
        group = group.sort_values("size")
        speedup = 100 * (1 - group["makespan_s_mean"] / float(base["makespan_s_mean"].iloc[0]))
        ax.plot(group["size"], speedup, marker="o",
                label=f"{label(kind, None, policy)}, {n_files} files" + (f" + {folders} folders" if folders else ""))
        drawn = True
    if not drawn:
        return None
    ax.set(title="Speedup over sequential by batch / window size", xlabel="size (files in flight)",
           ylabel="speedup (%) = 1 - parallel / sequential")
    ax.legend(fontsize="small", ncols=2)
    _grid(ax)
    return fig


def timeline(cases: list[tuple[str, pd.DataFrame, pd.DataFrame]]) -> Figure | None:
    """One Gantt panel per run: a bar per file, pauses shaded, progress events as ticks.
    ``cases``: (title, that run's files rows, that run's events)."""
    if not cases:
        return None
    fig = Figure(figsize=(9.0, 2.2 + 2.0 * len(cases)), layout="constrained")
    axes = fig.subplots(len(cases), 1, squeeze=False)[:, 0]
    colors = {"ok": "tab:green", "failed": "tab:red", "skipped": "tab:grey"}
    for ax, (title, files, events) in zip(axes, cases, strict=True):
        files = files.reset_index(drop=True)
        ax.barh(files.index, files["end_s"] - files["start_s"], left=files["start_s"], height=0.7,
                color=[colors.get(s, "tab:blue") for s in files["status"]])
        starts = events[events["kind"] == "batch_start"]["at_s"].tolist()
        ends = events[events["kind"] == "batch_end"]["at_s"].tolist()
        for end, start in zip(ends, starts[1:], strict=False):
            ax.axvspan(end, start, color="tab:orange", alpha=0.3)
        for at in events["at_s"]:
            ax.axvline(at, color="black", linewidth=0.6, alpha=0.6, ymin=0.93)
        ax.set_yticks(files.index, [str(i) for i in files["id"]], fontsize="x-small")
        ax.invert_yaxis()
        ax.set(title=title, xlabel="time since the run's start (simulated s)", ylabel="file")
        _grid(ax)
    fig.suptitle("Timeline: one bar per file (green ok, red failed); ticks = progress events; "
                 "orange = pause between batches", fontsize="medium")
    return fig


def latency_distribution(durations: pd.Series, profile_dist: Distribution | str) -> Figure | None:
    """The CDF of measured send-message durations against the profile's distribution, or alone
    with why the distribution is missing (``profile_dist`` the reason)."""
    if durations.empty:
        return None
    fig = Figure(figsize=WIDE, layout="constrained")
    ax = fig.add_subplot()
    values = np.sort(durations.to_numpy())
    ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post",
            label=f"measured ({len(values)} streams)")
    title = "Per-file send-message duration: measured against the profile"
    if isinstance(profile_dist, str):
        title = "Per-file send-message duration: measured (the profile's distribution could not be read again)"
        ax.text(0.01, 0.01, fill(f"not drawn: {profile_dist}", 110), transform=ax.transAxes, fontsize="x-small",
                va="bottom")
    else:
        u = np.linspace(0.001, 0.999, 400)
        ax.plot([profile_dist.quantile(float(p)) for p in u], u, linestyle="--",
                label=f"profile: {profile_dist}")
    ax.set(title=title, xlabel="duration (simulated s)", ylabel="cumulative fraction of files")
    ax.legend(fontsize="small")
    _grid(ax)
    return fig


def progress_gaps(runs: list[tuple[str, pd.DataFrame, float]], idle_timeout_s: float) -> Figure | None:
    """Each silence between progress events, plotted where it ends, against an idle timeout.
    ``runs``: (label, that run's events, its makespan)."""
    if not runs:
        return None
    fig = Figure(figsize=WIDE, layout="constrained")
    ax = fig.add_subplot()
    for name, events, makespan in runs:
        marks = [0.0, *sorted(events["at_s"].tolist()), makespan]
        spans = [(earlier, later) for earlier, later in zip(marks, marks[1:], strict=False)]
        color = None
        for index, (earlier, later) in enumerate(spans):  # a silence: a segment at its length
            line, = ax.plot([earlier, later], [later - earlier] * 2, marker="|", color=color,
                            label=name if index == 0 else None)
            color = line.get_color()
    ax.axhline(idle_timeout_s, color="tab:red", linestyle="--",
               label=f"frontend idle timeout ({idle_timeout_s:g} s)")
    ax.set(title="Silences between progress events (a frontend drops the stream above the line)",
           xlabel="time since the run's start (simulated s); each segment spans one silence",
           ylabel="length of the silence (simulated s)")
    ax.legend(fontsize="small")
    _grid(ax)
    return fig
