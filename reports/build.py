"""Build a report from a results directory: tables and plots, as HTML, Markdown and CSV.

    REPORT/report.html   self-contained: plots embedded, tables styled, scenario and manifest
                         shown; opens from disk with no network
    REPORT/report.md     the same tables, with the plots beside it in REPORT/plots/
    REPORT/summary.csv   the summary table; with it (format csv) the results' own tables as CSV:
                         REPORT/runs.csv, files.csv, events.csv, calls.csv (``harness.store.export_csv``)
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from harness.store import (
    CROSS_CHECK,
    MANIFEST,
    TUNE,
    export_csv,
    make_folder,
    load_calls,
    load_events,
    load_files,
    load_manifest,
    load_runs,
    write_atomically,
)
from mock_onyx import Distribution, Endpoint
from mock_onyx.errors import ConfigError
from reports import plots
from reports.answer import answer_lines, planned_cases, recorded_scenario
from reports.cross_check import cross_check_frame, cross_check_rows
from reports.formats import DEFAULT_IDLE_TIMEOUT_S, FORMATS, IMAGE_FORMATS
from reports.seed_table import frame_to_markdown, seed_table_frames, seed_table_rows
from reports.summary import label, summary_table, with_folders
from scenarios import parse_scenario

TIMELINE_MAX_FILES = 20


@dataclass(frozen=True)
class Report:
    folder: Path
    outputs: dict[str, Path] = field(default_factory=dict)  # format -> file
    plots: dict[str, Path] = field(default_factory=dict)  # name -> image
    exports: dict[str, Path] = field(default_factory=dict)  # table (runs, files, events, calls) -> CSV


@dataclass(frozen=True)
class _Content:
    manifest: dict[str, Any]
    answer: list[str]  # what the results show, in a few lines (``reports.answer``)
    tables: dict[str, pd.DataFrame]  # title -> printed cells
    figures: dict[str, tuple[str, Figure]]  # name -> (title, figure)


def build_report(results: Path, out: Path | None = None, formats: Iterable[str] = FORMATS,
                 image_format: str = "png", idle_timeout_s: float | None = None) -> Report:
    """``idle_timeout_s``: the frontend's limit drawn on the progress-gap plot (None: the
    scenario's ``idle_timeout_s``, else nginx's 60 s)."""
    formats = tuple(formats)
    if not formats:
        raise ConfigError("--format", "names no format", f"give some of {', '.join(FORMATS)}, e.g. html,md")
    if (results / TUNE).is_file():  # a tune's folder: its own report (``reports.tune``)
        from reports.tune import build_tune_report

        return build_tune_report(results, out, formats, image_format)
    for name in formats:
        if name not in FORMATS:
            raise ConfigError("--format", f"unknown format {name!r}", f"use some of {', '.join(FORMATS)}")
    if image_format not in IMAGE_FORMATS:
        raise ConfigError("--image-format", f"unknown {image_format!r}", "use png or svg")
    if not results.exists():
        raise ConfigError(str(results), "does not exist", "give a directory written by onyx-bench sweep or reproduce")
    if not (results / "manifest.json").is_file():
        raise ConfigError(str(results), "is not a results directory (no manifest.json)",
                          "give a directory written by onyx-bench sweep or reproduce")
    folder = out or results / "report"
    make_folder(folder / "plots", "--out")  # before any work: an unwritable output is one line
    content = _collect(results, idle_timeout_s)
    images = {}
    for name, (_, figure) in content.figures.items():
        images[name] = folder / "plots" / f"{name}.{image_format}"
        figure.savefig(images[name], dpi=110)
    outputs = {}
    if "html" in formats:
        outputs["html"] = folder / "report.html"
        write_atomically(outputs["html"], _html(content, images))
    if "md" in formats:
        outputs["md"] = folder / "report.md"
        write_atomically(outputs["md"], _markdown(content, images, folder))
    exports = {}
    if "csv" in formats:
        outputs["csv"] = folder / "summary.csv"
        write_atomically(outputs["csv"], content.tables["Summary"].to_csv(index=False))
        exports = export_csv(results, folder)
    return Report(folder, outputs, images, exports)


def _collect(results: Path, idle_timeout_s: float | None) -> _Content:
    manifest = load_manifest(results)
    if idle_timeout_s is None:
        scenario = recorded_scenario(manifest)
        idle_timeout_s = (scenario.idle_timeout_s if scenario is not None and scenario.idle_timeout_s
                          else DEFAULT_IDLE_TIMEOUT_S)
    runs, files, events, calls = (load_runs(results), load_files(results), load_events(results),
                                  load_calls(results))
    if runs.empty:
        raise ConfigError(str(results), "holds no finished case", "run the sweep (or --resume it) first")
    summary = summary_table(runs, files)
    answer = answer_lines(runs, planned_cases(manifest))
    tables = {"Summary": _printed(summary)}
    for size, frame in seed_table_frames(seed_table_rows(runs)).items():
        tables[f"The seed's table: sequential vs batch={size}"] = frame
    if (results / CROSS_CHECK / MANIFEST).is_file():
        checks = cross_check_rows(runs, load_runs(results / CROSS_CHECK))
        tables["Cross-check: the same cases through the aiohttp mock on loopback sockets "
               "(same seeds)"] = cross_check_frame(checks)
    chosen = _timeline_runs(runs)
    profile_dist = _send_message_distribution(manifest)
    figures: dict[str, tuple[str, Figure | None]] = {
        "makespan_vs_files": ("Makespan by number of files", plots.makespan_vs_files(summary)),
        "speedup_vs_size": ("Speedup by batch size (tuning curve)", plots.speedup_vs_size(summary)),
        "timeline": ("Timeline of one run per strategy", plots.timeline(
            [(_run_title(run), files[files["case_id"] == run["case_id"]],
              events[events["case_id"] == run["case_id"]]) for run in chosen])),
        "latency_distribution": ("Per-file latency against the profile" if not isinstance(profile_dist, str)
                                 else "Per-file latency (the profile's distribution could not be read again)",
                                 plots.latency_distribution(_stream_durations(calls), profile_dist)),
        "progress_gaps": ("Silences between progress events", plots.progress_gaps(
            [(label(run["kind"], run["size"], run["policy"]), events[events["case_id"] == run["case_id"]],
              run["makespan_s"]) for run in chosen], idle_timeout_s)),
    }
    return _Content(manifest, answer, tables, {k: (t, f) for k, (t, f) in figures.items() if f is not None})



def _printed(summary: pd.DataFrame) -> pd.DataFrame:
    frame = summary.copy()
    frame["strategy"] = [label(k, s, p) for k, s, p in zip(frame["strategy"], frame["size"], frame["policy"],
                                                          strict=True)]
    frame = frame.drop(columns=["size", "heartbeat_s", "retry", "rate_limit", "policy"])  # named in strategy
    for column in frame.columns:
        if frame[column].dtype.kind == "f":
            digits = 3 if column == "success_rate" else 1
            frame[column] = frame[column].map(lambda v, d=digits: "-" if pd.isna(v) else f"{v:.{d}f}")
    return frame.map(lambda v: "-" if pd.isna(v) else str(v))  # None and nan alike (any pandas)


def _timeline_runs(runs: pd.DataFrame) -> list[pd.Series]:
    """Repetition 0 at the largest file count up to 20 and its fewest folders, one run per strategy
    (size 8 preferred)."""
    runs = with_folders(runs)
    counts = sorted(runs["files"].unique())
    small = [c for c in counts if c <= TIMELINE_MAX_FILES]
    n_files = small[-1] if small else counts[0]
    same_files = runs[runs["files"] == n_files]
    pool = same_files[(same_files["folders"] == same_files["folders"].min()) & (same_files["repetition"] == 0)]
    chosen = []
    for _, group in pool.groupby("kind", sort=True):
        defaults = group[group["policy"] == ""]  # a kind's default policies preferred
        group = defaults if len(defaults) else group
        sized = group.dropna(subset=["size"])
        if len(sized):
            eight = sized[sized["size"] == 8]
            group = eight if len(eight) else sized.iloc[[len(sized) // 2]]
        chosen.append(group.iloc[0])
    return chosen


def _run_title(run: pd.Series) -> str:
    folders = f" + {run['folders']} folders" if run["folders"] else ""
    return (f"{label(run['kind'], run['size'], run['policy'])}, {run['files']} files{folders}: "
            f"makespan {run['makespan_s']:.1f} s")


def _stream_durations(calls: pd.DataFrame) -> pd.Series:
    if calls.empty:
        return pd.Series(dtype=float)
    ok = calls[(calls["endpoint"] == Endpoint.SEND_MESSAGE) & (calls["status_code"] == 200)
               & calls["error_kind"].isna()]
    return ok["end_s"] - ok["start_s"]


def _send_message_distribution(manifest: dict[str, Any]) -> Distribution | str:
    """The profile's send-message distribution, read again from the scenario that wrote the
    results; else why it cannot be (the figure then says so): an empirical CSV no longer beside
    the scenario, or one outside its folder. A results folder is a file someone can hand you, so
    it is read confined to the scenario's folder, whatever the sweep was allowed."""
    # Relative paths in the scenario (empirical CSVs) are read beside it, not in the cwd.
    folder = Path(manifest["scenario_dir"]) if manifest.get("scenario_dir") else None
    try:
        loaded = parse_scenario(manifest["scenario_text"], manifest["scenario_source"], folder)
        return loaded.profile(0).latency_of(Endpoint.SEND_MESSAGE)
    except ConfigError as error:
        return str(error)


def _provenance(manifest: dict[str, Any]) -> pd.DataFrame:
    keys = ["scenario_name", "scenario_source", "seed", "overrides", "onyx_bench_version", "python",
            "platform", "cpus", "started_at", "format_version"]
    return pd.DataFrame({"key": keys, "value": [json.dumps(manifest.get(k)) if isinstance(manifest.get(k), dict)
                                                else str(manifest.get(k)) for k in keys]})


def _markdown(content: _Content, images: dict[str, Path], folder: Path) -> str:
    manifest = content.manifest
    parts = [f"# onyx-bench report: {manifest['scenario_name']}", "",
             "## Answer", "", *(f"- {line}" for line in content.answer), "",
             "Times in simulated seconds. Measured values are means over repetitions ± the half-width "
             "of their 95% confidence interval; closed form = the expectation over the profile's "
             "latency distributions; speedup = 1 - parallel / sequential (in the seed's table: its mean "
             "over repetitions, each run against the same repetition's sequential run). Percentiles are "
             "shown only where the repetitions support them: p50 from 3, p95 from 20.", "",
             "## Provenance", "", frame_to_markdown(_provenance(manifest)), ""]
    for title, frame in content.tables.items():
        parts += [f"## {title}", "", frame_to_markdown(frame), ""]
    for name, (title, _) in content.figures.items():
        parts += [f"## {title}", "", f"![{title}]({images[name].relative_to(folder).as_posix()})", ""]
    parts += ["## Scenario", "", "```toml", manifest["scenario_text"].strip(), "```", ""]
    return "\n".join(parts)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f0f0f0; } tr:nth-child(even) td { background: #fafafa; }
caption { text-align: left; font-weight: bold; font-size: 1.2em; padding: 0.6em 0 0.3em; }
.scroll { overflow-x: auto; } .answer { font-size: 1.1em; }
figure { margin: 1.5em 0; } img { max-width: 100%; } pre { background: #f6f6f6; padding: 1em; }
"""


def _html(content: _Content, images: dict[str, Path]) -> str:
    manifest = content.manifest
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>onyx-bench report: {html.escape(manifest['scenario_name'])}</title>",
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>onyx-bench report: {html.escape(manifest['scenario_name'])}</h1>",
             "<h2>Answer</h2><ul class=\"answer\">",
             *(f"<li>{html.escape(line)}</li>" for line in content.answer), "</ul>",
             "<p>Times in simulated seconds. Measured values are means over repetitions ± the "
             "half-width of their 95% confidence interval; closed form = the expectation over the "
             "profile's latency distributions; speedup = 1 - parallel / sequential (in the seed's "
             "table: its mean over repetitions, each run against the same repetition's sequential "
             "run). Percentiles are shown only where the repetitions support them: p50 from 3, "
             "p95 from 20.</p>",
             _html_table("Provenance", _provenance(manifest))]
    parts += [_html_table(title, frame) for title, frame in content.tables.items()]
    for name, (title, _) in content.figures.items():
        parts.append(f"<figure id=\"{name}\"><figcaption><b>{html.escape(title)}</b></figcaption>"
                     f"{_embedded(images[name], title)}</figure>")
    parts += ["<h2>Scenario</h2>", f"<pre>{html.escape(manifest['scenario_text'])}</pre>",
              "</body></html>"]
    return "\n".join(parts)


def _html_table(title: str, frame: pd.DataFrame) -> str:
    table = frame.to_html(index=False, escape=True, border=0)
    tag_end = table.index(">") + 1  # after the opening <table ...> tag
    return (f"<div class=\"scroll\">{table[:tag_end]}<caption>{html.escape(title)}</caption>"
            f"{table[tag_end:]}</div>")


def _embedded(image: Path, title: str) -> str:
    if image.suffix == ".svg":
        svg = image.read_text()
        return svg[svg.index("<svg"):]
    data = base64.b64encode(image.read_bytes()).decode()
    return f"<img alt=\"{html.escape(title)}\" src=\"data:image/png;base64,{data}\">"
