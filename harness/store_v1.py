"""Results directories of format 1 (onyx-bench before Parquet): read as they are, or converted.

    DIR/manifest.json                format_version 1
    DIR/cases/<case_id>/             summary.json, files.csv, events.csv, calls.csv
    DIR/runs.csv, DIR/files.csv      every case together

Reading one builds the same Arrow tables as the Parquet chunks give (``harness.store_chunks``), so
``load_runs`` and the others return the same columns and dtypes from either format. ``convert``
rewrites one in place as format 2: the chunk is written beside the case folders, the manifest's
new version is the one atomic step that switches readers over, and the old files are removed
after it. Cut short before that step, the directory is still format 1 (a retry starts over);
after it, format 2 (a retry only removes what is left of the old files).
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from harness.store_chunks import CALLS, EVENTS, FILES, RUNS, SCHEMAS, TABLES, TEMP_PREFIX, CaseRows, Chunk

VERSION = 1
CASES = "cases"
COMBINED = ("runs.csv", "files.csv")  # format 1's tables of every case; `report --format csv` writes them now
_TEXT_MAY_BE_EMPTY = {"reason", "message"}  # written as "" when empty; every other empty cell was None


def is_v1(root: Path, manifest: dict[str, Any] | None) -> bool:
    """Format 1: its manifest says so (or it has none) and it has case folders."""
    version = VERSION if manifest is None else manifest.get("format_version", VERSION)
    return version <= VERSION and (root / CASES).is_dir()


def case_folders(root: Path) -> list[Path]:
    cases = root / CASES
    if not cases.is_dir():
        return []
    # A case folder is moved into place whole, summary and all: anything else in cases/ (say, a
    # results folder someone wrote inside it) is not a case.
    return sorted(entry for entry in cases.iterdir()
                  if not entry.name.startswith(TEMP_PREFIX) and (entry / "summary.json").is_file())


def read_cases(root: Path) -> Iterator[CaseRows]:
    """Each case folder as typed rows, in case-id order."""
    for folder in case_folders(root):
        summary = json.loads((folder / "summary.json").read_text())  # older ones lack newer fields
        yield CaseRows({column: summary.get(column) for column in SCHEMAS[RUNS].names},
                       *(_csv_rows(folder / f"{name}.csv", name) for name in (FILES, EVENTS, CALLS)))


def read_table(root: Path, name: str) -> pa.Table:
    columns: dict[str, list[Any]] = {column: [] for column in SCHEMAS[name].names}
    for case in read_cases(root):
        case.extend(name, columns)
    return pa.Table.from_pydict(columns, schema=SCHEMAS[name])


def _csv_rows(path: Path, name: str) -> list[dict[str, Any]]:
    types = {field.name: field.type for field in SCHEMAS[name]}
    with path.open(newline="") as handle:
        return [{column: _typed(row.get(column) or "", kind, column) for column, kind in types.items()}
                for row in csv.DictReader(handle)]


def _typed(text: str, kind: pa.DataType, column: str) -> Any:
    if text == "":
        return "" if column in _TEXT_MAY_BE_EMPTY else None
    if pa.types.is_integer(kind):
        return int(float(text))
    if pa.types.is_floating(kind):
        return float(text)
    if pa.types.is_boolean(kind):
        return text.lower() in ("true", "1")
    return text


def convert(root: Path, manifest: dict[str, Any], new_version: int,
            write_manifest: Callable[[dict[str, Any]], None]) -> int:
    """Rewrite format-1 directory ``root`` as ``new_version`` in place; the cases converted.
    ``write_manifest(manifest)`` writes the manifest atomically (``harness.store``)."""
    if is_v1(root, manifest):
        for name in TABLES:  # a conversion cut short before its manifest: start over
            shutil.rmtree(root / name, ignore_errors=True)
        chunk = Chunk(root, 1)
        try:
            for case in read_cases(root):
                chunk.add(case)
            chunk.commit()
        except BaseException:
            chunk.abandon()
            raise
        write_manifest({**manifest, "format_version": new_version, "converted_from_format": VERSION})
        cases = len(chunk.case_ids)
    elif manifest.get("converted_from_format") == VERSION:
        cases = 0  # converted before: only the old files may be left
    else:
        return 0
    shutil.rmtree(root / CASES, ignore_errors=True)  # format 1's files, once the manifest has switched
    for name in COMBINED:
        (root / name).unlink(missing_ok=True)
    return cases
