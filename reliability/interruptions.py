"""The interruption matrix (issue 16): SIGINT, SIGTERM and SIGKILL during a sweep, on sockets and
on virtual time, with the local process pool and with Dask; then ``--resume``.

A cell starts ``onyx-bench sweep`` as a user would (its own process, in a session of its own, chunks
committed every 0.3 s so that a sweep of seconds commits several), waits until ``KEEP`` cases are
on disk, and sends the signal:

    SIGINT   to the command's whole process group, as a terminal's Ctrl-C does (workers get it too)
    SIGTERM  to the command alone, as ``kill PID`` (or a container's stop) does
    SIGKILL  to the command alone: nothing of it runs again, its workers are left orphaned

Then it checks, in ``CHECKS`` order:

    exit          the status a shell reports (130, 143, killed by 9); on SIGINT and SIGTERM, one
                  last line that counts the cases kept and gives the command that finishes them,
                  and no traceback
    no_survivor   no process of the command (pool workers, Dask's nanny workers) alive 5 s after
    whole         nothing half-written: what the store reads is whole cases (every case's items,
                  each case once); after SIGINT and SIGTERM not even a temporary file or a data
                  part without its chunk's runs part is left (after SIGKILL those are allowed, are
                  never read, and the resume removes them)
    resumed       ``--resume`` with the same executor runs exactly the cases not kept, exits 0,
                  and leaves one chunk and nothing else
    same          the results equal an uninterrupted sweep's (same scenario, same seed, the local
                  pool): on virtual time every column of every case and item; on sockets what the
                  model decides (statuses, attempts, calls, every call's drawn latency, each
                  run's model makespan) while measured times are the machine's own

The reference sweeps run once per mode.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.store import CHUNK_SECONDS_VARIABLE, TEMP_PREFIX, ResultsStore, load_calls, load_files, load_runs
from harness.store_chunks import TABLES, committed
from tests.processes import alive, default_sigint, process_tree

SCRIPT = Path(sys.executable).with_name("onyx-bench")
CHECKS = ("exit", "no_survivor", "whole", "resumed", "same")
KEEP = 3  # cases on disk before the signal is sent
START_LIMIT_S = 90.0  # from the start to KEEP cases on disk (a Dask LocalCluster starts first)
EXIT_LIMIT_S = 30.0  # from the signal to the command reaped
SURVIVOR_LIMIT_S = 5.0  # an orphaned pool worker checks its parent every 0.2 s; Dask's every 0.5-1 s
RESUME_LIMIT_S = 180.0
POLL_S = 0.02
ENV = {**os.environ, CHUNK_SECONDS_VARIABLE: "0.3"}

# On sockets at time scale 0.01 (a 15-30 s chat is 150-300 ms): 18 cases of 0.3-2 s. Not smaller: the
# comparison holds every status to the uninterrupted sweep's, and the client's 10 s timeouts on the
# short calls (100 ms of wall time here) must not trip on a machine busy with other work.
REAL = """
name = "interrupted"
seed = 16
repetitions = 3
time_scale = 0.01
[server.latency]
send_message = "uniform(15, 30)"
[workload]
files = [4, 8]
[[strategies]]
kind = "sequential"
[[strategies]]
kind = "batch"
size = [2, 4]
"""
# On virtual time: 32 cases of 0.05-0.6 s of wall time (200 and 400 files).
VIRTUAL = """
name = "interrupted"
seed = 16
repetitions = 4
mode = "virtual"
[server.latency]
send_message = "uniform(15, 30)"
[workload]
files = [200, 400]
[[strategies]]
kind = "sequential"
[[strategies]]
kind = "batch"
size = [2, 5, 8]
"""
SCENARIOS = {"real": REAL, "virtual": VIRTUAL}
EXECUTORS = {"local": ["--jobs", "2"], "dask": ["--executor", "dask", "--jobs", "2"]}


@dataclass(frozen=True)
class Signal:
    name: str
    number: int
    to_group: bool
    exit_status: int  # as subprocess reports it: 128 + n, or -n for a process the signal killed
    graceful: bool  # the command handles it: keeps what finished and says how to finish


SIGNALS = {
    "SIGINT": Signal("SIGINT", signal.SIGINT, True, 130, True),
    "SIGTERM": Signal("SIGTERM", signal.SIGTERM, False, 143, True),
    "SIGKILL": Signal("SIGKILL", signal.SIGKILL, False, -9, False),
}


@dataclass(frozen=True)
class Cell:
    signal: str
    mode: str
    executor: str

    @property
    def id(self) -> str:
        return f"{self.signal}-{self.mode}-{self.executor}"


CELLS = [Cell(s, m, e) for s in SIGNALS for m in SCENARIOS for e in EXECUTORS]


@dataclass
class CellResult:
    cell: Cell
    total: int = 0
    kept: int = 0  # cases on disk after the signal
    exit_status: int | None = None
    exit_s: float = float("nan")  # signal -> command reaped
    resumed_ran: int = 0
    resume_s: float = float("nan")
    failures: list[str] = field(default_factory=list)
    passed: dict[str, bool] = field(default_factory=dict)

    def check(self, name: str, problems: list[str]) -> None:
        self.passed[name] = not problems
        self.failures.extend(f"{name}: {problem}" for problem in problems)


ROWS: list[CellResult] = []


def write_scenario(folder: Path, mode: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "interrupted.toml"
    path.write_text(SCENARIOS[mode])
    return path


def sweep(scenario: Path, out: Path, executor: str, resume: bool = False) -> subprocess.Popen[str]:
    args = [str(SCRIPT), "sweep", str(scenario), "--out", str(out), *EXECUTORS[executor]]
    return subprocess.Popen(args + (["--resume"] if resume else []), cwd=scenario.parent, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, start_new_session=True, preexec_fn=default_sigint)


def reference(folder: Path, mode: str) -> Path:
    """An uninterrupted sweep of the mode's scenario with the local pool."""
    out = folder / "out"
    process = sweep(write_scenario(folder, mode), out, "local")
    _, stderr = process.communicate(timeout=RESUME_LIMIT_S)
    assert process.returncode == 0, stderr
    return out


def interrupt(cell: Cell, scenario: Path, out: Path, row: CellResult) -> str:
    """Run the sweep until KEEP cases are on disk, send the cell's signal, reap it; its stderr."""
    how = SIGNALS[cell.signal]
    process = sweep(scenario, out, cell.executor)
    store = ResultsStore(out)
    try:
        deadline = time.monotonic() + START_LIMIT_S
        while not ((out / "manifest.json").is_file() and len(store.finished()) >= KEEP):
            if process.poll() is not None:
                raise AssertionError(f"it ended (exit {process.returncode}) before {KEEP} cases were on disk: "
                                     f"{process.communicate()[1]}")
            if time.monotonic() > deadline:  # the finally block ends it
                raise AssertionError(f"{KEEP} cases not on disk after {START_LIMIT_S:g} s")
            time.sleep(POLL_S)
        members = process_tree(process.pid)[1:]
        if how.to_group:
            os.killpg(process.pid, how.number)
        else:
            os.kill(process.pid, how.number)
        signalled = time.monotonic()
        _, stderr = process.communicate(timeout=EXIT_LIMIT_S)
        row.exit_s = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    row.exit_status = process.returncode
    gone_by = time.monotonic() + SURVIVOR_LIMIT_S
    while (survivors := [pid for pid in members if alive(pid)]) and time.monotonic() < gone_by:
        time.sleep(POLL_S)
    for pid in survivors:  # not to leave them to the rest of the suite
        os.kill(pid, signal.SIGKILL)
    row.check("no_survivor", [f"{len(survivors)} of {len(members)} processes alive {SURVIVOR_LIMIT_S:g} s "
                              f"after: {survivors}"] if survivors else [])
    return stderr


def exit_problems(how: Signal, status: int | None, stderr: str, kept: int, total: int, out: Path,
                  scenario: Path, executor: str) -> list[str]:
    problems = []
    if status != how.exit_status:
        problems.append(f"exit status {status}, not {how.exit_status}")
    if "Traceback" in stderr:
        problems.append("a traceback: " + stderr[stderr.index("Traceback"):][:300])
    if how.graceful:
        said = "interrupted" if how.number == signal.SIGINT else "terminated"
        resume = " ".join([str(SCRIPT), "sweep", str(scenario), *EXECUTORS[executor], "--out", str(out), "--resume"])
        expected = f"{said}: {kept} of {total} cases kept in {out}; to finish them: {resume}"
        last = stderr.rstrip().splitlines()[-1] if stderr.strip() else ""
        if last != expected:
            problems.append(f"last line {last!r}, not {expected!r}")
    return problems


def whole_problems(out: Path, clean: bool) -> list[str]:
    """Whole cases only; ``clean``: no temporary file, no data part outside a committed chunk."""
    problems = []
    runs, files = load_runs(out), load_files(out)
    if runs["case_id"].duplicated().any():
        problems.append(f"cases read twice: {sorted(runs['case_id'][runs['case_id'].duplicated()])}")
    items = files.groupby("case_id").size()
    for case in runs.itertuples():
        expected = case.n_files + case.n_folders
        accounted = case.files_ok + case.files_failed + case.files_skipped
        if items.get(case.case_id, 0) != expected or accounted != expected:
            problems.append(f"{case.case_id}: {items.get(case.case_id, 0)} items stored, {accounted} "
                            f"accounted, of {expected}")
    if set(files["case_id"]) - set(runs["case_id"]):
        problems.append("items of cases not committed are read")
    if clean:
        temporary = [str(p.relative_to(out)) for p in out.rglob(f"{TEMP_PREFIX}*")]
        numbers = set(committed(out))
        loose = [f"{name}/{p.name}" for name in TABLES for p in sorted((out / name).glob("part-*.parquet"))
                 if int(re.findall(r"\d+", p.name)[0]) not in numbers]
        if temporary or loose:
            problems.append(f"left half-written: {temporary + loose}")
    return problems


def resume_problems(process: subprocess.Popen[str], kept: int, total: int, out: Path) -> tuple[list[str], int]:
    _, stderr = process.communicate(timeout=RESUME_LIMIT_S)
    problems = []
    if process.returncode != 0:
        problems.append(f"--resume exited {process.returncode}: {stderr[-500:]}")
    said = re.search(r": (\d+) cases, (\d+) already done, (\d+) to run", stderr)
    ran = int(said.group(3)) if said else -1
    if said is None or (int(said.group(1)), int(said.group(2)), ran) != (total, kept, total - kept):
        problems.append(f"--resume planned {said.group(0) if said else 'nothing it said'}, not {total} cases, "
                        f"{kept} already done, {total - kept} to run")
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    one_chunk = ["calls/part-N.parquet", "events/part-N.parquet", "files/part-N.parquet", "manifest.json",
                 "runs/part-N.parquet"]
    if [re.sub(r"\d+", "N", name) for name in left] != one_chunk:
        problems.append(f"after --resume the folder holds {left}, not one chunk")
    return problems, ran


# What the model decides for a case on sockets: the same in every run of the same seed.
REAL_RUN_COLUMNS = ["files_ok", "files_failed", "files_skipped", "seed", "n_files", "n_folders"]
REAL_FILE_COLUMNS = ["status", "error_kind", "attempts", "chat_tries", "calls"]


def same_problems(mode: str, resumed: Path, straight: Path) -> list[str]:
    a_runs, b_runs = (load_runs(p).sort_values("case_id", ignore_index=True) for p in (resumed, straight))
    a_files, b_files = (load_files(p).sort_values(["case_id", "kind", "id"], ignore_index=True)
                        for p in (resumed, straight))
    if list(a_runs["case_id"]) != list(b_runs["case_id"]):
        return [f"cases differ: {sorted(set(a_runs['case_id']) ^ set(b_runs['case_id']))}"]
    comparisons = []
    if mode == "virtual":  # the model itself on looptime's clock: every column, exactly
        comparisons = [("runs", a_runs[sorted(a_runs.columns)], b_runs[sorted(b_runs.columns)]),
                       ("files", a_files[sorted(a_files.columns)], b_files[sorted(b_files.columns)])]
    else:
        calls = [load_calls(p).sort_values(["case_id", "endpoint", "status_code", "drawn_latency_s"],
                                           ignore_index=True)[["case_id", "endpoint", "status_code", "drawn_latency_s"]]
                 for p in (resumed, straight)]
        comparisons = [("runs", a_runs[["case_id", *REAL_RUN_COLUMNS]], b_runs[["case_id", *REAL_RUN_COLUMNS]]),
                       ("files", a_files[["case_id", "kind", "id", *REAL_FILE_COLUMNS]],
                        b_files[["case_id", "kind", "id", *REAL_FILE_COLUMNS]]),
                       ("calls", *calls)]
        # the closed form of each run's drawn latencies (a model makespan), to the microsecond
        off = (a_runs["model_makespan_s"] - b_runs["model_makespan_s"]).abs().max()
        if not off <= 1e-6:
            comparisons.append(("runs.model_makespan_s", a_runs[["model_makespan_s"]], b_runs[["model_makespan_s"]]))
    problems = []
    for name, a, b in comparisons:
        try:
            pd.testing.assert_frame_equal(a, b)
        except AssertionError as error:
            problems.append(f"{name} differ: {str(error).splitlines()[0:4]}")
    return problems


def run_cell(cell: Cell, folder: Path, straight: Path) -> CellResult:
    row = CellResult(cell)
    ROWS.append(row)
    how = SIGNALS[cell.signal]
    scenario = write_scenario(folder, cell.mode)
    out = folder / "out"
    stderr = interrupt(cell, scenario, out, row)
    runs = load_runs(out)
    row.total, row.kept = len(load_runs(straight)), len(runs)
    exit_seen = exit_problems(how, row.exit_status, stderr, row.kept, row.total, out, scenario, cell.executor)
    if not KEEP <= row.kept < row.total:
        exit_seen.append(f"{row.kept} of {row.total} cases kept: the signal was not mid-sweep")
    row.check("exit", exit_seen)
    row.check("whole", whole_problems(out, clean=how.graceful))
    kept_before = runs.sort_values("case_id", ignore_index=True)
    started = time.monotonic()
    resumed, row.resumed_ran = resume_problems(sweep(scenario, out, cell.executor, resume=True), row.kept,
                                               row.total, out)
    row.resume_s = time.monotonic() - started
    # a case kept before the resume is the same case after it (the resume ran no case twice)
    after = load_runs(out).set_index("case_id").loc[kept_before["case_id"]].reset_index()
    if not after.equals(kept_before[after.columns]):
        resumed.append("cases kept before --resume changed after it")
    row.check("resumed", resumed)
    row.check("same", same_problems(cell.mode, out, straight))
    return row
