"""The results store: cases committed in Parquet chunks, whole or not at all; each case read once;
format 1 (a folder per case) still read and converted; the CSV export equal to what loads.

The cases are the tiny scenario's twelve, run once on virtual time (a tenth of a second) and stored
as the tests need them: a sweep's own ``run_sweep`` where a sweep is what is checked.
"""

from __future__ import annotations

import csv
import json
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import harness.store_chunks
from harness.cli import main
from harness.results import CALL_COLUMNS, EVENT_COLUMNS, FILE_COLUMNS, RunResult
from harness.store import (
    CHUNK_SECONDS_VARIABLE,
    MANIFEST,
    ResultsStore,
    case_columns,
    export_csv,
    load_calls,
    load_events,
    load_files,
    load_manifest,
    load_runs,
)
from harness.sweep import CaseTask, plan_sweep, run_case, run_sweep
from mock_onyx.errors import ConfigError
from scenarios import Case, LoadedScenario, parse_scenario
from tests.test_scenarios import GOOD

LOADERS = {"runs": load_runs, "files": load_files, "events": load_events, "calls": load_calls}


@pytest.fixture(scope="module")
def tiny() -> LoadedScenario:
    return parse_scenario(GOOD, "tiny.toml", None).with_overrides(mode="virtual")


@pytest.fixture(scope="module")
def ran(tiny: LoadedScenario, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Case, RunResult]]:
    """The tiny scenario's twelve cases, each run once, in grid order."""
    plan = plan_sweep(tiny, ResultsStore(tmp_path_factory.mktemp("plan") / "out"), resume=False)
    return [(task.case, run_case(task)) for task in plan.tasks]


def _parts(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)


def _prepared(root: Path, tiny: LoadedScenario, **chunking: float) -> ResultsStore:
    store = ResultsStore(root, **chunking)  # type: ignore[arg-type]
    store.prepare(tiny, resume=(root / MANIFEST).exists())
    return store


def test_a_chunk_cut_short_between_its_parts_is_never_read_and_its_cases_run_again(
        tiny: LoadedScenario, ran: list[tuple[Case, RunResult]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The writer stops for good just before chunk 2's runs part is renamed into place: its data
    # parts are in place, its runs part is a temporary file. This is the directory a SIGKILL at that
    # instant leaves, read while the writer is stopped.
    stopped, never = threading.Event(), threading.Event()
    real_replace = os.replace

    def replace(source: str | Path, target: str | Path) -> None:
        if Path(target) == tmp_path / "out" / "runs" / "part-00002.parquet" and not stopped.is_set():
            stopped.set()
            never.wait(10)
            raise RuntimeError("killed")
        real_replace(source, target)

    monkeypatch.setattr(harness.store_chunks.os, "replace", replace)
    cut = _prepared(tmp_path / "out", tiny, chunk_cases=4, chunk_seconds=60)
    for case, result in ran[:8]:
        cut.write_case(case, result)
    assert stopped.wait(10)
    first = {case.case_id for case, _ in ran[:4]}
    assert cut.finished() == first == set(load_runs(cut.root)["case_id"])
    assert set(load_files(cut.root)["case_id"]) == first  # chunk 2's files part is there, never read
    assert "files/part-00002.parquet" in _parts(cut.root)
    assert any(name.startswith("runs/.tmp-part-00002") for name in _parts(cut.root))
    # a resume removes what the cut chunk left, and stores its cases (and the rest) once each
    store = _prepared(cut.root, tiny, chunk_cases=4, chunk_seconds=60)
    assert _parts(store.root) == [f"{name}/part-00001.parquet" for name in ("calls", "events", "files", "runs")]
    never.set()
    with pytest.raises(RuntimeError, match="killed"):  # the cut writer's error, raised where it is closed
        cut.close()
    for case, result in ran[4:]:
        store.write_case(case, result)
    store.close(compact=True)
    runs = load_runs(store.root)
    assert list(runs["case_id"]) == sorted(case.case_id for case, _ in ran)
    assert len(load_files(store.root)) == sum(len(result.outcomes) for _, result in ran)
    assert [name.split("/")[0] for name in _parts(store.root)] == ["calls", "events", "files", "runs"]


def test_a_case_in_two_chunks_is_read_once_from_the_first_and_compacted_once(
        tiny: LoadedScenario, ran: list[tuple[Case, RunResult]], tmp_path: Path) -> None:
    first = _prepared(tmp_path / "out", tiny)
    for case, result in ran[:4]:
        first.write_case(case, result)
    first.close()
    # cases 2 and 3 again, with other results (what a compaction cut short leaves: two copies)
    again = _prepared(first.root, tiny)
    for (case, _), (_, other) in zip(ran[2:6], ran[6:10], strict=True):
        again.write_case(case, other)
    again.close()
    assert len(pq.read_table(first.root / "runs")) == 8  # on disk: 8 rows, 6 cases
    expected = {case.case_id: result for case, result in ran[:4]}
    expected |= {case.case_id: other for (case, _), (_, other) in zip(ran[4:6], ran[8:10], strict=True)}
    for store in (again, None):  # as two chunks, then compacted into one
        runs, files = load_runs(first.root), load_files(first.root)
        assert list(runs["case_id"]) == sorted(expected) and again.finished() == set(expected)
        assert list(runs["makespan_s"]) == [expected[c].summary.makespan_s for c in sorted(expected)]
        assert files.groupby("case_id").size().to_dict() == {c: len(r.outcomes) for c, r in expected.items()}
        if store is not None:
            store.close(compact=True)
            assert len(_parts(first.root)) == 4


def test_cases_queued_when_the_sweep_is_interrupted_are_on_disk_after_it(
        tiny: LoadedScenario, ran: list[tuple[Case, RunResult]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Interrupted:  # three cases finish, then Ctrl-C
        def run(self, tasks: Sequence[CaseTask]) -> Iterator[tuple[CaseTask, RunResult]]:
            results = dict((case.case_id, result) for case, result in ran)
            for task in tasks[:3]:
                yield task, results[task.case.case_id]
            raise KeyboardInterrupt

    store = ResultsStore(tmp_path / "out", chunk_seconds=60)  # no chunk would be due for a minute
    plan = plan_sweep(tiny, store, resume=False)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan, store, Interrupted())
    assert store.finished() == {task.case.case_id for task in plan.tasks[:3]}
    monkeypatch.setenv(CHUNK_SECONDS_VARIABLE, "soon")
    with pytest.raises(ConfigError, match=f"{CHUNK_SECONDS_VARIABLE}: 'soon' is not a number of seconds"):
        ResultsStore(tmp_path / "other")


def _write_format_1(root: Path, tiny: LoadedScenario, ran: list[tuple[Case, RunResult]]) -> None:
    """A results directory as onyx-bench wrote it before Parquet (format 1), case folder by case folder."""
    root.mkdir()
    (root / MANIFEST).write_text(json.dumps({"format_version": 1, "scenario_text": tiny.text,
                                             "overrides": tiny.overrides}))
    for case, result in ran:
        folder = root / "cases" / case.case_id
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps({**case_columns(case), **asdict(result.summary)}))
        for name, columns, rows in (("files", FILE_COLUMNS, result.file_rows()),
                                    ("events", EVENT_COLUMNS, result.event_rows()),
                                    ("calls", CALL_COLUMNS, result.call_rows())):
            with (folder / f"{name}.csv").open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=[*columns, "case_id"])
                writer.writeheader()
                writer.writerows({**row, "case_id": case.case_id} for row in rows)
    (root / "runs.csv").write_text("case_id\n")


def test_format_1_loads_as_format_2_and_converts_in_place(
        tiny: LoadedScenario, ran: list[tuple[Case, RunResult]], tmp_path: Path) -> None:
    new = _prepared(tmp_path / "new", tiny)
    for case, result in ran:
        new.write_case(case, result)
    new.close()
    old = tmp_path / "old"
    _write_format_1(old, tiny, ran)
    for name, load in LOADERS.items():
        pd.testing.assert_frame_equal(load(old), load(new.root), obj=name)
    assert ResultsStore(old).finished() == new.finished()
    with pytest.raises(ConfigError, match=f"convert it first: onyx-bench convert {old}"):
        plan_sweep(tiny, ResultsStore(old), resume=True)
    # a conversion cut short after its chunk, before its manifest: still format 1, and again finishes it
    (old / "runs").mkdir()
    (old / "runs" / "part-00001.parquet").write_bytes(b"cut short")
    assert len(load_runs(old)) == len(ran)
    result = CliRunner().invoke(main, ["convert", str(old)])
    assert result.exit_code == 0 and result.stdout == f"converted {old}: {len(ran)} cases\n"
    assert load_manifest(old)["format_version"] == 2 and _parts(old) == _parts(new.root)
    for name, load in LOADERS.items():
        pd.testing.assert_frame_equal(load(old), load(new.root), obj=name)
    assert plan_sweep(tiny, ResultsStore(old), resume=True).tasks == ()
    again = CliRunner().invoke(main, ["convert", str(old)])
    assert again.exit_code == 0 and "nothing to convert" in again.stdout


def test_the_csv_export_is_what_loads(ran: list[tuple[Case, RunResult]], tiny: LoadedScenario,
                                      tmp_path: Path) -> None:
    store = _prepared(tmp_path / "out", tiny)
    for case, result in ran:
        store.write_case(case, result)
    store.close()
    written = export_csv(store.root, tmp_path)
    assert sorted(written) == sorted(LOADERS)
    for name, load in LOADERS.items():
        frame = load(store.root)
        assert written[name].read_text() == frame.to_csv(index=False)
        back = pd.read_csv(written[name])
        numbers = [c for c in frame.columns if frame[c].dtype.kind in "if"]
        pd.testing.assert_frame_equal(back[numbers], frame[numbers], check_dtype=False)
        assert list(back["case_id"]) == list(frame["case_id"]) and len(frame) > 0


MANY = """
name = "many"
seed = 3
repetitions = 2000
mode = "virtual"
[workload]
files = [1]
[[strategies]]
kind = "sequential"
"""


def test_a_2000_case_sweep_is_a_handful_of_files(ran: list[tuple[Case, RunResult]], tmp_path: Path) -> None:
    # 2,000 cases through plan_sweep, run_sweep and the store as a sweep writes them, in chunks
    # of 500; each case stores the result of a real one-file run (running 2,000 would take 7 s)
    many = parse_scenario(MANY, "many.toml", None)
    one_file = next(result for case, result in ran if case.files == 1)

    class Stored:
        def run(self, tasks: Sequence[CaseTask]) -> Iterator[tuple[CaseTask, RunResult]]:
            return ((task, one_file) for task in tasks)

    store = ResultsStore(tmp_path / "out", chunk_cases=500)
    plan = plan_sweep(many, store, resume=False)
    assert plan.total == 2000
    run_sweep(plan, store, Stored())
    assert sorted(p.name for p in store.root.rglob("*") if p.is_file()) == [
        MANIFEST, *["part-00005.parquet"] * 4]  # chunks 1-4, merged into one when the sweep ended
    assert load_runs(store.root)["case_id"].is_unique and len(store.finished()) == 2000
    assert len(load_files(store.root)) == 2000
