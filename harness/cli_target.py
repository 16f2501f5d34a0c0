"""The CLI's side of ``--target`` (``harness.target``), shared by ``run``, ``sweep`` and ``tune``:
the flags checked, the calls planned against the caps, the dry run printed, the target resolved
and stated in one line, the confirmation asked. In that order, so that a refusal of any kind comes
before the first call (a dry run makes none at all) and before anything is written.

A target's profile (a mock's ``/_mock/profile``) that names a file is refused unless the command
was given ``--allow-outside-paths`` (run, sweep, tune and calibrate take it): ``TargetFlags``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from harness.call_plan import FILE_CALLS, FOLDER_CALLS, CallPlan, check_caps
from harness.credentials import API_KEY_VARIABLE, SESSION_COOKIE_VARIABLE
from harness.target import (
    ResolvedTarget,
    TargetSession,
    check_target_url,
    confirm_send_messages,
    load_credentials,
    resolve_target,
)
from mock_onyx.errors import ConfigError

if TYPE_CHECKING:
    from harness.transports import Credentials
    from mock_onyx.profile import Profile

TARGET_ONLY_FLAGS = {"credentials_file": "--credentials-file", "yes": "--yes", "dry_run": "--dry-run",
                     "max_in_flight": "--max-in-flight", "max_calls": "--max-calls"}


def refuse_target_flags(ctx: click.Context) -> None:
    """Without ``--target``, the flags about one do nothing: refused rather than ignored."""
    for name, flag in TARGET_ONLY_FLAGS.items():
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            raise ConfigError(flag, "has no effect without --target (the embedded mock costs nothing and "
                              "loads no one)", f"add --target URL, or drop {flag}")


@dataclass(frozen=True)
class TargetFlags:
    """``target_options``'s values, as a command received them."""

    url: str
    credentials_file: Path | None
    yes: bool
    dry_run: bool
    max_in_flight: int
    max_calls: int
    # --allow-outside-paths: a target's profile may name files (empirical CSVs) this machine then reads
    allow_outside_paths: bool = False


def at_real_time(profile: Profile) -> Profile:
    """``profile`` at time scale 1: a real Onyx's seconds are wall seconds."""
    return profile.model_copy(update={"time_scale": 1.0})


def open_target(flags: TargetFlags, planned: Sequence[tuple[CallPlan, int]],
                wall_s: Callable[[ResolvedTarget | None], float | None], what: str) -> TargetSession | None:
    """Check the flags and the plan (``planned``: each run's calls and how many such runs), then
    either print the dry run and return None, or resolve the target, say what it is, ask if need
    be, and return the session the runs use. ``wall_s(None)`` is the wall time against a real
    Onyx (a dry run does not ask the target what it is), ``what`` names the runs."""
    check_target_url(flags.url)
    credentials = load_credentials(flags.credentials_file)
    check_caps((plan for plan, _ in planned), flags.max_in_flight, flags.max_calls)
    if flags.dry_run:
        for line in dry_run_lines(flags, credentials, planned, wall_s(None), what):
            click.echo(line)
        return None
    target = asyncio.run(resolve_target(flags.url, credentials, flags.allow_outside_paths))
    click.echo(target.describe(), err=True)
    confirm_send_messages(target, sum(plan.send_messages * runs for plan, runs in planned), wall_s(target),
                          yes=flags.yes)
    return TargetSession(target, credentials, flags.max_in_flight, flags.max_calls)


def dry_run_lines(flags: TargetFlags, credentials: Credentials, planned: Sequence[tuple[CallPlan, int]],
                  wall_s: float | None, what: str) -> list[str]:
    from harness.cli_progress import about

    lines = [f"dry run: no call made to {flags.url}, not even the check of what it is; {what}",
             f"per file, one call after another: {', '.join(FILE_CALLS)}"]
    if any(plan.folders for plan, _ in planned):
        lines.append(f"per folder: {', '.join(FOLDER_CALLS)}")
    for plan, runs in planned:
        lines.append(f"{plan.label}{f' x {runs} runs' if runs != 1 else ''}: {plan.calls} calls per run, "
                     f"{plan.send_messages} of them send-message; at most {plan.most_calls} calls and "
                     f"{plan.most_send_messages} send-message with every retry and second chat; up to "
                     f"{plan.in_flight} files in flight")
    total_runs = sum(runs for _, runs in planned)
    lines.append(f"in all: {total_runs} run(s), {sum(p.calls * r for p, r in planned)} calls, "
                 f"{sum(p.send_messages * r for p, r in planned)} send-message; caps per run: --max-in-flight "
                 f"{flags.max_in_flight}, --max-calls {flags.max_calls}")
    lines.append(f"wall time against a real Onyx (real time): {'unknown' if wall_s is None else about(wall_s)}")
    lines.append(f"credentials: {describe_credentials(credentials, flags.credentials_file)}")
    return lines


def describe_credentials(credentials: Credentials, credentials_file: Path | None) -> str:
    """Which credentials would be sent, by name and source: never a value."""
    names = [name for name, value in ((API_KEY_VARIABLE, credentials.api_key),
                                      (SESSION_COOKIE_VARIABLE, credentials.session_cookie)) if value]
    if not names:
        return f"none ({API_KEY_VARIABLE} and {SESSION_COOKIE_VARIABLE} are not set)"
    return " and ".join(names) + (f" from {credentials_file}" if credentials_file else " from the environment")
