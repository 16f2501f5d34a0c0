"""The sweep commands of the CLI: ``scenarios``, ``sweep`` and ``reproduce`` (thin: parse, call, print)."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.cli_executor import executor_options, refuse_on_target, shared_executor
from harness.modes import Mode
from harness.overhead import inflight_warning, overhead_warning
from harness.target import target_options
from reports.formats import DEFAULT_IDLE_TIMEOUT_S, IMAGE_FORMATS

if TYPE_CHECKING:  # the commands import these (pandas, matplotlib, the runner) in their bodies
    from harness.cli_target import TargetFlags
    from harness.dask_executor import DaskExecutor
    from harness.store import CaseFailure, ResultsStore
    from harness.sweep import SweepPlan
    from harness.target import ResolvedTarget, TargetSession
    from reports.cross_check import CrossCheckRow
    from scenarios import Case, LoadedScenario


def time_scale_in_range(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A time scale is a finite number above 0 and at most 100 (click's FloatRange lets nan by)."""
    if value is not None and not (math.isfinite(value) and 0 < value <= 100):
        raise click.BadParameter(f"{value!r} is not a number above 0 and at most 100 (wall seconds per "
                                 f"simulated second; 0.05 is the default)")
    return value


def finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A number option that is finite (click's FloatRange lets nan and inf by)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value!r} is not a finite number")
    return value


def idle_timeout_option(help_text: str) -> Any:
    return click.option("--idle-timeout", type=click.FloatRange(min=0, min_open=True), callback=finite,
                        metavar="S", help=help_text)


def allow_outside_paths_option(command: Any) -> Any:
    """``--allow-outside-paths``: a command-line flag only, never an environment variable or a key
    in the file, since a file cannot vouch for itself (``mock_onyx.distributions``)."""
    return click.option("--allow-outside-paths", is_flag=True,
                        help="Read empirical(...) CSVs and [server] profile files that a scenario or profile "
                             "names outside its own folder (only for files you trust).")(command)


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


def _sweep(loaded: LoadedScenario, out: Path, jobs: int, resume: bool, command_out: Path | None = None,
           session: TargetSession | None = None, shared: DaskExecutor | None = None) -> ResultsStore:
    """Run (or finish) a sweep, stating its expected wall time first and its progress as it goes;
    on Ctrl-C (or SIGTERM) keep what finished, print the command that finishes it and exit 130
    (or 143); if cases failed, store every other one, name them and exit 1. Against a target
    (``session``) the cases run one at a time, in this process; else on ``shared`` (the command's
    Dask executor) when there is one, else in a pool of ``jobs`` processes."""
    from harness.cli_progress import Progress, about
    from harness.store import ResultsStore
    from harness.sweep import SweepTerminated, executor_for, plan_sweep, run_sweep, sigterm_interrupts

    store = ResultsStore(out)
    plan: SweepPlan = plan_sweep(loaded, store, resume, session=session)
    executor = executor_for(jobs, session, shared)
    jobs = 1 if session is not None else jobs
    how = f"with {jobs} job(s)"
    if shared is not None and executor is shared:
        jobs = shared.slots
        how = f"{shared.where}, {jobs} at once"
    expected = _expected_wall_s(loaded, [task.case for task in plan.tasks], jobs,
                                None if session is None else session.target, on_target=session is not None)
    click.echo(f"{loaded.scenario.name}: {plan.total} cases, {plan.already_done} already done, "
               f"{len(plan.tasks)} to run {how}, {about(expected)}; results in {out}", err=True)
    try:
        with sigterm_interrupts(), Progress(plan.total, "cases", plan.already_done, expected) as progress:
            failures = run_sweep(plan, store, executor, on_case=lambda case: progress.advance())
    except KeyboardInterrupt as interruption:
        terminated = isinstance(interruption, SweepTerminated)
        click.echo(f"{'terminated' if terminated else 'interrupted'}: {len(store.finished())} of "
                   f"{plan.total} cases kept in {out}; to finish them: {resume_command(command_out or out)}",
                   err=True)
        raise click.exceptions.Exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED) from None
    _warn_about_overhead(out, on_target=session is not None)
    if failures:
        _fail_with(failures, plan.total, out, command_out or out)
    return store


def _expected_wall_s(loaded: LoadedScenario, cases: list[Case], jobs: int, target: ResolvedTarget | None = None,
                     on_target: bool = False) -> float:
    """Wall seconds for ``cases``: on the scenario's mock, or against a target (``on_target``):
    at a mock's own profile, else in real time at the scenario's latencies, for a real Onyx and
    for a target not asked yet (``target`` None: a dry run)."""
    from harness.cli_target import at_real_time
    from harness.estimate import run_wall_s, sweep_wall_s

    profile = loaded.profile(0)
    mode = Mode(loaded.scenario.mode)
    if on_target:
        profile = target.profile if target is not None and target.profile is not None else at_real_time(profile)
        mode = Mode.REAL
    walls: dict[tuple[str, int | None, int], float] = {}
    for case in cases:
        key = (case.kind, case.size, case.files + case.folders)
        if key not in walls:
            walls[key] = run_wall_s(case.kind, case.size, key[2], profile, mode)
    return sweep_wall_s((walls[(c.kind, c.size, c.files + c.folders)] for c in cases), jobs)


@dataclass(frozen=True)
class CommandLine:
    """The command line as typed (``harness.cli`` puts it in the context's ``obj``)."""

    program: str
    args: tuple[str, ...]


def resume_command(out: Path) -> str:
    """The command line that finishes an interrupted sweep: this one, with ``--out`` and ``--resume``."""
    import shlex

    typed = click.get_current_context().find_object(CommandLine) or CommandLine("onyx-bench", ())
    kept, skip = [], False
    for arg in typed.args:
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif not arg.startswith("--out=") and arg != "--resume":
            kept.append(arg)
    return shlex.join([typed.program, *kept, "--out", str(out), "--resume"])


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


def _warn_about_overhead(out: Path, on_target: bool = False) -> None:
    from harness.store import load_runs

    runs = load_runs(out)
    if not runs.empty and "harness_overhead_pct" in runs:
        # Judged per case (mean over repetitions): one stalled run on a shared machine is noise.
        real = runs[runs["mode"] == Mode.REAL.value].groupby(["files", "folders", "kind", "size"],
                                                             dropna=False)
        means = real[["harness_overhead_pct", "time_scale"]].mean()
        warning = overhead_warning(zip(means["harness_overhead_pct"], means["time_scale"], strict=True),
                                   on_target)
        short = runs[runs["server_peak_inflight"] < runs["client_peak_inflight"]]
        worst = short.loc[(short["client_peak_inflight"] - short["server_peak_inflight"]).idxmax()] \
            if len(short) else None
        for line in (warning, None if worst is None else inflight_warning(
                int(worst["server_peak_inflight"]), int(worst["client_peak_inflight"]))):
            if line is not None:
                click.echo(line, err=True)


def _fail_with(failures: list[tuple[Case, CaseFailure]], total: int, out: Path, command_out: Path) -> None:
    """One line per failed case (the first few), then the one-line error: exit status 1."""
    from harness.store import FAILED

    for case, failure in failures[:FAILURE_LINES]:
        click.echo(f"failed: {case.case_id}: {failure.reason}", err=True)
    if len(failures) > FAILURE_LINES:
        click.echo(f"failed: ... and {len(failures) - FAILURE_LINES} more", err=True)
    raise click.ClickException(
        f"{len(failures)} of {total} cases failed (tracebacks in {out / FAILED}); every other case is "
        f"stored; to retry the failed ones: {resume_command(command_out)}")


def scenario_options(command: Any) -> Any:
    """The flags that override a scenario's top-level settings (``sweep`` and ``reproduce``)."""
    options = [
        click.option("--reps", type=click.IntRange(1, 10_000),
                     help="Repetitions of every case (default: the scenario's)."),
        click.option("--seed", type=int,
                     help="The scenario's seed: repetition r runs with profile seed seed * 1000 + r "
                          "(default: the scenario's)."),
        click.option("--time-scale", type=float, callback=time_scale_in_range,
                     help="Wall seconds per simulated second of every run on sockets, above 0, at most "
                          "100 (default: the scenario's, 0.05 unless it says otherwise)."),
        click.option("--jobs", type=click.IntRange(1, 64), default=DEFAULT_JOBS, show_default=True,
                     help="Cases run at once, each in its own process with its own mock."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command()
@click.argument("scenario")
@scenario_options
@click.option("--mode", type=click.Choice(MODES), help="real or virtual (default: the scenario's).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Results directory (default: results/NAME-TIMESTAMP).")
@click.option("--resume", is_flag=True, help="Finish an interrupted sweep in --out: run only what is missing.")
@click.option("--report/--no-report", "with_report", default=False, show_default=True,
              help="Also build the report (HTML, Markdown, CSV) and print its path.")
@idle_timeout_option("The frontend drops a run after S simulated seconds without a progress event "
                     "(default: the scenario's idle_timeout_s, else never).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"results": DIR, "answer": [...], "summary": [...], "report": PATH or null}.')
@allow_outside_paths_option
@executor_options
@target_options
def sweep(scenario: str, reps: int | None, seed: int | None, time_scale: float | None, jobs: int,
          mode: str | None, out: Path | None, resume: bool, with_report: bool, idle_timeout: float | None,
          as_json: bool, allow_outside_paths: bool, executor: str, scheduler: str | None, target: str | None,
          credentials_file: Path | None, yes: bool, dry_run: bool, max_in_flight: int, max_calls: int) -> None:
    """Run every case of SCENARIO (a built-in name or a TOML path), store the results, and say
    what they show. With --target, every case runs against that server, one at a time."""
    from harness.cli_target import TargetFlags, refuse_target_flags
    from harness.store import load_files, load_manifest, load_runs
    from reports.answer import answer_lines, planned_cases
    from reports.summary import summary_table
    from scenarios import load_scenario

    loaded = load_scenario(scenario, allow_outside_paths).with_overrides(
        mode=mode, repetitions=reps, seed=seed, time_scale=time_scale, idle_timeout_s=idle_timeout)
    session = None
    if target is None:
        refuse_target_flags(click.get_current_context())
        _refuse_time_scale_without_sockets(time_scale, loaded.scenario.mode == Mode.VIRTUAL.value,
                                           "drop --time-scale, or use --mode real")
        out = _output_folder(out, resume, loaded.scenario.name)
    else:
        refuse_on_target(executor, scheduler)
        out = _output_folder(out, resume, loaded.scenario.name)
        loaded, session = _sweep_target(loaded, out, resume, TargetFlags(target, credentials_file, yes, dry_run,
                                                                         max_in_flight, max_calls,
                                                                         allow_outside_paths))
        if session is None:  # a dry run: the plan is printed, nothing is sent or written
            return
    with shared_executor(executor, scheduler, jobs) as shared:
        _sweep(loaded, out, jobs, resume, session=session, shared=shared)
    runs = load_runs(out)
    answer = answer_lines(runs, planned_cases(load_manifest(out)))
    report_path = _build_report(out) if with_report else None
    if as_json:
        summary = summary_table(runs, load_files(out))
        click.echo(json.dumps({"results": str(out), "answer": answer,
                               "summary": _json_records(summary),
                               "report": None if report_path is None else str(report_path)}, indent=2))
        return
    for line in answer:
        click.echo(line)
    click.echo(f"results: {out}")
    if report_path is not None:
        click.echo(f"report: {report_path}")


def _sweep_target(loaded: LoadedScenario, out: Path, resume: bool,
                  flags: TargetFlags) -> tuple[LoadedScenario, TargetSession | None]:
    """The scenario as a sweep against ``flags.url`` runs it (in real mode, the target recorded in
    the manifest beside the other overrides), and the session (None after a dry run). Flags that
    a target makes meaningless are refused, not ignored."""
    import dataclasses
    from collections import Counter

    from click.core import ParameterSource

    from harness.call_plan import plan_calls
    from harness.cli_target import open_target
    from harness.store import ResultsStore
    from harness.target import check_target_url
    from mock_onyx.errors import ConfigError

    check_target_url(flags.url)  # the URL first: what is wrong with it is the likelier mistake
    ctx = click.get_current_context()
    given = {name for name in ("mode", "time_scale", "jobs")
             if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE}
    if "mode" in given and ctx.params["mode"] == Mode.VIRTUAL.value:
        raise ConfigError("--mode", "virtual runs the mock in-process, so nothing would reach --target",
                          "drop --mode virtual, or drop --target")
    if "time_scale" in given:
        raise ConfigError("--time-scale", "has no effect with --target: a real Onyx runs in real time, a mock "
                          "at its own time scale", "drop --time-scale (a mock's is set with onyx-bench serve)")
    if "jobs" in given and ctx.params["jobs"] > 1:
        raise ConfigError("--jobs", "cases against a target run one at a time: in parallel they would load it "
                          "with each other's calls and pass --max-in-flight", "drop --jobs")
    loaded = loaded.with_overrides(mode=Mode.REAL.value)
    finished = ResultsStore(out).finished() if resume else set()
    remaining = [case for case in loaded.scenario.cases() if case.case_id not in finished]
    planned = Counter(plan_calls(c.kind, c.size, c.files, c.folders, c.retry) for c in remaining)
    session = open_target(flags, list(planned.items()),
                          lambda target: _expected_wall_s(loaded, remaining, 1, target, on_target=True),
                          f"{len(remaining)} cases, one at a time; the target taken for a real Onyx (real time)")
    if session is None:
        return loaded, None
    return dataclasses.replace(loaded, overrides={**loaded.overrides, "target": session.target.url}), session


def _build_report(out: Path) -> Path:
    from reports.build import build_report  # matplotlib: imported only when a report is asked for

    return build_report(out).outputs["html"]


def _json_records(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as JSON-ready dicts: nan and NA as null, a size as a whole number."""
    records = json.loads(frame.to_json(orient="records"))
    for record in records:
        if isinstance(record.get("size"), float):
            record["size"] = int(record["size"])
    return list(records)


def _refuse_time_scale_without_sockets(time_scale: float | None, no_sockets: bool, fix: str) -> None:
    if time_scale is not None and no_sockets:
        from mock_onyx.errors import ConfigError

        raise ConfigError("--time-scale", "has no effect: nothing runs on sockets (virtual mode)", fix)


REAL_DEFAULT_REPS = 5  # reproduce --mode real: the whole table on sockets takes minutes per repetition
CROSS_CHECK_FILES = 10
CROSS_CHECK_REPS = 3


@click.command()
@scenario_options
@click.option("--mode", type=click.Choice(MODES), default="virtual", show_default=True,
              help="virtual: the table in-process on a virtual clock (exact), cross-checked on sockets; "
                   "real: the whole table through the mock on loopback sockets (5 repetitions unless --reps).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Results directory (default: results/seed-table-TIMESTAMP).")
@click.option("--resume", is_flag=True, help="Finish an interrupted reproduction in --out.")
@click.option("--cross-check/--no-cross-check", default=True, show_default=True,
              help="After a virtual table, run its 10-file row through the aiohttp mock on loopback.")
@click.option("--report/--no-report", "with_report", default=True, show_default=True,
              help="Also build the report (HTML, Markdown, CSV) and print its path.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"answer": [...], "rows": [...], "cross_check": [...], "report": PATH or null} '
                   "instead of tables.")
def reproduce(reps: int | None, seed: int | None, time_scale: float | None, jobs: int, mode: str,
              out: Path | None, resume: bool, cross_check: bool, with_report: bool, as_json: bool) -> None:
    """Reproduce the seed's speedup table: sequential vs batches of 5, 8 and 10.

    The table comes from virtual mode (the same extractor, strategies and behaviour model on a
    virtual clock: exact, and fast enough for 30 repetitions); its 10-file row is then run again
    through the aiohttp mock on loopback sockets, 3 repetitions with the same seeds, and the two
    are compared."""
    from harness.store import CROSS_CHECK, load_manifest, load_runs
    from reports import markdown_table, rows_json, seed_table_rows
    from reports.answer import answer_lines, planned_cases
    from reports.cross_check import cross_check_frame, cross_check_json, cross_check_rows
    from reports.seed_table import frame_to_markdown
    from scenarios import load_scenario

    loaded = load_scenario("seed-table")
    real = mode == Mode.REAL.value
    _refuse_time_scale_without_sockets(time_scale, not real and not cross_check,
                                       "drop --time-scale, or keep the cross-check, or use --mode real")
    loaded = loaded.with_overrides(mode=None if mode == loaded.scenario.mode else mode,
                                   repetitions=reps or (REAL_DEFAULT_REPS if real else None),
                                   seed=seed, time_scale=time_scale)
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
        _sweep(check, out / CROSS_CHECK, jobs, resume, command_out=out)
        checks = cross_check_rows(load_runs(out), load_runs(out / CROSS_CHECK))
    runs = load_runs(out)
    rows = seed_table_rows(runs)
    answer = answer_lines(runs, planned_cases(load_manifest(out)))
    report_path = _build_report(out) if with_report else None
    if as_json:
        click.echo(json.dumps({"answer": answer, "rows": rows_json(rows), "cross_check": cross_check_json(checks),
                               "report": None if report_path is None else str(report_path)}, indent=2))
        return
    for line in answer:
        click.echo(line)
    click.echo(f"\n{markdown_table(rows)}")
    if checks:
        click.echo(f"\n### Cross-check: virtual against real sockets (same seeds)\n\n"
                   f"{frame_to_markdown(cross_check_frame(checks))}")
    click.echo(f"\nresults: {out}")
    if report_path is not None:
        click.echo(f"report: {report_path}")


@click.command()
@click.argument("results", type=click.Path(path_type=Path, file_okay=False))
@click.option("--format", "formats", default="html,md,csv", show_default=True,
              help="Comma-separated: html, md, csv (the summary, and the runs, files, events and calls "
                   "tables as runs.csv, files.csv, events.csv, calls.csv).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Report directory (default: RESULTS/report).")
@click.option("--image-format", type=click.Choice(IMAGE_FORMATS), default="png", show_default=True,
              help="Plots as PNG images, or SVG (embedded inline in the HTML).")
@click.option("--idle-timeout", type=click.FloatRange(min=0, min_open=True),
              help="The frontend's idle timeout drawn on the progress-gap plot, in simulated s (default: "
                   f"the scenario's idle_timeout_s, else {DEFAULT_IDLE_TIMEOUT_S:g}, nginx's).")
def report(results: Path, formats: str, out: Path | None, image_format: str, idle_timeout: float | None) -> None:
    """Build the report (tables and plots) of a results directory and print its paths."""
    from reports.build import build_report

    built = build_report(results, out, [f.strip() for f in formats.split(",") if f.strip()],
                         image_format, idle_timeout)
    for path in [*built.outputs.values(), *built.exports.values()]:
        click.echo(str(path))
