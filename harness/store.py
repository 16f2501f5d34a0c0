"""A results directory: versioned, self-describing, written case by case, atomically.

    DIR/manifest.json            format version, onyx-bench version, Python, platform, start time,
                                 seed, scenario source and full text
    DIR/cases/<case_id>/         one finished case, moved into place whole (never half-written):
        summary.json             the case's grid point and its ``RunSummary``
        files.csv                one row per item (columns: ``harness.results``)
        events.csv, calls.csv    progress events and HTTP calls
    DIR/failed/<case_id>.json    a case whose run raised, written atomically: its grid point, the
                                 exception's type and message, and the traceback. Not a finished
                                 case: ``--resume`` runs it again, and its success removes this file
    DIR/runs.csv, DIR/files.csv  every finished case together, rewritten after each sweep
    DIR/cross-check/             ``reproduce``'s cross-check on real sockets: a results directory

A tune (``onyx-bench tune``) is a folder of results directories: ``round-1``, ``round-2``, ...
(one per search round), ``confirm`` (the winner on real sockets), and ``tune.json`` (its
settings, then its answer; ``harness.cli_tune``), which ``reports.tune`` reads.

``load_runs(DIR)`` and ``load_files(DIR)`` read them into pandas, from the case folders, so they
work on an interrupted sweep too; neither lists a failed case. ``load_failures(DIR)`` does.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import shutil
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from harness.results import CALL_COLUMNS, EVENT_COLUMNS, FILE_COLUMNS, RunResult
from mock_onyx.errors import ConfigError
from scenarios import Case, LoadedScenario
from scenarios.policies import default_retry

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CASES = "cases"
FAILED = "failed"
# ``reproduce``'s cross-check through real sockets: a results directory of its own, inside the main one
CROSS_CHECK = "cross-check"
TEMP_PREFIX = ".tmp-"
TUNE = "tune.json"  # a tune's own answer, beside its rounds' results directories
TUNE_ROUND = "round-{}"
TUNE_CONFIRM = "confirm"


def write_atomically(path: Path, text: str) -> None:
    temp = path.with_name(f"{TEMP_PREFIX}{path.name}.{os.getpid()}")
    temp.write_text(text)
    os.replace(temp, path)


@dataclass(frozen=True)
class CaseFailure:
    """A case whose run raised instead of returning a result."""

    error: str  # the exception's type name
    message: str
    traceback: str

    @property
    def reason(self) -> str:
        """One line: the type and the message."""
        message = " ".join(self.message.split())
        return f"{self.error}: {message}" if message else self.error


def make_folder(path: Path, option: str) -> None:
    """Create ``path`` (and its parents), or say in one line why it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(option, f"{str(path)!r} cannot be created ({error.strerror})",
                          f"give {option} a folder you can write to") from None


class ResultsStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cases_dir = root / CASES
        self.failed_dir = root / FAILED

    def prepare(self, loaded: LoadedScenario, resume: bool) -> None:
        """Create the directory and manifest, or check that a resumed one is for this scenario."""
        manifest_path = self.root / MANIFEST
        if manifest_path.exists():
            if not resume:
                raise ConfigError(str(self.root), "already holds results",
                                  "add --resume to finish it, or choose a new --out")
            recorded = json.loads(manifest_path.read_text())
            if recorded.get("scenario_text") != loaded.text:
                raise ConfigError(str(self.root), "holds results of a different scenario (its text differs)",
                                  "resume with the scenario it was started with, or choose a new --out")
            if recorded.get("server_fingerprint", fingerprint := server_fingerprint(loaded)) != fingerprint:
                raise ConfigError(str(self.root), "holds results of a different server profile (a profile file "
                                  "or an empirical CSV the scenario reads has changed since it started)",
                                  "restore the files it was started with, or choose a new --out")
            then, now = recorded.get("overrides") or {}, loaded.overrides
            changed = [f"{key} was {then.get(key, 'as written')}, now {now.get(key, 'as written')}"
                       for key in sorted({*then, *now}) if then.get(key) != now.get(key)]
            if changed:
                raise ConfigError(str(self.root), f"was started with other settings ({'; '.join(changed)})",
                                  "resume with the same options, or choose a new --out")
        else:
            make_folder(self.cases_dir, "--out")
            write_atomically(manifest_path, json.dumps(_manifest(loaded), indent=2))
        for leftover in self.cases_dir.glob(f"{TEMP_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)  # a case cut short by an interruption
        for leftover in self.failed_dir.glob(f"{TEMP_PREFIX}*"):
            leftover.unlink(missing_ok=True)

    def finished(self) -> set[str]:
        return {folder.name for folder in _case_folders(self.root)}

    def write_case(self, case: Case, result: RunResult) -> None:
        final = self.cases_dir / case.case_id
        temp = self.cases_dir / f"{TEMP_PREFIX}{case.case_id}.{os.getpid()}"
        temp.mkdir(parents=True)
        summary = {**case_columns(case), **asdict(result.summary)}
        (temp / "summary.json").write_text(json.dumps(summary, indent=2))
        # The csv module, not pandas: a sweep writes thousands of small tables, and the parent
        # process that writes them shares the cores with the cases.
        for name, columns, rows in (("files.csv", FILE_COLUMNS, result.file_rows()),
                                    ("events.csv", EVENT_COLUMNS, result.event_rows()),
                                    ("calls.csv", CALL_COLUMNS, result.call_rows())):
            _write_csv(temp / name, [*columns, "case_id"],
                       [{**row, "case_id": case.case_id} for row in rows])
        os.rename(temp, final)
        (self.failed_dir / f"{case.case_id}.json").unlink(missing_ok=True)  # it failed before

    def write_failure(self, case: Case, failure: CaseFailure) -> None:
        self.failed_dir.mkdir(exist_ok=True)
        record = {**case_columns(case), **asdict(failure)}
        write_atomically(self.failed_dir / f"{case.case_id}.json", json.dumps(record, indent=2))

    def write_combined(self) -> None:
        for name, frame in (("runs.csv", load_runs(self.root)), ("files.csv", load_files(self.root))):
            temp = self.root / f"{TEMP_PREFIX}{name}"
            frame.to_csv(temp, index=False)
            os.replace(temp, self.root / name)


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def case_columns(case: Case) -> dict[str, Any]:
    """The grid point. Its policies: ``heartbeat_s`` and ``rate_limit`` (0: none), ``retry`` (the
    spec in force: the kind's own when the case names none), and ``policy``, those off their
    defaults in words ("" for none), which tables group and name cases by (``reports.summary``)."""
    return {"case_id": case.case_id, "files": case.files, "folders": case.folders,
            "kind": case.kind, "size": case.size, "repetition": case.repetition,
            "heartbeat_s": case.heartbeat_s, "retry": case.retry or default_retry(case.kind),
            "rate_limit": case.rate_limit, "policy": case.policy}


def load_manifest(root: Path | str) -> dict[str, Any]:
    return dict(json.loads((Path(root) / MANIFEST).read_text()))


def load_runs(root: Path | str) -> pd.DataFrame:
    """One row per finished case: the grid point and its summary."""
    rows = [json.loads((folder / "summary.json").read_text()) for folder in _case_folders(root)]
    return pd.DataFrame(rows).sort_values("case_id", ignore_index=True) if rows else pd.DataFrame()


def load_failures(root: Path | str) -> pd.DataFrame:
    """One row per failed case (not run again since): the grid point, error, message, traceback."""
    folder = Path(root) / FAILED
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    rows = [json.loads(path.read_text()) for path in paths if not path.name.startswith(TEMP_PREFIX)]
    return pd.DataFrame(rows).sort_values("case_id", ignore_index=True) if rows else pd.DataFrame()


def load_files(root: Path | str) -> pd.DataFrame:
    return _concat(root, "files.csv")


def load_events(root: Path | str) -> pd.DataFrame:
    return _concat(root, "events.csv")


def load_calls(root: Path | str) -> pd.DataFrame:
    return _concat(root, "calls.csv")


def _concat(root: Path | str, name: str) -> pd.DataFrame:
    frames = [pd.read_csv(folder / name) for folder in _case_folders(root)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _case_folders(root: Path | str) -> list[Path]:
    cases = Path(root) / CASES
    if not cases.is_dir():
        return []
    # A case folder is moved into place whole, summary and all: anything else in cases/ (say, a
    # results folder someone wrote inside it) is not a case.
    return sorted(entry for entry in cases.iterdir()
                  if not entry.name.startswith(TEMP_PREFIX) and (entry / "summary.json").is_file())


def _manifest(loaded: LoadedScenario) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "onyx_bench_version": metadata.version("onyx-bench"),
            "python": sys.version.split()[0], "platform": platform.platform(),
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "scenario_name": loaded.scenario.name, "scenario_source": loaded.source,
            "scenario_dir": None if loaded.base_dir is None else str(loaded.base_dir.resolve()),
            "seed": loaded.scenario.seed, "scenario_text": loaded.text,
            "server_fingerprint": server_fingerprint(loaded), "overrides": loaded.overrides}


def server_fingerprint(loaded: LoadedScenario) -> str:
    """A digest of the server profile as the scenario resolves it, every file it reads included
    (a ``[server] profile`` file, ``empirical`` CSVs: their values are in the profile): the
    scenario's text alone does not change when they do, and a resumed sweep must not mix two."""
    profile = loaded.scenario.profile(0, loaded.source, loaded.base_dir)
    return hashlib.sha256(repr(profile).encode()).hexdigest()[:16]
