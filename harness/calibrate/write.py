"""Write a calibration's files whole or not at all.

Everything is written into a temporary folder beside ``--out`` (the same file system), the profile
is loaded back from there as ``run --profile`` would load it (its ``empirical(...)`` CSVs beside it),
and only then is each file renamed into place, the profile last: a failure at any point before
leaves nothing behind, and the profile never names a CSV that is not there yet.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from harness.calibrate.measure import Calibration
from harness.calibrate.plot import save_plot
from harness.calibrate.profile_text import Outputs, profile_text
from mock_onyx.errors import ConfigError
from mock_onyx.profile import load_profile

CALL_COLUMNS = ["kind", "id", "endpoint", "start_s", "end_s", "measured_s", "drawn_latency_s", "status_code",
                "error_kind", "fault", "timed", "error_reply"]


def check_out(out: Path, force: bool) -> None:
    """Refuse, before any call, an ``--out`` that cannot be written or would replace a file."""
    if not out.parent.is_dir():
        raise ConfigError("--out", f"{out.parent} is not a folder", "create it, or give a path in an existing one")
    if out.suffix != ".toml":
        raise ConfigError("--out", f"{out} does not end in .toml", "name the profile file.toml")
    if out.exists() and not force:
        raise ConfigError("--out", f"{out} exists", "give another path, or --force to replace it")
    if not os.access(out.parent, os.W_OK):
        raise ConfigError("--out", f"cannot write in {out.parent}", "give a path in a folder you can write")


def write_all(calibration: Calibration, outputs: Outputs, choice: str) -> list[Path]:
    """Write every output (``Outputs.all``), whole or not at all; the paths written."""
    final = outputs.all(calibration)
    staging = Path(tempfile.mkdtemp(prefix=f".{outputs.profile.name}.", dir=outputs.profile.parent))
    try:
        staged = Outputs(staging / outputs.profile.name)
        _write_staged(calibration, staged, choice)
        load_profile(staged.profile)  # as run --profile reads it; a ConfigError here writes nothing
        for path in final:
            os.replace(staging / path.name, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _write_staged(calibration: Calibration, outputs: Outputs, choice: str) -> None:
    calls = calibration.calls
    calls.reindex(columns=CALL_COLUMNS).to_csv(outputs.calls_csv, index=False)
    fits = [fit for fit in (*calibration.endpoints, calibration.error_latency) if fit is not None]
    for fit in fits:
        if fit.durations:
            path = outputs.durations_csv(fit.endpoint)
            path.write_text("duration_s\n" + "".join(f"{d!r}\n" for d in fit.durations))
    unit = "simulated s" if calibration.target.is_mock else "s"
    save_plot(fits, unit, outputs.plot)
    outputs.profile.write_text(profile_text(calibration, choice, outputs))
