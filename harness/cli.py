"""The ``onyx-bench`` command line: thin commands that parse, call the library, and print.

This module is the composition root: the only place that ties the packages together. Every error
meant for the user (a ``ConfigError`` or a usage error) is printed as one line with exit status 2.

Its top level imports only click and light modules, so ``--help`` stays fast; each command imports
what it runs (the runner, the server, pandas and matplotlib for the reports) in its own body.
"""

from __future__ import annotations

import atexit
import dataclasses
import gc
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click

from harness.cli_calibrate import calibrate
from harness.cli_compare import compare
from harness.cli_convert import convert
from harness.cli_sweep import (
    CommandLine,
    allow_outside_paths_option,
    finite,
    idle_timeout_option,
    list_scenarios,
    report,
    reproduce,
    sweep,
    time_scale_in_range,
)
from harness.cli_tune import tune
from harness.modes import STRATEGY_KINDS, Mode, TransportKind
from harness.overhead import inflight_warning, overhead_warning
from harness.target import redact, target_options
from mock_onyx.errors import ConfigError

EXIT_BAD_INPUT = 2
# The one key a mock started with ``serve --require-auth`` accepts (the server's side of ONYX_API_KEY).
MOCK_API_KEY_VARIABLE = "ONYX_MOCK_API_KEY"
EXIT_INTERRUPTED = 130


class _OneLineErrors(click.Group):
    """A click group that reports bad input as one line and exit status 2, never a traceback."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        # Exit without a last collection over every object pandas and matplotlib made: it costs
        # 0.1-0.3 s at every exit, Ctrl-C included, and frees nothing the OS would not.
        atexit.unregister(gc.freeze)  # once, however often main runs in one process (tests)
        atexit.register(gc.freeze)
        args = list(sys.argv[1:] if args is None else args)
        program = sys.argv[0] if os.path.basename(sys.argv[0]) == "onyx-bench" else "onyx-bench"
        # The command line as typed, for messages that give a command to run next (resume).
        extra.setdefault("obj", CommandLine(program, tuple(args)))
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as error:
            where = error.ctx.command_path if error.ctx else "onyx-bench"
            _fail(f"{where}: {error.format_message()} (see '{where} --help')", EXIT_BAD_INPUT)
        except ConfigError as error:
            _fail(str(error), EXIT_BAD_INPUT)
        except click.ClickException as error:
            _fail(error.format_message(), error.exit_code)
        except click.Abort:
            _fail("interrupted", EXIT_INTERRUPTED)
        except Exception as error:  # a bug: its traceback as Python prints it, but never a credential
            import traceback

            click.echo(redact("".join(traceback.format_exception(error))).rstrip(), err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, status: int) -> None:
    # A message may quote what a server or an HTTP library said: never a credential value.
    click.echo(f"onyx-bench: error: {redact(message)}", err=True)
    sys.exit(status)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="onyx-bench")
def main() -> None:
    """Benchmark batch-parallel file extraction against a mock Onyx server."""


def profile_options(command: Any) -> Any:
    """The flags that build a server profile (shared by every command that starts a mock)."""
    options = [
        click.option("--profile", "profile_path", type=click.Path(path_type=Path, dir_okay=False),
                     help="TOML server profile."),
        click.option("--latency", multiple=True, metavar="NAME=DIST",
                     help="Latency of an endpoint, e.g. send_message='uniform(15, 30)'."),
        click.option("--fault", multiple=True, metavar="NAME:KIND=P",
                     help="Fault probability, e.g. send_message:reset=0.05."),
        click.option("--seed", type=int, help="Seed of every latency and fault draw."),
        click.option("--time-scale", type=float, callback=time_scale_in_range,
                     help="Wall seconds per simulated second (above 0, at most 100)."),
        allow_outside_paths_option,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def build_profile(profile_path: Path | None, latency: tuple[str, ...], fault: tuple[str, ...],
                  seed: int | None, time_scale: float | None, allow_outside_paths: bool = False,
                  require_auth: bool = False) -> Any:
    from mock_onyx.profile import flag_overrides, load_profile

    overrides = flag_overrides(latency, fault, seed, time_scale)
    return load_profile(profile_path, {**overrides, "require_auth": True} if require_auth else overrides,
                        allow_outside_paths)


def exposure_warning(host: str) -> str | None:
    """One line when ``host`` is not a loopback address: the mock then answers anyone who can
    reach this machine (it serves 127.0.0.1 unless told otherwise)."""
    import ipaddress

    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a host name: not known to be loopback
    return (f"warning: serving on {host}, not loopback: anyone who can reach this machine on that address "
            f"can call the mock (drop --host to serve 127.0.0.1 only)")


@main.command()
@profile_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port to bind; 0 picks a free one.")
@click.option("--require-auth", is_flag=True,
              help=f"Demand credentials, as Onyx does (403 without): with {MOCK_API_KEY_VARIABLE} set, that "
                   f"key alone (as a bearer API key or the session cookie); else any on_... key or cookie.")
@click.option("--as-real-onyx", is_flag=True,
              help="Hide /_mock/* (404), so that onyx-bench takes the server for a real Onyx: real time, "
                   "confirmation, caps.")
@click.option("--behind-proxy", is_flag=True,
              help="Serve the API only under /api, every other path the web app's 404 page, as Onyx "
                   "behind its nginx.")
def serve(profile_path: Path | None, latency: tuple[str, ...], fault: tuple[str, ...],
          seed: int | None, time_scale: float | None, allow_outside_paths: bool, host: str, port: int,
          require_auth: bool, as_real_onyx: bool, behind_proxy: bool) -> None:
    """Serve the mock Onyx API until interrupted (SIGINT or SIGTERM)."""
    import asyncio

    from mock_onyx.disguise import disguises
    from mock_onyx.model import require_api_key
    from mock_onyx.server import serve_until_signalled

    profile = build_profile(profile_path, latency, fault, seed, time_scale, allow_outside_paths, require_auth)
    key = os.environ.get(MOCK_API_KEY_VARIABLE) or None
    require_api_key(key if profile.require_auth else None)  # the key matters only where auth is required
    warning = exposure_warning(host)

    def announce(line: str) -> None:  # once it listens (an address it cannot take is an error instead)
        click.echo(line)
        if warning is not None:
            click.echo(warning, err=True)
    try:
        asyncio.run(serve_until_signalled(profile, host, port, announce=announce,
                                          middlewares=disguises(as_real_onyx, behind_proxy)))
    except OSError as error:
        raise ConfigError(f"--host {host} --port {port}", f"cannot listen there ({error.strerror})",
                          "choose another address, or --port 0 for a free port") from None


@main.command()
@click.option("--files", type=click.IntRange(0, 100_000), required=True, help="How many files.")
@click.option("--folders", type=click.IntRange(0, 10_000), default=0, show_default=True,
              help="How many folders.")
@click.option("--strategy", type=click.Choice(STRATEGY_KINDS), default="batch", show_default=True,
              help="sequential: one file after another; batch: fixed batches; window: at most --size in flight; "
                   "adaptive: a window whose width grows while calls succeed and halves on failures.")
@click.option("--size", type=click.IntRange(1, 10_000),
              help="Batch or window size (default 8); adaptive's largest limit (default 16).")
@click.option("--heartbeat", type=click.FloatRange(min=0, min_open=True), callback=finite, metavar="S",
              help="batch, window, adaptive: a progress event at least every S simulated seconds while work is in "
                   "flight (production used 10; default none).")
@click.option("--retry", callback=lambda ctx, param, value: _retry_spec(value), metavar="SPEC",
              help="Retries of a failed item: none, 'fixed(ATTEMPTS, WAIT)' or 'exponential(ATTEMPTS, BASE, "
                   "CAP)', then optionally deadline=S, jitter=J, retry_after=yes|no (default: "
                   "sequential fixed(3, 1), the others none).")
@click.option("--rate-limit", type=click.FloatRange(min=0, min_open=True), callback=finite, metavar="R",
              help="At most R attempt starts per simulated second, 1/R apart (default: no limit).")
@idle_timeout_option("The frontend drops the run after S simulated seconds without a progress event "
                     "(nginx's default is 60; default: never). Unfinished items then fail as 'dropped'.")
@profile_options
@target_options
@click.option("--transport", type=click.Choice([k.value for k in TransportKind]), default="aiohttp",
              show_default=True, help="httpx over aiohttp, or httpx's stock transport (production's).")
@click.option("--mode", type=click.Choice([m.value for m in Mode]), default="real", show_default=True,
              help="real: the mock on a loopback socket, time compressed; virtual: in-process, "
                   "on a virtual clock (exact, no waiting).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def run(files: int, folders: int, strategy: str, size: int | None, heartbeat: float | None, retry: str | None,
        rate_limit: float | None, idle_timeout: float | None, profile_path: Path | None,
        latency: tuple[str, ...], fault: tuple[str, ...], seed: int | None, time_scale: float | None,
        allow_outside_paths: bool, target: str | None, credentials_file: Path | None, yes: bool, dry_run: bool,
        max_in_flight: int, max_calls: int, transport: str, mode: str, as_json: bool) -> None:
    """Run one strategy over N files (and M folders) and measure it, in simulated seconds."""
    from harness.runner import RunConfig
    from harness.strategies import make_strategy
    from harness.tables import summary_lines

    if files + folders == 0:
        raise ConfigError("--files", "nothing to run", "give --files N or --folders M with N + M > 0")
    _refuse_ignored_flags(click.get_current_context(), strategy, target, Mode(mode))
    config = RunConfig(files=files, folders=folders,
                       strategy=make_strategy(strategy, size, heartbeat or 0.0, retry, rate_limit or 0.0),
                       profile=build_profile(profile_path, latency, fault, seed, time_scale, allow_outside_paths),
                       transport=TransportKind(transport), mode=Mode(mode), idle_timeout_s=idle_timeout)
    if target is None:
        from harness.cli_target import refuse_target_flags

        refuse_target_flags(click.get_current_context())
    else:
        from harness.cli_target import TargetFlags

        session = _open_run_target(config, TargetFlags(target, credentials_file, yes, dry_run, max_in_flight,
                                                       max_calls, allow_outside_paths))
        if session is None:  # a dry run: the plan is printed, nothing is sent
            return
        config = dataclasses.replace(config, target=session.target.url, session=session)
    result = _run_with_progress(config)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        for line in summary_lines(result):
            click.echo(line)
    summary = result.summary
    for warning in (overhead_warning([(summary.harness_overhead_pct, summary.time_scale)],
                                     on_target=config.target is not None),
                    inflight_warning(summary.server_peak_inflight, summary.client_peak_inflight)):
        if warning is not None and config.mode is Mode.REAL:
            click.echo(warning, err=True)
    if config.session is not None:
        from harness.call_plan import NOT_SENT

        held = sum(f"{NOT_SENT}: " in o.reason for o in result.outcomes)
        if held:
            click.echo(f"caps: {held} item(s) failed on a call that --max-calls or --max-in-flight held back "
                       f"(not sent; their reasons say which)", err=True)
    if summary.files_failed and not summary.files_ok:
        kinds = Counter(str(o.error_kind) for o in result.outcomes if o.error_kind is not None)
        raise click.ClickException(
            f"every item failed or was skipped ({', '.join(f'{k}: {n}' for k, n in kinds.most_common())}); "
            f"the reasons are in the table above (or in --json's files)")


LONG_RUN_S = 5.0  # a run expected to take longer states its expected wall time and shows progress


def _open_run_target(config: Any, flags: Any) -> Any:
    """The run's ``TargetSession`` (``harness.cli_target``), or None after a dry run."""
    from harness.call_plan import plan_calls
    from harness.cli_target import open_target

    if config.mode is Mode.VIRTUAL:
        raise ConfigError("--target", "a running server cannot be run on virtual time",
                          "drop --target, or use --mode real")
    strategy = config.strategy
    plan = plan_calls(strategy.name, strategy.size, config.files, config.folders, strategy.retry.text)
    return open_target(flags, [(plan, 1)], lambda target: _expected_wall_s(config, target),
                       "the target taken for a real Onyx (real time)")


def _expected_wall_s(config: Any, target: Any) -> float:
    """Wall seconds the run should take against ``target``: a mock's own profile, or in real time
    with this command's profile for a real Onyx (and for a target not asked yet: a dry run)."""
    from harness.cli_target import at_real_time
    from harness.estimate import run_wall_s

    profile = target.profile if target is not None and target.is_mock else at_real_time(config.profile)
    return run_wall_s(config.strategy.name, config.strategy.size, config.files + config.folders, profile,
                      config.mode)


def _run_with_progress(config: Any) -> Any:
    """``run_blocking``; a long run (or one against a target) first states its expected wall time,
    then shows files done as they finish."""
    from harness.cli_progress import Progress, about
    from harness.estimate import run_wall_s
    from harness.runner import run_blocking

    items = config.files + config.folders
    expected = (_expected_wall_s(config, config.session.target) if config.session is not None
                else run_wall_s(config.strategy.name, config.strategy.size, items, config.profile, config.mode))
    if expected < LONG_RUN_S:
        return run_blocking(config)
    scale = "" if config.mode is Mode.VIRTUAL or config.target else f" at time scale {config.profile.time_scale:g}"
    name = config.strategy.name + ("" if config.strategy.size is None else f"={config.strategy.size}")
    what = f"{config.files} files" + (f" + {config.folders} folders" if config.folders else "")
    click.echo(f"{name} over {what}{scale}: {about(expected)}", err=True)
    with Progress(items, "items" if config.folders else "files", expected_s=expected) as progress:
        return run_blocking(dataclasses.replace(
            config, on_item_done=lambda done: progress.advance(done - progress.done)))


def _refuse_ignored_flags(ctx: click.Context, strategy: str, target: str | None, mode: Mode) -> None:
    """A flag does what it says, or combining it is a one-line error: never silently ignored."""
    from click.core import ParameterSource

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE

    if strategy == "sequential" and given("size"):
        raise ConfigError("--size", "sequential takes no size", "drop --size, or use --strategy batch or window")
    if strategy == "sequential" and given("heartbeat"):
        raise ConfigError("--heartbeat", "sequential sends no heartbeats (it reports once, at the end)",
                          "drop --heartbeat, or use --strategy batch or window")
    if target is not None:  # --allow-outside-paths stays: it lets a target's profile name files
        for name, flag in PROFILE_FLAGS.items():
            if given(name):
                raise ConfigError(flag, "has no effect with --target: the server's own profile applies",
                                  f"set it on the server (onyx-bench serve {flag} ...), or drop --target")
    if mode is Mode.VIRTUAL:
        for name, flag in (("time_scale", "--time-scale"), ("transport", "--transport")):
            if given(name):
                raise ConfigError(flag, "has no effect in virtual mode (no wall clock, no sockets)",
                                  f"drop {flag}, or use --mode real")


def _retry_spec(value: str | None) -> str | None:
    """A retry spec, checked as it is parsed (``scenarios.policies``), in its canonical spelling."""
    from scenarios.policies import parse_retry

    if value is None:
        return None
    try:
        return parse_retry(value).text
    except ConfigError as error:
        raise click.BadParameter(f"{error.problem}; fix: {error.fix}") from None


PROFILE_FLAGS = {"profile_path": "--profile", "latency": "--latency", "fault": "--fault", "seed": "--seed",
                 "time_scale": "--time-scale"}


main.add_command(list_scenarios)
main.add_command(sweep)
main.add_command(reproduce)
main.add_command(report)
main.add_command(compare)
main.add_command(tune)
main.add_command(calibrate)
main.add_command(convert)
