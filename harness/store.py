"""A results directory: versioned, self-describing, written in chunks as cases finish, atomically.

    DIR/manifest.json            format version, onyx-bench version, Python, platform, start time,
                                 seed, scenario source and full text
    DIR/runs/part-NNNNN.parquet  one row per finished case: its grid point and ``RunSummary``
    DIR/files/, DIR/events/,     one row per item, progress event and HTTP call (``harness.results``'
    DIR/calls/ (part-NNNNN...)   columns and ``case_id``), in Parquet parts of the same numbers: a
                                 chunk of cases, each part renamed into place whole, the runs part
                                 last (``harness.store_chunks``); a completed sweep is one chunk
    DIR/failed/<case_id>.json    a case whose run raised, written atomically: its grid point, the
                                 exception's type and message, and the traceback. Not a finished
                                 case: ``--resume`` runs it again, and its success removes this file
                                 (a JSON file each: failures are few)
    DIR/cross-check/             ``reproduce``'s cross-check on real sockets: a results directory

A tune (``onyx-bench tune``) is a folder of results directories: ``round-1``, ``round-2``, ...
(one per search round), ``confirm`` (the winner on real sockets), and ``tune.json`` (its
settings, then its answer; ``harness.cli_tune``), which ``reports.tune`` reads.

``load_runs(DIR)``, ``load_files``, ``load_events`` and ``load_calls`` read them into pandas from
the committed chunks, so they work on an interrupted sweep too; none lists a failed case.
``load_failures(DIR)`` does. Format 1 (a folder per case) is still read (``harness.store_v1``);
``convert`` rewrites it as this format. ``export_csv`` writes the four tables as CSV.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.results import RunResult
from mock_onyx.errors import ConfigError
from scenarios import Case, LoadedScenario
from scenarios.policies import default_retry

# pandas and pyarrow (and the modules that use them) are imported where a table is written or read:
# a sweep's workers import this module for its names, and never read or write a table.
if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from harness.store_chunks import CaseRows, ChunkWriter

FORMAT_VERSION = 2  # 1: a folder per case, CSV (harness.store_v1); 2: Parquet chunks
MANIFEST = "manifest.json"
FAILED = "failed"
# ``reproduce``'s cross-check through real sockets: a results directory of its own, inside the main one
CROSS_CHECK = "cross-check"
TUNE = "tune.json"  # a tune's own answer, beside its rounds' results directories
TUNE_ROUND = "round-{}"
TUNE_CONFIRM = "confirm"
CHUNK_CASES = 10_000  # cases per chunk at most (a chunk's rows are streamed to disk, not held)
CHUNK_SECONDS = 10.0  # a chunk is committed this long after its first case at the latest
CHUNK_SECONDS_VARIABLE = "ONYX_BENCH_CHUNK_SECONDS"
TEMP_PREFIX = ".tmp-"  # a file or folder being written; renamed into place when whole


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
    """Where a sweep writes: ``prepare`` it, ``write_case`` (queued, committed in chunks) and
    ``write_failure`` as cases end, ``close`` it (every queued case on disk; ``compact=True``, for a
    sweep that completed: one chunk). ``chunk_cases`` and ``chunk_seconds`` bound what a SIGKILL
    can cost: a chunk is committed every ``chunk_cases`` cases, and ``chunk_seconds`` after its first
    (default: ``$ONYX_BENCH_CHUNK_SECONDS``, else 10)."""

    def __init__(self, root: Path, chunk_cases: int = CHUNK_CASES, chunk_seconds: float | None = None) -> None:
        self.root = Path(root)
        self.failed_dir = self.root / FAILED
        self.chunk_cases = chunk_cases
        self.chunk_seconds = _chunk_seconds() if chunk_seconds is None else chunk_seconds
        self._writer: ChunkWriter | None = None

    def prepare(self, loaded: LoadedScenario, resume: bool) -> None:
        """Create the directory and manifest, or check that a resumed one is for this scenario."""
        from harness.store_chunks import remove_leftovers

        manifest_path = self.root / MANIFEST
        if manifest_path.exists():
            if not resume:
                raise ConfigError(str(self.root), "already holds results",
                                  "add --resume to finish it, or choose a new --out")
            recorded = json.loads(manifest_path.read_text())
            _check_resumable(self.root, recorded, loaded)
        else:
            make_folder(self.root, "--out")
            write_atomically(manifest_path, json.dumps(_manifest(loaded), indent=2))
        remove_leftovers(self.root)  # a chunk cut short by SIGKILL: its cases run again
        if self.failed_dir.is_dir():
            for leftover in self.failed_dir.glob(f"{TEMP_PREFIX}*"):
                leftover.unlink(missing_ok=True)

    def finished(self) -> set[str]:
        """The cases on disk (a case queued but not yet in a committed chunk is not finished)."""
        return _finished(self.root)

    def write_case(self, case: Case, result: RunResult) -> None:
        """Queue a finished case; it is on disk once its chunk is committed."""
        if self._writer is None:
            from harness.store_chunks import ChunkWriter

            self._writer = ChunkWriter(self.root, self.chunk_cases, self.chunk_seconds, self._forget_failures)
        self._writer.put(lambda: case_rows(case, result))

    def write_failure(self, case: Case, failure: CaseFailure) -> None:
        self.failed_dir.mkdir(exist_ok=True)
        record = {**case_columns(case), **asdict(failure)}
        write_atomically(self.failed_dir / f"{case.case_id}.json", json.dumps(record, indent=2))

    def flush(self) -> None:
        """Commit every queued case; return once they are on disk."""
        if self._writer is not None:
            self._writer.flush()

    def close(self, compact: bool = False) -> None:
        """Commit every queued case and stop the writer; ``compact``: then merge the chunks into
        one (a few seconds at 100,000 cases: for a sweep that completed, not one interrupted)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.flush(stop=True)
        if compact:
            from harness import store_chunks, store_v1

            if not store_v1.is_v1(self.root, _manifest_or_none(self.root)):
                store_chunks.compact(self.root)

    def _forget_failures(self, case_ids: list[str]) -> None:
        """In the writer's thread, once ``case_ids`` are on disk: a failure each had before is gone."""
        if self.failed_dir.is_dir():
            for name in set(os.listdir(self.failed_dir)) & {f"{case_id}.json" for case_id in case_ids}:
                (self.failed_dir / name).unlink(missing_ok=True)


def _check_resumable(root: Path, recorded: dict[str, Any], loaded: LoadedScenario) -> None:
    from harness import store_v1

    if store_v1.is_v1(root, recorded):
        raise ConfigError(str(root), f"holds results in format {store_v1.VERSION} (a folder per case), which "
                          "this version reads but does not add to", f"convert it first: onyx-bench convert {root}")
    if recorded.get("scenario_text") != loaded.text:
        raise ConfigError(str(root), "holds results of a different scenario (its text differs)",
                          "resume with the scenario it was started with, or choose a new --out")
    if recorded.get("server_fingerprint", fingerprint := server_fingerprint(loaded)) != fingerprint:
        raise ConfigError(str(root), "holds results of a different server profile (a profile file "
                          "or an empirical CSV the scenario reads has changed since it started)",
                          "restore the files it was started with, or choose a new --out")
    then, now = recorded.get("overrides") or {}, loaded.overrides
    changed = [f"{key} was {then.get(key, 'as written')}, now {now.get(key, 'as written')}"
               for key in sorted({*then, *now}) if then.get(key) != now.get(key)]
    if changed:
        raise ConfigError(str(root), f"was started with other settings ({'; '.join(changed)})",
                          "resume with the same options, or choose a new --out")


def _chunk_seconds() -> float:
    text = os.environ.get(CHUNK_SECONDS_VARIABLE)
    if text is None:
        return CHUNK_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ConfigError(CHUNK_SECONDS_VARIABLE, f"{text!r} is not a number of seconds, 0 or more",
                          f"unset it (the default is {CHUNK_SECONDS:g}) or give e.g. 5")
    return seconds


def case_columns(case: Case) -> dict[str, Any]:
    """The grid point. Its policies: ``heartbeat_s`` and ``rate_limit`` (0: none), ``retry`` (the
    spec in force: the kind's own when the case names none), and ``policy``, those off their
    defaults in words ("" for none), which tables group and name cases by (``reports.summary``)."""
    return {"case_id": case.case_id, "files": case.files, "folders": case.folders,
            "kind": case.kind, "size": case.size, "repetition": case.repetition,
            "heartbeat_s": case.heartbeat_s, "retry": case.retry or default_retry(case.kind),
            "rate_limit": case.rate_limit, "policy": case.policy}


def case_rows(case: Case, result: RunResult) -> CaseRows:
    """A finished case as the store's rows: its grid point and summary (its fields are scalars: no
    deep copy, which ``asdict`` would make at half the cost of the rest), then its tables' rows."""
    from harness.store_chunks import CaseRows

    summary = {field.name: getattr(result.summary, field.name) for field in fields(result.summary)}
    return CaseRows({**case_columns(case), **summary}, result.file_rows(), result.event_rows(), result.call_rows())


def load_manifest(root: Path | str) -> dict[str, Any]:
    return dict(json.loads((Path(root) / MANIFEST).read_text()))


def _manifest_or_none(root: Path) -> dict[str, Any] | None:
    path = root / MANIFEST
    return dict(json.loads(path.read_text())) if path.is_file() else None


def load_table(root: Path | str, name: str) -> pa.Table:
    """Table ``name`` (``runs``, ``files``, ``events`` or ``calls``) as Arrow, in case-id order,
    from either format."""
    from harness import store_chunks, store_v1

    root = Path(root)
    if store_v1.is_v1(root, _manifest_or_none(root)):
        return store_v1.read_table(root, name)
    return store_chunks.read_table(root, name)


def _frame(root: Path | str, name: str) -> pd.DataFrame:
    # Integers with a missing value become float64 (NaN), as pandas reads them; text is pandas' str.
    return load_table(root, name).to_pandas()


def load_runs(root: Path | str) -> pd.DataFrame:
    """One row per finished case: the grid point and its summary, in case-id order."""
    return _frame(root, "runs")


def load_files(root: Path | str) -> pd.DataFrame:
    """One row per item of every finished case (``harness.results``' columns and ``case_id``)."""
    return _frame(root, "files")


def load_events(root: Path | str) -> pd.DataFrame:
    return _frame(root, "events")


def load_calls(root: Path | str) -> pd.DataFrame:
    return _frame(root, "calls")


def load_failures(root: Path | str) -> pd.DataFrame:
    """One row per failed case (not run again since): the grid point, error, message, traceback."""
    import pandas as pd

    folder = Path(root) / FAILED
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    rows = [json.loads(path.read_text()) for path in paths if not path.name.startswith(TEMP_PREFIX)]
    return pd.DataFrame(rows).sort_values("case_id", ignore_index=True) if rows else pd.DataFrame()


def _finished(root: Path) -> set[str]:
    from harness import store_chunks, store_v1

    if store_v1.is_v1(root, _manifest_or_none(root)):
        return {folder.name for folder in store_v1.case_folders(root)}
    return store_chunks.finished_ids(root)


def export_csv(root: Path | str, folder: Path) -> dict[str, Path]:
    """Write ``runs.csv``, ``files.csv``, ``events.csv`` and ``calls.csv`` into ``folder``, each whole
    or not at all; returns them by table."""
    written = {}
    for name in ("runs", "files", "events", "calls"):
        path = written[name] = folder / f"{name}.csv"
        temp = path.with_name(f"{TEMP_PREFIX}{path.name}.{os.getpid()}")
        _frame(root, name).to_csv(temp, index=False)
        os.replace(temp, path)
    return written


def convert(root: Path | str) -> dict[Path, int]:
    """Rewrite a format-1 results directory (a folder per case) in place as this format, and
    every one inside it (a cross-check, a tune's rounds): atomic per directory (``harness.store_v1``).
    Returns the directories converted and the cases in each; those already in this format are left."""
    from harness import store_v1

    root = Path(root)
    converted = {}
    for path in [root / MANIFEST, *sorted(root.glob(f"*/{MANIFEST}"))]:
        if path.is_file() and store_v1.is_v1(path.parent, manifest := load_manifest(path.parent)):
            converted[path.parent] = store_v1.convert(
                path.parent, manifest, FORMAT_VERSION,
                lambda new, at=path: write_atomically(at, json.dumps(new, indent=2)))
    return converted


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
    profile = loaded.profile(0)
    return hashlib.sha256(repr(profile).encode()).hexdigest()[:16]
