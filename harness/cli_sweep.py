"""The sweep commands of the CLI: ``scenarios``, ``sweep`` and ``reproduce`` (thin: parse, call, print)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from harness.runner import Mode
from harness.store import ResultsStore, load_runs
from harness.sweep import SweepPlan, default_out, executor_for, plan_sweep, run_sweep
from reports import markdown_table, rows_json, seed_table_rows
from reports.build import DEFAULT_IDLE_TIMEOUT_S, IMAGE_FORMATS, build_report
from scenarios import LoadedScenario, builtin_names, load_scenario

EXIT_INTERRUPTED = 130
DEFAULT_JOBS = 2  # this class of machine has 2 cores; one case per core
MODES = [mode.value for mode in Mode]


@click.command("scenarios")
def list_scenarios() -> None:
    """List the built-in scenarios."""
    for name in builtin_names():
        scenario = load_scenario(name).scenario
        click.echo(f"{name:<18} {len(scenario.cases()):>5} cases  {scenario.description}")


def _sweep(loaded: LoadedScenario, out: Path, jobs: int, resume: bool) -> ResultsStore:
    """Run (or finish) a sweep with a progress bar; on Ctrl-C keep what finished and exit 130."""
    store = ResultsStore(out)
    plan: SweepPlan = plan_sweep(loaded, store, resume)
    click.echo(f"{loaded.scenario.name}: {plan.total} cases, {plan.already_done} already done, "
               f"{len(plan.tasks)} to run with {jobs} job(s); results in {out}", err=True)
    try:
        with click.progressbar(length=plan.total, label="cases", file=sys.stderr,
                               show_pos=True) as bar:
            bar.update(plan.already_done)
            run_sweep(plan, store, executor_for(jobs), on_case=lambda case: bar.update(1))
    except KeyboardInterrupt:
        click.echo(f"interrupted: {len(store.finished())} of {plan.total} cases kept in {out}; "
                   f"run again with --resume to finish", err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    return store


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
    loaded = load_scenario(scenario).with_overrides(mode=mode)
    out = out or default_out(loaded.scenario.name)
    _sweep(loaded, out, jobs, resume)
    click.echo(str(out))
    if with_report:
        click.echo(str(build_report(out).outputs["html"]))


@click.command()
@click.option("--reps", type=click.IntRange(1, 1000), help="Repetitions (default: the scenario's 5).")
@click.option("--time-scale", type=float, help="Wall seconds per simulated second (default 0.01).")
@click.option("--jobs", type=click.IntRange(1, 64), default=DEFAULT_JOBS, show_default=True)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Results directory (default: results/seed-table-TIMESTAMP).")
@click.option("--resume", is_flag=True, help="Finish an interrupted reproduction in --out.")
@click.option("--mode", type=click.Choice(MODES), default="real", show_default=True,
              help="real: the mock on loopback sockets; virtual: in-process on a virtual clock.")
@click.option("--json", "as_json", is_flag=True, help='Print {"rows": [...]} instead of the table.')
def reproduce(reps: int | None, time_scale: float | None, jobs: int, out: Path | None, resume: bool,
              mode: str, as_json: bool) -> None:
    """Reproduce the seed's speedup table: sequential vs batches of 5, 8 and 10."""
    loaded = load_scenario("seed-table").with_overrides(repetitions=reps, time_scale=time_scale,
                                                        mode=None if mode == "real" else mode)
    out = out or default_out(loaded.scenario.name)
    _sweep(loaded, out, jobs, resume)
    rows = seed_table_rows(load_runs(out))
    report = build_report(out).outputs["html"]
    if as_json:
        click.echo(json.dumps({"rows": rows_json(rows), "report": str(report)}, indent=2))
        return
    click.echo(markdown_table(rows))
    click.echo(f"\nreport: {report}")


@click.command()
@click.argument("results", type=click.Path(path_type=Path, file_okay=False))
@click.option("--format", "formats", default="html,md,csv", show_default=True,
              help="Comma-separated: html, md, csv.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Report directory (default: RESULTS/report).")
@click.option("--image-format", type=click.Choice(IMAGE_FORMATS), default="png", show_default=True)
@click.option("--idle-timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_IDLE_TIMEOUT_S,
              show_default=True, help="The frontend's idle timeout drawn on the progress-gap plot (simulated s).")
def report(results: Path, formats: str, out: Path | None, image_format: str, idle_timeout: float) -> None:
    """Build the report (tables and plots) of a results directory and print its paths."""
    built = build_report(results, out, [f.strip() for f in formats.split(",") if f.strip()],
                         image_format, idle_timeout)
    for path in built.outputs.values():
        click.echo(str(path))
