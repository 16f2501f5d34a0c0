"""The sweep commands of the CLI: ``scenarios``, ``sweep`` and ``reproduce`` (thin: parse, call, print)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.modes import Mode
from harness.overhead import inflight_warning, overhead_warning
from reports.formats import DEFAULT_IDLE_TIMEOUT_S, IMAGE_FORMATS

if TYPE_CHECKING:  # the commands import these (pandas, matplotlib, the runner) in their bodies
    from harness.store import CaseFailure, ResultsStore
    from harness.sweep import SweepPlan
    from reports.cross_check import CrossCheckRow
    from scenarios import Case, LoadedScenario


def time_scale_in_range(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A time scale is a finite number above 0 and at most 100 (click's FloatRange lets nan by)."""
    if value is not None and not (math.isfinite(value) and 0 < value <= 100):
        raise click.BadParameter(f"{value!r} is not a number above 0 and at most 100 (wall seconds per "
                                 f"simulated second; 0.05 is the default)")
    return value


EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process the signal ended
FAILURE_LINES = 10  # failed cases named one per line; the rest counted
DEFAULT_JOBS = 2  # this class of machine has 2 cores; one case per core
MODES = [mode.value for mode in Mode]


@click.command("scenarios")
@click.argument("name", required=False)
def list_scenarios(name: str | None) -> None:
    """List the built-in scenarios, or print one's TOML (NAME) to start your own from."""
    from mock_onyx.errors import ConfigError
    from scenarios import builtin_names, load_scenario

    if name is not None:
        if name not in builtin_names():
            raise ConfigError(name, "is not a built-in scenario", f"give one of: {', '.join(builtin_names())}")
        click.echo(load_scenario(name).text, nl=False)
        return
    for name in builtin_names():
        scenario = load_scenario(name).scenario
        click.echo(f"{name:<18} {len(scenario.cases()):>5} cases  {scenario.description}")


def _sweep(loaded: LoadedScenario, out: Path, jobs: int, resume: bool) -> ResultsStore:
    """Run (or finish) a sweep with a progress bar; on Ctrl-C (or SIGTERM) keep what finished and
    exit 130 (or 143); if cases failed, store every other one, name them and exit 1."""
    from harness.store import ResultsStore
    from harness.sweep import SweepTerminated, executor_for, plan_sweep, run_sweep, sigterm_interrupts

    store = ResultsStore(out)
    plan: SweepPlan = plan_sweep(loaded, store, resume)
    click.echo(f"{loaded.scenario.name}: {plan.total} cases, {plan.already_done} already done, "
               f"{len(plan.tasks)} to run with {jobs} job(s); results in {out}", err=True)
    try:
        with sigterm_interrupts(), click.progressbar(length=plan.total, label="cases", file=sys.stderr,
                                                     show_pos=True) as bar:
            bar.update(plan.already_done)
            failures = run_sweep(plan, store, executor_for(jobs), on_case=lambda case: bar.update(1))
    except KeyboardInterrupt as interruption:
        terminated = isinstance(interruption, SweepTerminated)
        click.echo(f"{'terminated' if terminated else 'interrupted'}: {len(store.finished())} of "
                   f"{plan.total} cases kept in {out}; run the same command again with "
                   f"--out {out} --resume to finish", err=True)
        raise click.exceptions.Exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED) from None
    _warn_about_overhead(out)
    if failures:
        _fail_with(failures, plan.total, out)
    return store


def _output_folder(out: Path | None, resume: bool, name: str) -> Path:
    """``--out``, or a new timestamped folder; ``--resume`` needs an existing ``--out``."""
    from harness.sweep import default_out
    from mock_onyx.errors import ConfigError

    if resume and out is None:
        raise ConfigError("--resume", "needs the folder to finish", "give it with --out DIR")
    if resume and out is not None and not out.exists():
        raise ConfigError(str(out), "does not exist, so there is nothing to resume",
                          "drop --resume to start it, or give the folder of the interrupted run")
    return out or default_out(name)


def _warn_about_overhead(out: Path) -> None:
    from harness.store import load_runs

    runs = load_runs(out)
    if not runs.empty and "harness_overhead_pct" in runs:
        # Judged per case (mean over repetitions): one stalled run on a shared machine is noise.
        real = runs[runs["mode"] == Mode.REAL.value].groupby(["files", "folders", "kind", "size"],
                                                             dropna=False)
        means = real[["harness_overhead_pct", "time_scale"]].mean()
        warning = overhead_warning(zip(means["harness_overhead_pct"], means["time_scale"], strict=True))
        short = runs[runs["server_peak_inflight"] < runs["client_peak_inflight"]]
        worst = short.loc[(short["client_peak_inflight"] - short["server_peak_inflight"]).idxmax()] \
            if len(short) else None
        for line in (warning, None if worst is None else inflight_warning(
                int(worst["server_peak_inflight"]), int(worst["client_peak_inflight"]))):
            if line is not None:
                click.echo(line, err=True)


def _fail_with(failures: list[tuple[Case, CaseFailure]], total: int, out: Path) -> None:
    """One line per failed case (the first few), then the one-line error: exit status 1."""
    from harness.store import FAILED

    for case, failure in failures[:FAILURE_LINES]:
        click.echo(f"failed: {case.case_id}: {failure.reason}", err=True)
    if len(failures) > FAILURE_LINES:
        click.echo(f"failed: ... and {len(failures) - FAILURE_LINES} more", err=True)
    raise click.ClickException(
        f"{len(failures)} of {total} cases failed (tracebacks in {out / FAILED}); every other case is "
        f"stored: run the same command again with --out {out} --resume to retry the failed ones")


@click.command()
@click.argument("scenario")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Results directory (default: results/NAME-TIMESTAMP).")
@click.option("--jobs", type=click.IntRange(1, 64), default=DEFAULT_JOBS, show_default=True,
              help="Cases run at once, each in its own process with its own mock.")
@click.option("--resume", is_flag=True, help="Finish an interrupted sweep in --out: run only what is missing.")
@click.option("--report", "with_report", is_flag=True, help="Also build the report and print its path.")
@click.option("--mode", type=click.Choice(MODES), help="real or virtual (default: the scenario's).")
def sweep(scenario: str, out: Path | None, jobs: int, resume: bool, with_report: bool,
          mode: str | None) -> None:
    """Run every case of SCENARIO (a built-in name or a TOML path) and store the results."""
    from harness.sweep import default_out
    from reports.build import build_report
    from scenarios import load_scenario

    loaded = load_scenario(scenario).with_overrides(mode=mode)
    out = _output_folder(out, resume, loaded.scenario.name)
    _sweep(loaded, out, jobs, resume)
    click.echo(str(out))
    if with_report:
        click.echo(str(build_report(out).outputs["html"]))


REAL_DEFAULT_REPS = 5  # reproduce --mode real: the whole table on sockets takes minutes per repetition
CROSS_CHECK_FILES = 10
CROSS_CHECK_REPS = 3


@click.command()
@click.option("--reps", type=click.IntRange(1, 1000),
              help="Repetitions (default: the scenario's 30; 5 with --mode real).")
@click.option("--time-scale", type=float, callback=time_scale_in_range,
              help="Wall seconds per simulated second of every run on sockets: the cross-check, or "
                   "the whole table with --mode real (default: the scenario's 0.05).")
@click.option("--jobs", type=click.IntRange(1, 64), default=DEFAULT_JOBS, show_default=True,
              help="Cases run at once, each in its own process with its own mock.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Results directory (default: results/seed-table-TIMESTAMP).")
@click.option("--resume", is_flag=True, help="Finish an interrupted reproduction in --out.")
@click.option("--mode", type=click.Choice(MODES), default="virtual", show_default=True,
              help="virtual: the table in-process on a virtual clock (exact), cross-checked on sockets; "
                   "real: the whole table through the mock on loopback sockets.")
@click.option("--cross-check/--no-cross-check", default=True, show_default=True,
              help="After a virtual table, run its 10-file row through the aiohttp mock on loopback.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"rows": [...], "cross_check": [...], "report": PATH} instead of tables.')
def reproduce(reps: int | None, time_scale: float | None, jobs: int, out: Path | None, resume: bool,
              mode: str, cross_check: bool, as_json: bool) -> None:
    """Reproduce the seed's speedup table: sequential vs batches of 5, 8 and 10.

    The table comes from virtual mode (the same extractor, strategies and behaviour model on a
    virtual clock: exact, and fast enough for 30 repetitions); its 10-file row is then run again
    through the aiohttp mock on loopback sockets, 3 repetitions with the same seeds, and the two
    are compared."""
    from harness.store import CROSS_CHECK, load_runs
    from harness.sweep import default_out
    from reports import markdown_table, rows_json, seed_table_rows
    from reports.build import build_report
    from reports.cross_check import cross_check_frame, cross_check_json, cross_check_rows
    from reports.seed_table import frame_to_markdown
    from scenarios import load_scenario

    loaded = load_scenario("seed-table")
    real = mode == Mode.REAL.value
    if time_scale is not None and not real and not cross_check:
        from mock_onyx.errors import ConfigError

        raise ConfigError("--time-scale", "has no effect: nothing runs on sockets (virtual mode, no cross-check)",
                          "drop --time-scale, or keep the cross-check, or use --mode real")
    loaded = loaded.with_overrides(mode=None if mode == loaded.scenario.mode else mode,
                                   repetitions=reps or (REAL_DEFAULT_REPS if real else None),
                                   time_scale=time_scale)
    out = _output_folder(out, resume, loaded.scenario.name)
    _sweep(loaded, out, jobs, resume)
    checks: list[CrossCheckRow] = []
    if cross_check and not real:
        # Paired with the table's own repetitions: never more than it has.
        check_reps = min(CROSS_CHECK_REPS, loaded.scenario.repetitions)
        check = loaded.with_overrides(mode=Mode.REAL.value, repetitions=check_reps,
                                      workload={"files": [CROSS_CHECK_FILES], "folders": [0]})
        click.echo(f"cross-check: the {CROSS_CHECK_FILES}-file row through the aiohttp mock on loopback "
                   f"sockets at time scale {check.scenario.time_scale:g}", err=True)
        _sweep(check, out / CROSS_CHECK, jobs, resume)
        checks = cross_check_rows(load_runs(out), load_runs(out / CROSS_CHECK))
    rows = seed_table_rows(load_runs(out))
    report = build_report(out).outputs["html"]
    if as_json:
        click.echo(json.dumps({"rows": rows_json(rows), "cross_check": cross_check_json(checks),
                               "report": str(report)}, indent=2))
        return
    click.echo(markdown_table(rows))
    if checks:
        click.echo(f"\n### Cross-check: virtual against real sockets (same seeds)\n\n"
                   f"{frame_to_markdown(cross_check_frame(checks))}")
    click.echo(f"\nreport: {report}")


@click.command()
@click.argument("results", type=click.Path(path_type=Path, file_okay=False))
@click.option("--format", "formats", default="html,md,csv", show_default=True,
              help="Comma-separated: html, md, csv.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Report directory (default: RESULTS/report).")
@click.option("--image-format", type=click.Choice(IMAGE_FORMATS), default="png", show_default=True,
              help="Plots as PNG images, or SVG (embedded inline in the HTML).")
@click.option("--idle-timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_IDLE_TIMEOUT_S,
              show_default=True, help="The frontend's idle timeout drawn on the progress-gap plot (simulated s).")
def report(results: Path, formats: str, out: Path | None, image_format: str, idle_timeout: float) -> None:
    """Build the report (tables and plots) of a results directory and print its paths."""
    from reports.build import build_report

    built = build_report(results, out, [f.strip() for f in formats.split(",") if f.strip()],
                         image_format, idle_timeout)
    for path in built.outputs.values():
        click.echo(str(path))
