"""Reports from a small results set made by a sweep on virtual time (exact, and in a second)."""

from __future__ import annotations

import math
import statistics
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.store import ResultsStore, load_runs
from harness.sweep import InlineExecutor, plan_sweep, run_sweep
from reports.build import build_report
from reports.cross_check import cross_check_rows
from reports.seed_table import seed_table_frames, seed_table_rows
from reports.summary import summary_table
from scenarios import parse_scenario

SCENARIO = """
name = "report-fixture"
seed = 5
repetitions = 3
mode = "virtual"
[server.latency]
send_message = "uniform(15, 30)"
[workload]
files = [3, 4]
[[strategies]]
kind = "sequential"
[[strategies]]
kind = "batch"
size = [2, 8]
[[strategies]]
kind = "window"
size = 2
"""
PLOTS = {"makespan_vs_files", "speedup_vs_size", "timeline", "latency_distribution", "progress_gaps"}
T975_DF2 = 4.3026527  # Student's t, two-sided 95%, 2 degrees of freedom (3 repetitions)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = ResultsStore(tmp_path_factory.mktemp("results") / "sweep")
    loaded = parse_scenario(SCENARIO, "report-fixture.toml", None)
    run_sweep(plan_sweep(loaded, store, resume=False), store, InlineExecutor())
    return store.root


@pytest.fixture(scope="module")
def report(results: Path, tmp_path_factory: pytest.TempPathFactory):
    return build_report(results, tmp_path_factory.mktemp("report"))


def test_the_summary_holds_independently_computed_values(results: Path, report) -> None:
    runs = pd.read_csv(report.exports["runs"])  # `report --format csv`'s export
    summary = pd.read_csv(report.outputs["csv"], dtype=str)
    assert len(summary) == 2 * 4  # file counts x (sequential, batch=2, batch=8, window=2)
    for (n_files, kind, size), group in runs.groupby(["files", "kind", "size"], dropna=False):
        name = kind if pd.isna(size) else f"{kind}={int(size)}"
        row = summary[(summary["files"] == str(n_files)) & (summary["strategy"] == name)].iloc[0]
        values = sorted(group["makespan_s"])
        mean = sum(values) / 3
        half_width = T975_DF2 * statistics.stdev(values) / math.sqrt(3)
        assert row["reps"] == "3" and row["folders"] == "0"
        assert row["makespan_s_mean"] == f"{mean:.1f}"
        assert row["makespan_s_p50"] == f"{values[1]:.1f}"
        assert row["makespan_s_p95"] == "-"  # 3 repetitions cannot support a 95th percentile
        assert row["makespan_s_ci95"] == f"{half_width:.1f}"
        assert row["success_rate"] == "1.000"
        assert row["failed_by_kind"] == "-"
        assert row["server_peak_inflight"] == str(int(group["server_peak_inflight"].max()))
        # each run's own overhead: makespan over the model's makespan for its draws
        overhead = 100 * (group["makespan_s"] / group["model_makespan_s"] - 1)
        assert float(row["harness_overhead_pct"]) == pytest.approx(overhead.mean(), abs=0.05 + 1e-6)


def test_the_seed_table_holds_the_seeds_figures_and_the_measured_speedup(results: Path, report) -> None:
    runs = load_runs(results)
    text = report.outputs["md"].read_text()
    assert "### " not in text and "## The seed's table: sequential vs batch=8" in text
    seq = runs[(runs["files"] == 3) & (runs["kind"] == "sequential")].set_index("repetition")["makespan_s"]
    batch = runs[(runs["files"] == 3) & (runs["kind"] == "batch") & (runs["size"] == 8)].set_index(
        "repetition")["makespan_s"]
    # paired: each repetition's batch run against the sequential run of the same repetition (seed)
    speedups = [100 * (1 - batch[r] / seq[r]) for r in range(3)]
    half_width = T975_DF2 * statistics.stdev(speedups) / math.sqrt(3)
    row = next(line for line in text.splitlines() if line.startswith("| 3 | 60 s |") and "25 s" in line)
    assert f"| {statistics.mean(speedups):.1f} ± {half_width:.1f}% |" in row and "| 58% |" in row


def test_every_plot_is_drawn_and_not_blank(report) -> None:
    assert set(report.plots) == PLOTS
    for path in report.plots.values():
        assert path.stat().st_size > 5_000
        pixels = matplotlib.image.imread(path)
        assert pixels.std() > 0.05  # not a blank canvas


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.figures: list[str] = []
        self.captions = 0
        self._in_caption = False
        self.caption_texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.references += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "figure" and values.get("id"):
            self.figures.append(str(values["id"]))
        self._in_caption = tag == "caption"

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self.caption_texts.append(data)
            self._in_caption = False


def test_the_html_is_self_contained_and_names_every_plot_and_table(report) -> None:
    text = report.outputs["html"].read_text()
    parser = _Collector()
    parser.feed(text)
    parser.close()
    assert set(parser.figures) == PLOTS
    assert all(ref.startswith("data:image/png;base64,") for ref in parser.references)
    assert "url(" not in text and "<script" not in text and "<link" not in text
    assert {"Provenance", "Summary", "The seed's table: sequential vs batch=8"} <= set(parser.caption_texts)
    assert "report-fixture" in text and "uniform(15, 30)" in text  # the scenario is shown


def test_markdown_links_the_plots_beside_it(report) -> None:
    text = report.outputs["md"].read_text()
    for name in PLOTS:
        assert f"](plots/{name}.png)" in text
        assert (report.folder / "plots" / f"{name}.png").is_file()


def test_svg_plots_are_embedded_inline(results: Path, tmp_path: Path) -> None:
    built = build_report(results, tmp_path / "svg", formats=["html"], image_format="svg")
    text = built.outputs["html"].read_text()
    assert text.count("<svg") == len(PLOTS) and "data:image" not in text
    assert set(built.outputs) == {"html"}


def test_the_report_command(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    ok = CliRunner().invoke(main, ["report", str(results), "--format", "md,csv", "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.split() == [str(out / name) for name in ("report.md", "summary.csv", "runs.csv", "files.csv",
                                                               "events.csv", "calls.csv")]
    for args, words in ((["report", str(results), "--format", "pdf"], "unknown format 'pdf'"),
                        (["report", str(tmp_path)], "not a results directory")):
        bad = CliRunner().invoke(main, args)
        assert bad.exit_code == 2 and words in bad.stderr


def test_the_cross_check_pairs_real_runs_with_the_virtual_runs_of_the_same_repetitions() -> None:
    def runs(mode: str, makespans: dict[int, float], scale: float) -> pd.DataFrame:
        return pd.DataFrame([{"files": 10, "kind": "batch", "size": 8.0, "repetition": r, "mode": mode,
                              "makespan_s": m, "time_scale": scale, "harness_overhead_pct": 0.0 if
                              mode == "virtual" else 1.0} for r, m in makespans.items()])

    virtual = runs("virtual", {0: 50.0, 1: 60.0, 2: 70.0, 3: 1000.0}, 1.0)  # repetition 3: unpaired
    real = runs("real", {0: 50.5, 1: 60.6, 2: 70.7}, 0.05)
    [row] = cross_check_rows(virtual, real)
    assert (row.files, row.strategy, row.size, row.reps, row.time_scale) == (10, "batch", 8, 3, 0.05)
    assert row.virtual_makespan_s_mean == pytest.approx(60.0)
    assert row.real_makespan_s_mean == pytest.approx(60.6)
    assert row.diff_pct == pytest.approx(1.0) and row.real_overhead_pct_mean == pytest.approx(1.0)
    assert cross_check_rows(virtual[virtual["repetition"] < 2], real) == []  # a repetition missing


def _synthetic_runs(cases: list[tuple[int, int, str, float | None, list[float]]]) -> pd.DataFrame:
    """Runs as runs.csv holds them: (files, folders, kind, size, makespan per repetition)."""
    return pd.DataFrame([{
        "case_id": f"{files}-{folders}-{kind}-{size}-{r}", "files": files, "folders": folders, "kind": kind,
        "size": size, "repetition": r, "mode": "virtual", "makespan_s": makespan, "files_ok": files + folders,
        "files_failed": 0, "files_skipped": 0, "expected_mean_makespan_s": None, "max_progress_gap_s": 1.0,
        "server_peak_inflight": 1, "harness_overhead_pct": 0.0,
    } for files, folders, kind, size, makespans in cases for r, makespan in enumerate(makespans)])


NO_FILES = pd.DataFrame({"case_id": [], "status": [], "error_kind": []})


def test_runs_with_different_folder_counts_are_never_pooled() -> None:
    runs = _synthetic_runs([(10, 0, "sequential", None, [200.0, 210.0, 190.0]),
                            (10, 2, "sequential", None, [400.0, 420.0, 380.0])])
    summary = summary_table(runs, NO_FILES)
    assert list(summary["folders"]) == [0, 2] and list(summary["reps"]) == [3, 3]
    assert list(summary["makespan_s_mean"]) == pytest.approx([200.0, 400.0])
    assert list(summary.columns[:3]) == ["files", "folders", "strategy"]
    rows = seed_table_rows(runs)
    assert [(r.folders, r.makespan_s_mean) for r in rows] == [(0, pytest.approx(200.0)), (2, pytest.approx(400.0))]
    assert rows[0].seed_makespan_s == 200 and rows[1].seed_makespan_s is None  # the seed ran no folders
    # results written before the folders column existed ran none
    old = summary_table(runs[runs["folders"] == 0].drop(columns=["folders"]), NO_FILES)
    assert list(old["folders"]) == [0] and list(old["reps"]) == [3]


def test_the_paired_speedup_compares_each_repetition_with_its_own_sequential_run() -> None:
    sequential = [100.0, 200.0, 300.0, 150.0]
    batch = [25.0, 40.0, 90.0, 30.0]  # speedups 75%, 80%, 70%, 80% (means give 1 - 185/750 = 75.33%)
    runs = _synthetic_runs([(10, 0, "sequential", None, sequential), (10, 0, "batch", 8.0, batch),
                            (10, 2, "sequential", None, [1000.0] * 4)])  # another folder count: not the base
    row = next(r for r in seed_table_rows(runs) if r.strategy == "batch")
    speedups = [75.0, 80.0, 70.0, 80.0]
    assert row.paired_speedup_pct == pytest.approx(76.25)
    # t(3) = 3.1824463, two-sided 95%
    assert row.paired_speedup_pct_ci95 == pytest.approx(3.1824463 * statistics.stdev(speedups) / 2, rel=1e-6)
    assert row.speedup_pct == pytest.approx(100 * (1 - 185 / 750))  # the ratio of means, kept
    [frame] = seed_table_frames(seed_table_rows(runs)).values()
    assert list(frame["Speedup measured"]) == [f"76.2 ± {row.paired_speedup_pct_ci95:.1f}%"]


def test_percentiles_are_shown_only_where_the_repetitions_support_them() -> None:
    runs = _synthetic_runs([(3, 0, "sequential", None, [60.0, 61.0]),
                            (4, 0, "sequential", None, [float(v) for v in range(1, 21)])])
    two, twenty = summary_table(runs, NO_FILES).to_dict("records")
    assert pd.isna(two["makespan_s_p50"]) and pd.isna(two["makespan_s_p95"])
    assert twenty["makespan_s_p50"] == pytest.approx(10.5)
    assert twenty["makespan_s_p95"] == pytest.approx(19.05)  # linear interpolation, as numpy's default
