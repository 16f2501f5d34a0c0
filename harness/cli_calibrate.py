"""``onyx-bench calibrate``: measure a running server gently, write a profile of it (``harness.calibrate``).

Thin: the flags checked (``--out`` before any call), the target opened as every ``--target``
command opens it (``harness.cli_target``: the plan against the caps, a dry run, the target
resolved, the confirmation), the calibration run with progress, its files written, its summary
printed. Imports of numpy, pandas and matplotlib wait for the command's body.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from harness.calibrate import FIT_CHOICES, SOURCES
from harness.target import target_options
from mock_onyx.errors import ConfigError

# What a chat is assumed to take when the target cannot say (a real Onyx): the seed's uniform(15, 30)
ASSUMED_CHAT_S = 22.5


@click.command()
@target_options
@click.option("--files", type=click.IntRange(0, 100_000), required=True, help="Files 1..N to extract, one after another.")
@click.option("--folders", type=click.IntRange(0, 10_000), default=0, show_default=True,
              help="Folders 1..M to extract after the files.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The profile to write (.toml); its CSVs and plot go beside it.")
@click.option("--pause", type=click.FloatRange(min=0), default=2.0, show_default=True, metavar="S",
              help="Seconds between one file's end and the next one's start (wall seconds against a real "
                   "Onyx, simulated against a mock).")
@click.option("--fit", type=click.Choice(FIT_CHOICES), default="best", show_default=True,
              help="Each endpoint's latency in the profile: the best fit by AIC, the lognormal fit, or the "
                   "durations themselves (empirical CSV).")
@click.option("--latency-source", type=click.Choice(SOURCES), default="auto", show_default=True,
              help="Durations to fit: measured (start to last byte), drawn (what a mock says it drew), or "
                   "auto: drawn against a mock, measured against a real Onyx.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap intervals.")
@click.option("--force", is_flag=True, help="Replace --out and the files beside it if they exist.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the summary.")
@click.option("--allow-outside-paths", is_flag=True,
              help="Let a mock target's profile name empirical(...) CSVs, which this machine then reads "
                   "(only for a server on this machine that you trust).")
def calibrate(target: str | None, credentials_file: Path | None, yes: bool, dry_run: bool, max_in_flight: int,
              max_calls: int, files: int, folders: int, out: Path, pause: float, fit: str, latency_source: str,
              seed: int, force: bool, as_json: bool, allow_outside_paths: bool) -> None:
    """Measure a running server (--target) one file at a time and write a profile of it."""
    from harness.call_plan import plan_calls
    from harness.calibrate.write import check_out
    from harness.cli_target import TargetFlags, open_target

    if target is None:
        raise ConfigError("--target", "calibrate measures a running server and none was given",
                          "give --target URL: your Onyx, or a mock started with onyx-bench serve")
    if files + folders == 0:
        raise ConfigError("--files", "nothing to measure", "give --files N (or --folders M) above 0")
    if not math.isfinite(pause):
        raise ConfigError("--pause", f"{pause} is not a number of seconds", "give a finite number >= 0")
    check_out(out, force)
    plan = plan_calls("sequential", None, files, folders, "none")
    flags = TargetFlags(target, credentials_file, yes, dry_run, max_in_flight, max_calls, allow_outside_paths)
    session = open_target(flags, [(plan, 1)], lambda resolved: _wall_s(resolved, files + folders, pause),
                          f"calibrate: {plan.label}, no retry, {pause:g} s between files; then writes {out}")
    if session is None:  # the dry run
        return
    _calibrate(session, files, folders, out, pause, fit, latency_source, seed, as_json)


def _calibrate(session: Any, files: int, folders: int, out: Path, pause: float, fit: str, source: str,
               seed: int, as_json: bool) -> None:
    from harness.calibrate.measure import Settings, measure
    from harness.calibrate.profile_text import Outputs
    from harness.calibrate.show import summary_lines, to_json
    from harness.calibrate.write import write_all
    from harness.cli_progress import Progress

    settings = Settings(files=files, folders=folders, pause_s=pause, source=source, seed=seed)
    items = files + folders
    with Progress(items, "items" if folders else "files", expected_s=_wall_s(session.target, items, pause)) as bar:
        calibration = measure(session, settings, on_item_done=lambda done: bar.advance(done - bar.done))
    if not any(endpoint.durations for endpoint in calibration.endpoints):
        kinds = calibration.calls["error_kind"].value_counts()
        raise click.ClickException(f"no call succeeded ({', '.join(f'{k}: {n}' for k, n in kinds.items())}): "
                                   f"nothing to fit, nothing written")
    outputs = Outputs(out)
    written = write_all(calibration, outputs, fit)
    for warning in calibration.warnings:
        click.echo(f"warning: {warning}", err=True)
    paths = {"profile": str(outputs.profile), "calls_csv": str(outputs.calls_csv), "plot": str(outputs.plot),
             "durations_csv": {p.stem.rsplit(".", 1)[-1]: str(p) for p in written if p.suffix == ".csv"
                               and p != outputs.calls_csv}}
    if as_json:
        click.echo(json.dumps(to_json(calibration, paths), indent=2))
        return
    for line in summary_lines(calibration):
        click.echo(line)
    click.echo(f"profile: {outputs.profile} (beside it: {outputs.calls_csv.name}, a CSV of durations per endpoint, "
               f"{outputs.plot.name})")


def _wall_s(target: Any, items: int, pause: float) -> float:
    """The wall time to expect: per item a chat (the mock's mean, else ``ASSUMED_CHAT_S``) and the
    pause, at the target's time scale (1 for a real Onyx, and for a dry run, which does not ask)."""
    from mock_onyx.endpoints import Endpoint

    if target is None or target.profile is None:
        return items * (ASSUMED_CHAT_S + pause)
    chat = target.profile.latency_of(Endpoint.SEND_MESSAGE).mean
    return items * (chat + pause) * target.time_scale
