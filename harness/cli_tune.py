"""``onyx-bench tune``: the fastest configuration of a scenario's strategies that keeps every
constraint, with the evidence (thin: the search's decisions are ``harness.tune``, its rounds are
sweeps, its report ``reports.tune``).

    DIR/tune.json     the settings (written first: --resume checks them), then the answer
    DIR/round-1/ ...  a results directory per search round (``onyx-bench report DIR/round-1``)
    DIR/confirm/      the winner through the aiohttp mock on loopback sockets, round 1's seeds (or
                      against --target: the search on the scenario's model, the confirmation on the
                      server it models)
    DIR/report/       the tune's report (``onyx-bench report DIR`` rebuilds it)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from harness.cli_executor import executor_options, shared_executor
from harness.cli_sweep import (
    DEFAULT_JOBS,
    EXIT_INTERRUPTED,
    _output_folder,
    _refuse_time_scale_without_sockets,
    _sweep,
    allow_outside_paths_option,
    idle_timeout_option,
    resume_command,
    time_scale_in_range,
)
from harness.target import target_options

if TYPE_CHECKING:  # the command imports these (pydantic, pandas, the runner) in its body
    from harness.cli_target import TargetFlags
    from harness.dask_executor import DaskExecutor
    from harness.target import ResolvedTarget, TargetSession
    from harness.tune import Candidate, Observation, Race, Standing
    from scenarios import LoadedScenario

OBJECTIVE_CHOICES = ["mean", "p95"]
MIN_TARGET_REPS = 20  # the winner's repetitions when the scenario asks for fewer
SCREEN_REPS = 3
CONFIRM_REPS = 3
MAX_ROUNDS = 12  # a guard: the race ends by itself (repetitions only grow, up to --reps)
LIKELY_CLOSE = 3  # candidates expected to stay close to the leader, for the wall-time estimate
TABLE_ROWS = 10  # feasible candidates printed; the report and --json have them all


def _sizes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    from harness.tune import parse_sizes
    from mock_onyx.errors import ConfigError

    try:
        return parse_sizes(value)
    except ConfigError as error:
        raise click.BadParameter(f"{error.problem}; fix: {error.fix}") from None


@click.command()
@click.argument("scenario")
@click.option("--objective", type=click.Choice(OBJECTIVE_CHOICES), default="mean", show_default=True,
              help="Rank feasible configurations by mean makespan, or by its 95th percentile, at the "
                   "scenario's largest file count.")
@click.option("--min-success", type=click.FloatRange(0, 1), default=0.99, show_default=True,
              help="The share of items that must succeed in every run (each repetition, each file count).")
@idle_timeout_option("The frontend drops a run after S simulated seconds without a progress event; a "
                     "configuration that is dropped once is infeasible (default: the scenario's "
                     "idle_timeout_s, else never).")
@click.option("--sizes", default="1-16", show_default=True, callback=_sizes, metavar="SIZES",
              help="Sizes to explore for batch, window and adaptive (besides the scenario's own), "
                   "e.g. 1-16 or 1-8,12,16.")
@click.option("--reps", type=click.IntRange(2, 1000),
              help=f"Repetitions the recommendation, and every candidate still close to it, reach "
                   f"(default: the scenario's, at least {MIN_TARGET_REPS}).")
@click.option("--screen-reps", type=click.IntRange(2, 1000), default=SCREEN_REPS, show_default=True,
              help="Repetitions of every candidate in round 1 (at least --confirm-reps).")
@click.option("--confirm/--no-confirm", default=True, show_default=True,
              help="Run the winner again through the aiohttp mock on loopback sockets (same seeds) "
                   "and state the difference.")
@click.option("--confirm-reps", type=click.IntRange(1, 100), default=CONFIRM_REPS, show_default=True,
              help="Repetitions of the confirmation on sockets.")
@click.option("--time-scale", type=float, callback=time_scale_in_range,
              help="Wall seconds per simulated second of the confirmation, above 0, at most 100 "
                   "(default: the scenario's, 0.05 unless it says otherwise).")
@click.option("--seed", type=int, help="The scenario's seed (round k draws with seed + k - 1; default: "
                                       "the scenario's).")
@click.option("--jobs", type=click.IntRange(1, 64), default=DEFAULT_JOBS, show_default=True,
              help="Cases run at once, each in its own process with its own mock.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Tune directory (default: results/tune-NAME-TIMESTAMP).")
@click.option("--resume", is_flag=True, help="Finish an interrupted tune in --out: run only what is missing.")
@click.option("--report/--no-report", "with_report", default=True, show_default=True,
              help="Write the report (HTML, Markdown, CSV) and print its path.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"recommendation": {...}, "candidates": [...], "confirmation": {...}, '
                   '"report": PATH, ...} instead of text.')
@allow_outside_paths_option
@executor_options
@target_options
def tune(scenario: str, objective: str, min_success: float, idle_timeout: float | None,
         sizes: tuple[int, ...], reps: int | None, screen_reps: int, confirm: bool, confirm_reps: int,
         time_scale: float | None, seed: int | None, jobs: int, out: Path | None, resume: bool,
         with_report: bool, as_json: bool, allow_outside_paths: bool, executor: str, scheduler: str | None,
         target: str | None, credentials_file: Path | None, yes: bool, dry_run: bool, max_in_flight: int,
         max_calls: int) -> None:
    """Find the fastest configuration of SCENARIO's strategies (a built-in name or a TOML path)
    that loses no file beyond --min-success, never hits the idle timeout and never crashes the
    server: sizes 1 to 16 on virtual time, repetitions added where candidates are close, the
    winner confirmed on sockets (with --target: on that server, the search staying on the model;
    with --executor dask, the search's rounds and the confirmation on sockets run on Dask)."""
    from harness.cli_target import TargetFlags, refuse_target_flags
    from harness.tune import search_candidates
    from mock_onyx.errors import ConfigError
    from scenarios import load_scenario

    loaded = load_scenario(scenario, allow_outside_paths).with_overrides(seed=seed, idle_timeout_s=idle_timeout,
                                                                         time_scale=time_scale)
    ctx = click.get_current_context()
    if target is None:
        refuse_target_flags(ctx)
        _refuse_time_scale_without_sockets(time_scale, not confirm, "drop --time-scale, or keep the confirmation")
    if not confirm and ctx.get_parameter_source("confirm_reps") is ParameterSource.COMMANDLINE:
        raise ConfigError("--confirm-reps", "has no effect with --no-confirm", "drop one of them")
    target_reps = reps or max(MIN_TARGET_REPS, loaded.scenario.repetitions)
    screen = max(screen_reps, confirm_reps if confirm else 1)
    if target_reps < screen:
        raise ConfigError("--reps", f"{target_reps} is fewer than round 1's {screen} repetitions",
                          f"give --reps {screen} or more, or fewer --screen-reps")
    out = _output_folder(out, resume, f"tune-{loaded.scenario.name}")
    candidates = search_candidates(loaded.scenario, sizes)
    session = None
    if target is not None:
        session = _tune_target(loaded, candidates, confirm, confirm_reps,
                               TargetFlags(target, credentials_file, yes, dry_run, max_in_flight, max_calls,
                                           allow_outside_paths))
        if session is None:  # a dry run: the plan is printed, nothing is sent or written
            return
    with shared_executor(executor, scheduler, jobs) as shared:
        answer = _tune_in(loaded, candidates, out, jobs, resume, session, shared, objective=objective,
                          min_success=min_success, sizes=sizes, target_reps=target_reps, screen=screen,
                          confirm=confirm, confirm_reps=confirm_reps)
    _finish(answer, out, with_report, as_json)


def _tune_in(loaded: LoadedScenario, candidates: list[Candidate], out: Path, jobs: int, resume: bool,
             session: TargetSession | None, shared: DaskExecutor | None, *, objective: str, min_success: float,
             sizes: tuple[int, ...], target_reps: int, screen: int, confirm: bool,
             confirm_reps: int) -> dict[str, Any]:
    """Record the settings (or check them on --resume), state the plan, run the tune: its answer.
    Ctrl-C between rounds keeps what finished (a round's own sweep says so itself, and exits)."""
    from harness.store import make_folder

    make_folder(out, "--out")
    settings = {"scenario": loaded.source, "scenario_text": loaded.text, "objective": objective,
                "min_success": min_success, "idle_timeout_s": loaded.scenario.idle_timeout_s,
                "sizes": list(sizes), "reps": target_reps, "screen_reps": screen, "confirm": confirm,
                "confirm_reps": confirm_reps, "time_scale": loaded.scenario.time_scale,
                "seed": loaded.scenario.seed, "target": None if session is None else session.target.url}
    _start(out, settings, resume)
    click.echo(_plan_line(loaded, candidates, screen, target_reps, confirm_reps if confirm else 0,
                          jobs if shared is None else shared.slots, session), err=True)
    try:
        return _tune(loaded, candidates, out, jobs, resume, settings, session, shared)
    except KeyboardInterrupt:  # between rounds (a round's own sweep says so itself, and exits)
        click.echo(f"interrupted: finished cases kept in {out}; to finish the tune: {resume_command(out)}",
                   err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


def _start(out: Path, settings: dict[str, Any], resume: bool) -> None:
    """Record the settings, or check that a resumed tune was started with the same ones."""
    from harness.store import TUNE, write_atomically
    from mock_onyx.errors import ConfigError

    path = out / TUNE
    if path.is_file():
        if not resume:
            raise ConfigError(str(out), "already holds a tune", "add --resume to finish it, or choose a new --out")
        then = json.loads(path.read_text()).get("settings", {})
        changed = [f"{key} was {then.get(key)!r}, now {settings[key]!r}" for key in settings
                   if key != "scenario_text" and then.get(key) != settings[key]]
        if then.get("scenario_text") != settings["scenario_text"]:
            changed.insert(0, "the scenario's text differs")
        if changed:
            raise ConfigError(str(out), f"was tuned with other settings ({'; '.join(changed)})",
                              "resume with the same scenario and options, or choose a new --out")
        return
    if any(out.iterdir()):
        raise ConfigError(str(out), "is not empty and holds no tune", "choose a new --out")
    write_atomically(path, json.dumps({"status": "running", "settings": settings}, indent=2))


def _plan_line(loaded: LoadedScenario, candidates: list[Candidate], screen: int, target: int,
               confirm_reps: int, jobs: int, session: TargetSession | None = None) -> str:
    """What the tune will run and the wall time to expect (``harness.estimate``)."""
    from harness.cli_progress import about
    from harness.estimate import run_wall_s, sweep_wall_s
    from harness.modes import Mode

    scenario = loaded.scenario
    profile = loaded.profile(0)
    points = [f + d for f in scenario.workload.files for d in scenario.workload.folders if f + d > 0]
    walls = {c: [run_wall_s(c.kind, c.size, n, profile, Mode.VIRTUAL) for n in points] for c in candidates}
    first = sweep_wall_s((w for c in candidates for w in walls[c] * screen), jobs)
    typical = _typical(loaded, candidates)
    later = sweep_wall_s(walls[typical] * (LIKELY_CLOSE * max(0, target - screen)), jobs)
    real = (_confirm_wall_s(loaded, typical, confirm_reps, jobs, None if session is None else session.target,
                            on_target=session is not None) if confirm_reps else 0.0)
    unit = "files" if set(scenario.workload.folders) == {0} else "items (files and folders)"
    counts = " and ".join(str(n) for n in points) + f" {unit}"
    where = (f"on sockets at time scale {scenario.time_scale:g}" if session is None
             else f"against {session.target.url} ({'a mock' if session.target.is_mock else 'real time'})")
    confirm = (f", then the winner {where}, {confirm_reps} repetition(s) ({about(real)})") if confirm_reps else ""
    plural = "s" if len(candidates) != 1 else ""
    return (f"tune {scenario.name}: {len(candidates)} candidate{plural} at {counts} on virtual time; round 1 "
            f"runs each {screen} times ({len(candidates) * len(points) * screen} cases, {about(first)}), later "
            f"rounds add repetitions where candidates are close, up to {target}{confirm}: {about(first + later + real)}"
            f" in all")


def _typical(loaded: LoadedScenario, candidates: list[Candidate]) -> Candidate:
    """The middle candidate by its expected makespans: the winner's stand-in in an estimate."""
    from harness.estimate import simulated_makespan_s

    scenario = loaded.scenario
    profile = loaded.profile(0)
    points = [f + d for f in scenario.workload.files for d in scenario.workload.folders if f + d > 0]
    return sorted(candidates, key=lambda c: sum(simulated_makespan_s(c.kind, c.size, n, profile)
                                                for n in points))[len(candidates) // 2]


def _confirm_wall_s(loaded: LoadedScenario, candidate: Candidate, reps: int, jobs: int,
                    target: ResolvedTarget | None = None, on_target: bool = False) -> float:
    """Wall seconds of the confirmation: on sockets at the scenario's time scale; against a target
    (``on_target``), one case at a time, at a mock's own profile, else in real time at the
    scenario's latencies (a real Onyx, or a target not asked yet: ``target`` None in a dry run)."""
    from harness.cli_target import at_real_time
    from harness.estimate import run_wall_s, sweep_wall_s
    from harness.modes import Mode

    scenario = loaded.scenario
    profile = loaded.profile(0)
    if on_target:
        profile = target.profile if target is not None and target.profile is not None else at_real_time(profile)
        jobs = 1
    points = [f + d for f in scenario.workload.files for d in scenario.workload.folders if f + d > 0]
    return sweep_wall_s([run_wall_s(candidate.kind, candidate.size, n, profile, Mode.REAL) for n in points] * reps,
                        jobs)


def _tune_target(loaded: LoadedScenario, candidates: list[Candidate], confirm: bool, confirm_reps: int,
                 flags: TargetFlags) -> TargetSession | None:
    """The session the confirmation runs against ``flags.url`` (None after a dry run). The
    search stays on virtual time, on the scenario's model: only the winner's confirmation reaches
    the target, so that is what is planned, capped and confirmed, for any candidate that could win
    (the largest counts of all), before the search starts."""
    from click.core import ParameterSource as Source

    from harness.call_plan import bound, plan_calls
    from harness.cli_target import open_target
    from harness.target import check_target_url
    from mock_onyx.errors import ConfigError

    check_target_url(flags.url)  # the URL first: what is wrong with it is the likelier mistake
    ctx = click.get_current_context()
    if not confirm:
        raise ConfigError("--no-confirm", "nothing would reach --target: the search runs on virtual time, and only "
                          "the confirmation on a server", "drop --no-confirm, or drop --target")
    if ctx.get_parameter_source("time_scale") is Source.COMMANDLINE:
        raise ConfigError("--time-scale", "has no effect with --target: a real Onyx runs in real time, a mock "
                          "at its own time scale", "drop --time-scale (a mock's is set with onyx-bench serve)")
    workload = loaded.scenario.workload
    planned = [(bound((plan_calls(c.kind, c.size, f, d, c.retry) for c in candidates),
                      f"the winner (any of {len(candidates)} candidates) over {f} files"
                      + (f" + {d} folders" if d else "")), confirm_reps)
               for f in workload.files for d in workload.folders if f + d > 0]
    typical = _typical(loaded, candidates)
    return open_target(flags, planned,
                       lambda target: _confirm_wall_s(loaded, typical, confirm_reps, 1, target, on_target=True),
                       "the search runs on virtual time, only the confirmation would reach it; taken for a real "
                       "Onyx (real time)")


def _tune(loaded: LoadedScenario, candidates: list[Candidate], out: Path, jobs: int, resume: bool,
          settings: dict[str, Any], session: TargetSession | None = None,
          shared: DaskExecutor | None = None) -> dict[str, Any]:
    """The search, then the confirmation: the answer (``DIR/tune.json``'s content)."""
    from harness.tune import headline, infeasible_line, recommendation, why
    from harness.tune.answer import FORMAT_VERSION, candidate_records, recommendation_record, rounds_of

    ranked, rounds, observed = _search(loaded, candidates, out, jobs, resume, settings, shared)
    winner = recommendation(ranked)
    files, folders = headline(observed)
    reason = None if winner is None else why(winner, ranked, settings["objective"],
                                             settings["idle_timeout_s"] is not None, files)
    confirmation = None
    if winner is not None and settings["confirm"]:
        confirmation = _confirm(loaded, winner, out, jobs, resume, settings, session, shared)
    taken = rounds_of((r["round"], r.pop("members")) for r in rounds)
    return {"format_version": FORMAT_VERSION, "status": "done", "settings": settings,
            "scenario": loaded.scenario.name, "objective": settings["objective"], "files": files,
            "folders": folders,
            "recommendation": None if winner is None else recommendation_record(winner, reason or "", files, folders),
            "why": reason, "infeasible": None if winner is not None else infeasible_line(ranked),
            "candidates": candidate_records(ranked, winner, settings["objective"], taken),
            "rounds": rounds, "confirmation": confirmation, "results": str(out)}


def _search(loaded: LoadedScenario, candidates: list[Candidate], out: Path, jobs: int, resume: bool,
            settings: dict[str, Any], shared: DaskExecutor | None = None,
            ) -> tuple[list[Standing], list[dict[str, Any]], list[Observation]]:
    """Round 1 runs every candidate; each later round the race's members (``harness.tune.race``)
    on one block of draws."""
    from harness.store import TUNE_ROUND
    from harness.tune import Block, race, standings, strategy_tables

    blocks = [Block(settings["seed"], settings["screen_reps"])]
    members, block, why_round = list(candidates), blocks[0], "every candidate"
    rounds: list[dict[str, Any]] = []
    observed: list[Observation] = []
    ranked: list[Standing] = []
    for number in range(1, MAX_ROUNDS + 1):
        click.echo(f"round {number}: {why_round}; repetitions 0-{block.reps - 1} of seed {block.seed}", err=True)
        this = loaded.with_overrides(mode="virtual", seed=block.seed, repetitions=block.reps,
                                     strategies=strategy_tables(members))
        folder = out / TUNE_ROUND.format(number)
        _sweep(this, folder, _round_jobs(this, jobs), resume, command_out=out, shared=shared)
        observed += _observations(folder, block.seed)
        rounds.append({"round": number, "results": folder.name, "seed": block.seed, "reps_added": block.reps,
                       "candidates": len(members), "cases": len(this.scenario.cases()), "why": why_round,
                       "labels": [c.label for c in members], "members": members})
        ranked = standings(observed, settings["min_success"], settings["objective"])
        following = race(ranked, settings["objective"], settings["reps"], blocks)
        if following.block is None:
            break
        if following.new_block:
            blocks.append(following.block)
        members, block = list(following.members), following.block
        why_round = _race_words(following, ranked)
    return ranked, rounds, observed


def _round_jobs(loaded: LoadedScenario, jobs: int) -> int:
    """``jobs``, or 1 when the round is so small that starting worker processes costs more than
    it saves (``harness.estimate``)."""
    from harness.estimate import run_wall_s, sweep_wall_s
    from harness.modes import Mode

    profile = loaded.profile(0)
    walls = [run_wall_s(c.kind, c.size, c.files + c.folders, profile, Mode.VIRTUAL) for c in loaded.scenario.cases()]
    return jobs if sweep_wall_s(walls, jobs) < sweep_wall_s(walls, 1) else 1


def _race_words(following: Race, ranked: list[Standing]) -> str:
    reps = {s.candidate: s.reps for s in ranked}
    leader = following.leader
    if not following.new_block:
        behind = [c for c in following.members if c != leader]
        if not behind:  # the leader is the one that lacks them: it took the lead on fewer draws
            return (f"the leader {leader.label if leader else '-'} catches up on the draws the others ran, "
                    f"to be compared with them on the same ones")
        return (f"{', '.join(c.label for c in behind)} catch(es) up on the draws the others ran, to be "
                f"compared with the leader {leader.label if leader else '-'} on the same ones"
                + (" (and so does the leader)" if leader in following.members else ""))
    others = [c for c in following.members if c != leader]
    parts = []
    if leader in following.members:
        parts.append(f"the leader {leader.label if leader else '-'} ({reps[leader] if leader else 0} "
                     f"repetitions so far)")
    if others:
        parts.append(f"{len(others)} candidate(s) not yet told apart from it: "
                     + ", ".join(c.label for c in others))
    return " and ".join(parts)


def _observations(folder: Path, seed: int) -> list[Observation]:
    from harness.store import load_runs
    from harness.tune import observations

    runs = load_runs(folder)
    return observations(runs.astype(object).where(runs.notna(), None).to_dict("records"), seed)


def _confirm(loaded: LoadedScenario, winner: Standing, out: Path, jobs: int, resume: bool,
             settings: dict[str, Any], session: TargetSession | None = None,
             shared: DaskExecutor | None = None) -> dict[str, Any]:
    """The winner through the aiohttp mock on loopback sockets (or against the target of
    ``session``), with round 1's seeds, against its virtual runs of the same seeds (as
    ``reproduce``'s cross-check)."""
    from harness.store import TUNE_CONFIRM, TUNE_ROUND, load_runs
    from harness.tune import broke_text, standings, strategy_tables
    from harness.tune.answer import clean
    from reports.cross_check import cross_check_json, cross_check_rows

    check = loaded.with_overrides(mode="real", seed=settings["seed"], repetitions=settings["confirm_reps"],
                                  strategies=strategy_tables([winner.candidate]))
    time_scale = check.scenario.time_scale if session is None else session.target.time_scale
    where = (f"through the aiohttp mock on loopback sockets at time scale {time_scale:g}" if session is None
             else f"against {session.target.url}, one run at a time"
             + (f" (a mock, its time scale {time_scale:g})" if session.target.is_mock else " (real time)"))
    click.echo(f"confirm: {winner.candidate.label} {where}, round 1's seeds", err=True)
    folder = out / TUNE_CONFIRM
    _sweep(check, folder, jobs, resume, command_out=out, session=session, shared=shared)
    real = standings(_observations(folder, settings["seed"]), settings["min_success"], settings["objective"])[0]
    rows = cross_check_rows(load_runs(out / TUNE_ROUND.format(1)), load_runs(folder))
    return clean({"mode": "real", "time_scale": time_scale, "reps": settings["confirm_reps"],
                  **({} if session is None else {"target": session.target.url}),
                  "runs": real.runs, "results": folder.name, "holds": real.feasible, "broke": dict(real.broke),
                  "broke_text": broke_text(real), "worst_success_rate": real.worst_success_rate,
                  "makespan_s_mean": real.makespan_s_mean, "cross_check": cross_check_json(rows)})


def _finish(answer: dict[str, Any], out: Path, with_report: bool, as_json: bool) -> None:
    """Write the answer and the report, print them; exit 1 when nothing is feasible or the
    confirmation broke a constraint."""
    from harness.store import TUNE, write_atomically
    from reports.tune import answer_lines

    report_path = None
    write_atomically(out / TUNE, json.dumps({**answer, "report": None}, indent=2))
    if with_report:
        from reports.tune import build_tune_report

        report_path = build_tune_report(out).outputs.get("html")
        answer = {**answer, "report": None if report_path is None else str(report_path)}
        write_atomically(out / TUNE, json.dumps(answer, indent=2))
    if as_json:
        shown = {key: answer.get(key) for key in ("recommendation", "why", "candidates", "confirmation",
                                                  "rounds", "results", "report", "infeasible")}
        click.echo(json.dumps(shown, indent=2))
    else:
        if answer["recommendation"] is not None:  # else the one-line error below says it all
            for line in answer_lines(answer, TABLE_ROWS):
                click.echo(line)
            click.echo("")
        click.echo(f"results: {out}")
        if report_path is not None:
            click.echo(f"report: {report_path}")
    if answer["recommendation"] is None:
        raise click.ClickException(answer["infeasible"])
    confirmation = answer["confirmation"]
    if confirmation is not None and not confirmation["holds"]:
        raise click.ClickException(f"the confirmation on sockets broke a constraint: "
                                   f"{answer['recommendation']['label']} {confirmation['broke_text']}")
