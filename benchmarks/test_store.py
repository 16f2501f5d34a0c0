"""The results store at 100,000 cases: ``load_runs`` (goal: under 2 s), the per-item table, and
the write path's cost per case.

The 100,000-case store is built through the store's own write path (``ResultsStore.write_case``,
chunks of 10,000 cases, merged into one when done, as a completed sweep's are), not by running
100,000 cases: each case is a distinct grid point (its own case id) holding one of 20 real results
of batch 8 over 20 files on virtual time (20 items, about 100 calls and 10 events a case: 2 million
item rows, 10 million call rows in all). Marked ``slow`` (``make bench-all``): building the store
takes about 30 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import cycle
from pathlib import Path

import pytest

from harness.results import RunResult
from harness.runner import Mode, RunConfig, run_blocking
from harness.store import ResultsStore, load_files, load_runs
from harness.strategies import make_strategy
from mock_onyx import profile_from_mapping
from scenarios import Case

pytestmark = pytest.mark.slow
CASES = 100_000
CHUNK_CASES = 10_000
WRITE_CASES = 10_000  # cases per round of the write-path benchmark
FILES = 20
SIZE = 8


@pytest.fixture(scope="module")
def results() -> list[RunResult]:
    """20 real runs (20 seeds) of batch 8 over 20 files on virtual time."""
    return [run_blocking(RunConfig(files=FILES, strategy=make_strategy("batch", SIZE), mode=Mode.VIRTUAL,
                                   profile=profile_from_mapping({"seed": seed}, "store benchmark")))
            for seed in range(20)]


def _cases(count: int, first: int = 0) -> Iterator[Case]:
    return (Case(files=FILES, folders=0, kind="batch", size=SIZE, repetition=r) for r in range(first, first + count))


def _write(root: Path, results: list[RunResult], count: int, first: int = 0) -> ResultsStore:
    store = ResultsStore(root, chunk_cases=CHUNK_CASES, chunk_seconds=3600.0)
    for case, result in zip(_cases(count, first), cycle(results)):
        store.write_case(case, result)
    store.close(compact=True)
    return store


@pytest.fixture(scope="module")
def store_of_100k(results: list[RunResult], tmp_path_factory: pytest.TempPathFactory,
                  notes: list[str]) -> Path:
    root = tmp_path_factory.mktemp("store") / "out"
    start = time.perf_counter()
    _write(root, results, CASES)
    seconds = time.perf_counter() - start
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    size_mb = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6
    notes.append(f"store: {CASES:,} cases written in {seconds:.1f} s (chunks of {CHUNK_CASES:,}, then merged): "
                 f"{len(files)} files, {size_mb:.0f} MB ({', '.join(files)})")
    return root


def test_load_runs_of_100k_cases(benchmark, store_of_100k: Path, figures: dict[str, float]) -> None:
    """``load_runs`` on 100,000 cases: one row each, in case-id order (goal: under 2 s)."""
    benchmark.group = "results store, 100,000 cases"
    runs = benchmark.pedantic(load_runs, args=(store_of_100k,), rounds=5, warmup_rounds=1)
    assert len(runs) == CASES and runs["case_id"].is_unique and runs["case_id"].is_monotonic_increasing
    figures["store_load_runs_100k_ms"] = benchmark.stats.stats.median * 1000


def test_load_files_of_100k_cases(benchmark, store_of_100k: Path, results: list[RunResult],
                                  notes: list[str]) -> None:
    """``load_files`` on 100,000 cases: 2 million item rows."""
    benchmark.group = "results store, 100,000 cases"
    files = benchmark.pedantic(load_files, args=(store_of_100k,), rounds=3, warmup_rounds=0)
    assert len(files) == CASES * FILES and files["case_id"].nunique() == CASES
    notes.append(f"store: load_files of {len(files):,} item rows in {benchmark.stats.stats.median:.2f} s (median)")


def test_write_path_per_case(benchmark, results: list[RunResult], tmp_path: Path, figures: dict[str, float],
                             notes: list[str]) -> None:
    """``write_case`` for 10,000 cases, then ``close``: every case on disk, in one chunk. The cost
    per case is the whole (queueing, the writer thread's rows and Parquet, the commit) over the cases."""
    benchmark.group = "results store, write path"
    rounds = iter(range(100))

    def write() -> ResultsStore:
        return _write(tmp_path / f"round-{next(rounds)}", results, WRITE_CASES)

    store = benchmark.pedantic(write, rounds=3, warmup_rounds=1)
    assert len(store.finished()) == WRITE_CASES
    per_case_us = benchmark.stats.stats.median / WRITE_CASES * 1e6
    figures["store_write_us_per_case"] = per_case_us
    notes.append(f"store: write path {per_case_us:.0f} us per case ({FILES} items, ~{FILES * 5} calls), "
                 f"{WRITE_CASES:,} cases a round, committed and on disk")
