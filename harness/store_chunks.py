"""A results directory's rows in Parquet chunks: written by a thread as cases finish, read back whole.

    DIR/runs/part-00001.parquet     one row per case: its grid point and ``RunSummary``
    DIR/files/part-00001.parquet    one row per item (``harness.results``), with its ``case_id``
    DIR/events/part-00001.parquet   progress events; DIR/calls/part-00001.parquet: HTTP calls

A chunk is the four parts of one number, each written under a temporary name (``.tmp-...``, which
Parquet readers skip) and renamed into place: the runs part last. A chunk's cases are finished once
its runs part exists; data parts without one (a write cut short by SIGKILL) are never read, and
``remove_leftovers`` deletes them. A case in two chunks (a compaction cut short) is read once, from
the first. Every part of a table has the same schema, so ``pyarrow.dataset.dataset(DIR / "runs")``
(or pandas' ``read_parquet``) reads a table directly.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any, TypeVar, get_args, get_type_hints

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from harness.results import CALL_COLUMNS, EVENT_COLUMNS, FILE_COLUMNS, RunSummary
from harness.store import TEMP_PREFIX

RUNS, FILES, EVENTS, CALLS = "runs", "files", "events", "calls"
TABLES = (FILES, EVENTS, CALLS, RUNS)  # the order a chunk is written in: its runs part commits it
PART = re.compile(r"part-(\d+)\.parquet")
ROW_GROUP_ROWS = 65_536  # rows held in memory per table before they are written as a row group
_T = TypeVar("_T")

_ARROW = {int: pa.int64(), float: pa.float64(), str: pa.string(), bool: pa.bool_()}
# The grid point (``harness.store.case_columns``), then the summary's fields not already in it.
_CASE_TYPES = {"case_id": str, "files": int, "folders": int, "kind": str, "size": int, "repetition": int,
               "heartbeat_s": float, "retry": str, "rate_limit": float, "policy": str}
_ROW_TYPES = {"id": int, "kind": str, "status": str, "error_kind": str, "reason": str, "attempts": int,
              "chat_tries": int, "start_s": float, "end_s": float, "duration_s": float,
              "answer_complete": bool, "calls": int, "at_s": float, "message": str, "done": int,
              "total": int, "endpoint": str, "status_code": int, "drawn_latency_s": float, "case_id": str}


def _summary_types() -> dict[str, type]:
    hints = get_type_hints(RunSummary)
    return {name: next(arg for arg in (*get_args(hint), hint) if arg in _ARROW) for name, hint in hints.items()}


def _schema(types: dict[str, type]) -> pa.Schema:
    return pa.schema([(name, _ARROW[kind]) for name, kind in types.items()])


SCHEMAS = {
    RUNS: _schema({**_CASE_TYPES, **_summary_types()}),
    FILES: _schema({name: _ROW_TYPES[name] for name in [*FILE_COLUMNS, "case_id"]}),
    EVENTS: _schema({name: _ROW_TYPES[name] for name in [*EVENT_COLUMNS, "case_id"]}),
    CALLS: _schema({name: _ROW_TYPES[name] for name in [*CALL_COLUMNS, "case_id"]}),
}


def part_name(number: int) -> str:
    return f"part-{number:05d}.parquet"


def part_numbers(folder: Path) -> list[int]:
    """The numbers of the parts in ``folder``, in order (temporary files are not parts)."""
    if not folder.is_dir():
        return []
    return sorted(int(match[1]) for entry in os.listdir(folder) if (match := PART.fullmatch(entry)))


def committed(root: Path) -> list[int]:
    """The chunks whose runs part is on disk, in the order they were written."""
    return part_numbers(root / RUNS)


def next_number(root: Path) -> int:
    return max((n for name in TABLES for n in part_numbers(root / name)), default=0) + 1


_GETTERS = {name: itemgetter(name) for schema in SCHEMAS.values() for name in schema.names}


class CaseRows:
    """One case as rows: the run's (grid point and summary), its items', events' and calls' (their
    ``case_id`` column is the case's). Each row has a key for every column of its table."""

    def __init__(self, run: dict[str, Any], files: list[dict[str, Any]], events: list[dict[str, Any]],
                 calls: list[dict[str, Any]]) -> None:
        self.case_id: str = run["case_id"]
        self.rows = {RUNS: [run], FILES: files, EVENTS: events, CALLS: calls}

    def extend(self, name: str, columns: dict[str, list[Any]]) -> int:
        """Append table ``name``'s rows to ``columns`` (a list per column); returns how many."""
        rows = self.rows[name]
        for column, values in columns.items():
            values.extend(repeat(self.case_id, len(rows)) if column == "case_id" else map(_GETTERS[column], rows))
        return len(rows)


class Chunk:
    """Cases being written as chunk ``number``: rows buffered by column, flushed as row groups to
    temporary files, renamed into place by ``commit``."""

    def __init__(self, root: Path, number: int) -> None:
        self.root, self.number = root, number
        self.case_ids: list[str] = []
        self._columns: dict[str, dict[str, list[Any]]] = {
            name: {column: [] for column in SCHEMAS[name].names} for name in TABLES}
        self._rows = dict.fromkeys(TABLES, 0)
        self._writers: dict[str, pq.ParquetWriter] = {}

    def add(self, case: CaseRows) -> None:
        for name in TABLES:
            self._rows[name] += case.extend(name, self._columns[name])
            if self._rows[name] >= ROW_GROUP_ROWS:
                self._write(name)
        self.case_ids.append(case.case_id)

    def append(self, name: str, table: pa.Table) -> None:
        """Write ``table`` to table ``name`` as it is (a compaction's row groups)."""
        self._open(name).write_table(table)

    def commit(self) -> None:
        """Write what is left, then rename each part into place: the runs part last."""
        for name in TABLES:
            self._write(name)
            self._writers.pop(name).close()
            _sync(self._temp(name))
        for name in TABLES:
            os.replace(self._temp(name), self.root / name / part_name(self.number))
        for name in TABLES:
            _sync(self.root / name)

    def abandon(self) -> None:
        for writer in self._writers.values():
            writer.close()
        for name in TABLES:
            self._temp(name).unlink(missing_ok=True)

    def _write(self, name: str) -> None:
        """The rows buffered for table ``name``, as one row group (a part with none is still written)."""
        writer = self._open(name)
        if self._rows[name]:
            writer.write_table(pa.Table.from_pydict(self._columns[name], schema=SCHEMAS[name]))
            for values in self._columns[name].values():
                values.clear()
            self._rows[name] = 0

    def _open(self, name: str) -> pq.ParquetWriter:
        if name not in self._writers:
            (self.root / name).mkdir(parents=True, exist_ok=True)
            self._writers[name] = pq.ParquetWriter(self._temp(name), SCHEMAS[name])
        return self._writers[name]

    def _temp(self, name: str) -> Path:
        return self.root / name / f"{TEMP_PREFIX}{part_name(self.number)}.{os.getpid()}"


def _sync(path: Path) -> None:
    """Flush a file (or a folder's entries) to the disk: a chunk survives a power cut, not only SIGKILL."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class ChunkWriter:
    """A thread that writes queued cases into chunks: a chunk is committed every ``chunk_cases``
    cases, ``chunk_seconds`` after its first case, and on ``flush``. It runs apart from the main
    thread so that Ctrl-C (raised there) never cuts a chunk short; the main thread only queues."""

    def __init__(self, root: Path, chunk_cases: int, chunk_seconds: float,
                 committed_cases: Callable[[list[str]], None]) -> None:
        self.root, self.chunk_cases, self.chunk_seconds = root, chunk_cases, chunk_seconds
        self._committed_cases = committed_cases
        self._queue: SimpleQueue[tuple[Any, ...]] = SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="results-store", daemon=True)
        self._thread.start()

    def put(self, make_rows: Callable[[], CaseRows]) -> None:
        """Queue a case (its rows are made in the writer's thread)."""
        self._raise_error()
        self._queue.put(("case", make_rows))

    def flush(self, stop: bool = False) -> None:
        """Commit every case queued so far; return once they are on disk."""
        done = threading.Event()
        self._queue.put(("stop" if stop else "flush", done))
        while not done.wait(0.05):
            if not self._thread.is_alive():
                break
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        chunk: Chunk | None = None
        deadline = 0.0
        while True:
            try:
                message = self._queue.get(timeout=None if chunk is None else max(0.0, deadline - time.monotonic()))
            except Empty:
                message = ("flush", None)
            try:
                if message[0] == "case":
                    if chunk is None:
                        chunk = Chunk(self.root, next_number(self.root))
                        deadline = time.monotonic() + self.chunk_seconds
                    chunk.add(message[1]())
                if chunk is not None and (message[0] != "case" or len(chunk.case_ids) >= self.chunk_cases):
                    chunk.commit()
                    self._committed_cases(chunk.case_ids)
                    chunk = None
            except BaseException as error:  # a full disk, say: the main thread raises it
                self._error = error
                if chunk is not None:
                    chunk.abandon()
                message = ("stop", message[1] if message[0] != "case" else None)
            if message[0] != "case" and message[1] is not None:
                message[1].set()
            if message[0] == "stop":
                return


def _case_ids(root: Path, numbers: Iterable[int]) -> dict[int, pa.ChunkedArray]:
    return {n: pq.read_table(root / RUNS / part_name(n), columns=["case_id"])["case_id"] for n in numbers}


def kept_cases(root: Path, numbers: list[int]) -> dict[int, pa.Array] | None:
    """For each chunk, the cases read from it when some case is in two (the first has it);
    None when none is (the usual case: nothing to filter)."""
    ids = _case_ids(root, numbers)
    every = pa.chunked_array([chunk for array in ids.values() for chunk in array.chunks], pa.string())
    if pc.count_distinct(every).as_py() == len(every):
        return None
    seen: set[str] = set()
    kept = {}
    for number in numbers:
        fresh = [case for case in ids[number].to_pylist() if case not in seen]
        seen.update(fresh)
        kept[number] = pa.array(fresh, pa.string())
    return kept


def read_table(root: Path, name: str) -> pa.Table:
    """Table ``name`` over every committed chunk, each case once, in case-id order (stable: a
    case's rows keep the order they were written in)."""
    def read() -> pa.Table:
        numbers = committed(root)
        kept = kept_cases(root, numbers) if len(numbers) > 1 else None
        tables = [_filtered(pq.read_table(root / name / part_name(n), schema=SCHEMAS[name]), kept, n)
                  for n in numbers]
        return pa.concat_tables(tables) if tables else SCHEMAS[name].empty_table()

    table = _retrying(read)
    return table.take(pc.sort_indices(table["case_id"])) if table.num_rows else table


def finished_ids(root: Path) -> set[str]:
    return _retrying(lambda: {case for array in _case_ids(root, committed(root)).values()
                              for case in array.to_pylist()})


def _retrying(read: Callable[[], _T], attempts: int = 5) -> _T:
    """``read``, again if a part it listed was gone when it opened it (a sweep beside it compacted
    its chunks: the merged chunk is committed before the old ones go, so the next listing holds it)."""
    for attempt in range(attempts):
        try:
            return read()
        except FileNotFoundError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _filtered(table: pa.Table, kept: dict[int, pa.Array] | None, number: int) -> pa.Table:
    return table if kept is None else table.filter(pc.is_in(table["case_id"], value_set=kept[number]))


def compact(root: Path) -> None:
    """Merge every committed chunk into one: a new chunk, committed as any other, then the old
    ones removed (their runs parts first). Cut short anywhere, nothing is lost or read twice."""
    numbers = committed(root)
    if len(numbers) <= 1:
        return
    kept = kept_cases(root, numbers)
    merged = Chunk(root, next_number(root))
    try:
        for name in TABLES:
            for batch in _batches(root, name, numbers, kept):
                merged.append(name, batch)
        merged.commit()
    except BaseException:
        merged.abandon()
        raise
    for name in (RUNS, FILES, EVENTS, CALLS):
        for number in numbers:
            (root / name / part_name(number)).unlink(missing_ok=True)


def _batches(root: Path, name: str, numbers: list[int], kept: dict[int, pa.Array] | None) -> Iterator[pa.Table]:
    """The chunks' rows as tables of about ``ROW_GROUP_ROWS`` rows, in chunk order."""
    pending: list[pa.Table] = []
    rows = 0
    for number in numbers:
        source = pq.ParquetFile(root / name / part_name(number))
        for group in range(source.num_row_groups):
            table = _filtered(source.read_row_group(group), kept, number)
            pending.append(table)
            rows += table.num_rows
            if rows >= ROW_GROUP_ROWS:
                yield pa.concat_tables(pending)
                pending, rows = [], 0
    if pending:
        yield pa.concat_tables(pending)


def remove_leftovers(root: Path) -> None:
    """Temporary files of a write cut short, and data parts whose chunk was never committed."""
    numbers = set(committed(root))
    for name in TABLES:
        folder = root / name
        if not folder.is_dir():
            continue
        for entry in os.listdir(folder):
            match = PART.fullmatch(entry)
            if entry.startswith(TEMP_PREFIX) or (match and name != RUNS and int(match[1]) not in numbers):
                (folder / entry).unlink(missing_ok=True)
