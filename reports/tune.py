"""The tune's report, from ``DIR/tune.json`` alone (``harness.cli_tune`` writes it; this reads it
and runs nothing): the answer, the candidates table, the search's rounds, the confirmation on
sockets, and makespan and success against size with the feasible region shaded.

    DIR/report/report.html   self-contained (the plot embedded)
    DIR/report/report.md     with the plot beside it in plots/
    DIR/report/candidates.csv
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.store import TUNE, make_folder, write_atomically
from harness.tune.explain import interval_text
from mock_onyx.errors import ConfigError
from reports.build import _STYLE, Report, _embedded, _html_table
from reports.cross_check import CrossCheckRow, cross_check_frame
from reports.formats import FORMATS, IMAGE_FORMATS
from reports.seed_table import frame_to_markdown

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PLOT = "makespan_and_success_vs_size"
STATUS_WORDS = {"recommended": "recommended", "tied": "tied (same schedule; lost the tie-break)",
                "within noise": "within noise", "slower": "slower"}


def load_tune(results: Path) -> dict[str, Any]:
    path = results / TUNE
    if not path.is_file():
        raise ConfigError(str(results), "is not a tune directory (no tune.json)",
                          "give a directory written by onyx-bench tune")
    answer = dict(json.loads(path.read_text()))
    if answer.get("status") != "done":
        raise ConfigError(str(results), "holds an unfinished tune",
                          "finish it first: onyx-bench tune SCENARIO --out DIR --resume")
    return answer


def _pct(row: dict[str, Any]) -> str:
    if row.get("vs_recommendation_pct") is None:
        return "-"
    return interval_text(row["vs_recommendation_pct"], row.get("vs_recommendation_pct_low"),
                         row.get("vs_recommendation_pct_high"))


def _status(row: dict[str, Any]) -> str:
    return f"infeasible: {row['broke_text']}" if row["status"] == "infeasible" else STATUS_WORDS[row["status"]]


def candidates_frame(rows: Sequence[dict[str, Any]], files: int) -> pd.DataFrame:
    """Printed cells, a row per candidate."""
    def mean(row: dict[str, Any]) -> str:
        ci = row["makespan_s_ci95"]
        return f"{row['makespan_s_mean']:.1f}" + ("" if ci is None else f" ± {ci:.1f}") + " s"

    return pd.DataFrame([{
        "Rank": str(row["rank"]), "Strategy": row["label"], "Runs": str(row["runs"]),
        f"Mean at {files} files": mean(row), "p95": f"{row['makespan_s_p95']:.1f} s",
        "Against the recommendation": ("tied" if row["status"] == "tied" else
                                       _pct(row)),
        "Worst success": f"{row['worst_success_rate']:.0%}", "Status": _status(row),
    } for row in rows], columns=["Rank", "Strategy", "Runs", f"Mean at {files} files", "p95",
                                 "Against the recommendation", "Worst success", "Status"])


def rounds_frame(rounds: Sequence[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{"Round": str(r["round"]), "Results": r["results"], "Seed": str(r["seed"]),
                          "Candidates": str(r["candidates"]), "Repetitions added": str(r["reps_added"]),
                          "Cases": str(r["cases"]), "Why": r["why"]} for r in rounds])


def _cross_check(confirmation: dict[str, Any]) -> pd.DataFrame:
    fields = CrossCheckRow.__dataclass_fields__
    return cross_check_frame([CrossCheckRow(**{k: v for k, v in row.items() if k in fields})
                              for row in confirmation["cross_check"]])


def confirmation_line(confirmation: dict[str, Any] | None) -> str | None:
    if confirmation is None:
        return None
    target = confirmation.get("target")  # a tune confirmed against a running server (--target)
    clock = ("real time" if confirmation["time_scale"] == 1 else f"time scale {confirmation['time_scale']:g}")
    where = (f"on sockets (time scale {confirmation['time_scale']:g}, {confirmation['reps']} repetition(s) "
             f"with round 1's seeds), {confirmation['runs']} runs" if not target else
             f"against {target} ({clock}, {confirmation['reps']} repetition(s) with round 1's seeds), "
             f"{confirmation['runs']} runs")
    if not confirmation["holds"]:
        return f"confirmation FAILED {where}: {confirmation['broke_text']}"
    diffs = ", ".join(f"{row['diff_pct']:+.1f}% at {row['files']} files" for row in confirmation["cross_check"])
    return (f"confirmed {where}: {_kept(confirmation['worst_success_rate'])}, no crash, no idle timeout; "
            f"real against virtual: {diffs or 'no paired run'}")


def _kept(worst: float) -> str:
    return "no file lost" if worst >= 1 else f"at least {worst:.1%} of the files kept"


def summary_lines(answer: dict[str, Any]) -> list[str]:
    """The answer in a few lines: the recommendation, why, the runner-up, the confirmation on
    sockets and the search's cost (or, when nothing is feasible, the one line that says so)."""
    best = answer["recommendation"]
    if best is None:
        return [answer["infeasible"]]
    ci = "" if best["makespan_s_ci95"] is None else f" ± {best['makespan_s_ci95']:.1f}"
    lines = [f"recommended: {best['label']}: {best['makespan_s_mean']:.1f}{ci} s mean makespan at "
             f"{best['files']} files ({best['reps']} repetitions); {best['runs']} runs, "
             f"{_kept(best['worst_success_rate'])}, no crash, no idle timeout",
             f"why: {answer['why']}"]
    runner_up = next((row for row in answer["candidates"][1:] if row["feasible"]), None)
    if runner_up is not None:
        lines.append(f"then {runner_up['label']}: {_against(runner_up)}")
    confirmed = confirmation_line(answer["confirmation"])
    if confirmed:
        lines.append(confirmed)
    return [*lines, _search_line(answer)]


def answer_lines(answer: dict[str, Any], table_rows: int) -> list[str]:
    """What ``tune`` prints: ``summary_lines``, then the candidates table (the first
    ``table_rows`` feasible ones; the rest counted)."""
    lines = summary_lines(answer)
    rows = answer["candidates"]
    if answer["recommendation"] is None:
        return lines
    feasible = [row for row in rows if row["feasible"]]
    shown = feasible[:table_rows]
    lines += ["", frame_to_markdown(candidates_frame(shown, answer["files"]))]
    rest, infeasible = len(rows) - len(shown), len(rows) - len(feasible)
    if rest:
        what = f"{infeasible} infeasible: {_broken_counts(rows)}" if infeasible else "feasible, slower"
        lines.append(f"... and {rest} more ({what}); the report lists every candidate")
    return lines


def _against(row: dict[str, Any]) -> str:
    if row["status"] == "tied":
        return "the same schedule, tied (lost the tie-break)"
    return (f"{_pct(row)} against the "
            f"recommendation (paired over {row.get('vs_recommendation_pairs')} runs"
            f"{', within noise' if row['status'] == 'within noise' else ''})")


def _broken_counts(rows: Iterable[dict[str, Any]]) -> str:
    words = {"crash": "crashed the server", "idle_timeout": "hit the idle timeout", "lost": "lost files"}
    counts = {key: sum(1 for row in rows if key in row["broke"]) for key in words}
    return ", ".join(f"{n} {words[key]}" for key, n in counts.items() if n) or "none"


def _search_line(answer: dict[str, Any]) -> str:
    rounds = answer["rounds"]
    cases = sum(r["cases"] for r in rounds)
    later = sum(r["cases"] for r in rounds[1:])
    return (f"searched: {len(answer['candidates'])} candidates in {len(rounds)} round(s), {cases} virtual runs "
            f"({rounds[0]['cases']} in round 1, {later} more where candidates were close)")


def tune_figure(answer: dict[str, Any]) -> Figure:
    """Makespan (mean at the headline file count) and success rate against size, a line per kind
    and policies; feasible points filled, infeasible ones crossed; the sizes where some
    configuration kept every constraint shaded; the recommendation starred."""
    from matplotlib.figure import Figure

    rows = answer["candidates"]
    fig = Figure(figsize=(9.0, 7.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    for size in sorted({row["size"] for row in rows if row["feasible"] and row["size"] is not None}):
        for ax in (top, bottom):
            ax.axvspan(size - 0.5, size + 0.5, color="tab:green", alpha=0.12, linewidth=0)
    families: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        families.setdefault(row["label"].replace(f"={row['size']}", "", 1), []).append(row)
    for name, group in sorted(families.items()):
        _draw_family(top, bottom, name, sorted(group, key=lambda r: r["size"] or 0))
    best = answer["recommendation"]
    if best is not None and best["size"] is not None:
        top.plot([best["size"]], [best["makespan_s_mean"]], marker="*", markersize=16, color="gold",
                 markeredgecolor="black", linestyle="none", label=f"recommended: {best['label']}")
    top.plot([], [], color="tab:green", alpha=0.3, linewidth=8, label="feasible region (some configuration "
                                                                       "kept every constraint)")
    top.set(title=f"Makespan against size at {answer['files']} files (mean; x: broke a constraint)",
            ylabel="makespan (simulated s)")
    bottom.set(title="Success rate against size (mean over every run)", xlabel="size (files in flight)",
               ylabel="items that succeeded")
    bottom.axhline(answer["settings"]["min_success"], color="tab:red", linestyle="--",
                   label=f"--min-success {answer['settings']['min_success']:g}")
    top.legend(fontsize="x-small", ncols=2)
    bottom.legend(fontsize="x-small")
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    return fig


def _draw_family(top: Any, bottom: Any, name: str, group: list[dict[str, Any]]) -> None:
    if group[0]["size"] is None:  # no size (sequential): a level across the plot
        row = group[0]
        marker = "" if row["feasible"] else " (broke a constraint)"
        top.axhline(row["makespan_s_mean"], linestyle=":", color="grey", label=f"{name}{marker}")
        bottom.axhline(row["success_rate"], linestyle=":", color="grey")
        return
    feasible = [r for r in group if r["feasible"]]
    broken = [r for r in group if not r["feasible"]]
    line, = top.plot([r["size"] for r in feasible], [r["makespan_s_mean"] for r in feasible], marker="o",
                     markersize=4, label=name)
    color = line.get_color()
    top.plot([r["size"] for r in broken], [r["makespan_s_mean"] for r in broken], marker="x",
             linestyle="none", color=color)
    bottom.plot([r["size"] for r in group], [r["success_rate"] for r in group], color=color, marker=".")


def build_tune_report(results: Path, out: Path | None = None, formats: Iterable[str] = FORMATS,
                      image_format: str = "png") -> Report:
    """Write the tune's report (``formats``: html, md, csv) under ``out`` (default DIR/report)."""
    formats = tuple(formats)
    for name in formats:
        if name not in FORMATS:
            raise ConfigError("--format", f"unknown format {name!r}", f"use some of {', '.join(FORMATS)}")
    if image_format not in IMAGE_FORMATS:
        raise ConfigError("--image-format", f"unknown {image_format!r}", "use png or svg")
    answer = load_tune(results)
    folder = out or results / "report"
    make_folder(folder / "plots", "--out")
    image = folder / "plots" / f"{PLOT}.{image_format}"
    tune_figure(answer).savefig(image, dpi=110)
    tables = _tables(answer)
    outputs = {}
    if "html" in formats:
        outputs["html"] = folder / "report.html"
        write_atomically(outputs["html"], _html(answer, tables, image))
    if "md" in formats:
        outputs["md"] = folder / "report.md"
        write_atomically(outputs["md"], _markdown(answer, tables, image, folder))
    if "csv" in formats:
        outputs["csv"] = folder / "candidates.csv"
        write_atomically(outputs["csv"], pd.DataFrame(answer["candidates"]).to_csv(index=False))
    return Report(folder, outputs, {PLOT: image})


def _tables(answer: dict[str, Any]) -> dict[str, pd.DataFrame]:
    tables = {"Candidates (feasible by objective, then the infeasible, closest first)":
              candidates_frame(answer["candidates"], answer["files"]),
              "Search rounds (each a results directory: onyx-bench report DIR/round-N)":
              rounds_frame(answer["rounds"])}
    if answer["confirmation"] is not None:
        tables["Confirmation: the recommendation through the aiohttp mock on loopback sockets "
               "(round 1's seeds)"] = _cross_check(answer["confirmation"])
    settings = {k: v for k, v in answer["settings"].items() if k != "scenario_text"}
    tables["Settings"] = pd.DataFrame({"key": list(settings), "value": [json.dumps(v) for v in settings.values()]})
    return tables


def _markdown(answer: dict[str, Any], tables: dict[str, pd.DataFrame], image: Path, folder: Path) -> str:
    parts = [f"# onyx-bench tune: {answer['scenario']}", "", "## Answer", "",
             *(f"- {line}" for line in summary_lines(answer)), "",
             "Times in simulated seconds, at the scenario's largest file count; ± the half-width of a 95% "
             "confidence interval; differences paired over runs of the same seeds.", "",
             f"![Makespan and success against size]({image.relative_to(folder).as_posix()})", ""]
    for title, frame in tables.items():
        parts += [f"## {title}", "", frame_to_markdown(frame), ""]
    parts += ["## Scenario", "", "```toml", answer["settings"]["scenario_text"].strip(), "```", ""]
    return "\n".join(parts)


def _html(answer: dict[str, Any], tables: dict[str, pd.DataFrame], image: Path) -> str:
    title = html.escape(f"onyx-bench tune: {answer['scenario']}")
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">", f"<title>{title}</title>",
             f"<style>{_STYLE}</style></head><body>", f"<h1>{title}</h1>", "<h2>Answer</h2><ul class=\"answer\">",
             *(f"<li>{html.escape(line)}</li>" for line in summary_lines(answer)), "</ul>",
             "<p>Times in simulated seconds, at the scenario's largest file count; ± the half-width of a "
             "95% confidence interval; differences paired over runs of the same seeds.</p>",
             f"<figure id=\"{PLOT}\">{_embedded(image, 'Makespan and success against size')}</figure>"]
    parts += [_html_table(name, frame) for name, frame in tables.items()]
    parts += ["<h2>Scenario</h2>", f"<pre>{html.escape(answer['settings']['scenario_text'])}</pre>",
              "</body></html>"]
    return "\n".join(parts)
