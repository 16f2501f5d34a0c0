"""Ctrl-C on a run (or a sweep) that waits on a latency no client would wait for, ``fixed(1e9)``, ends
it within a second of the signal, with exit status 130, one "interrupted" line and no traceback, and
no process of it ever holds 200 MB (issue 11).

The command runs in a session of its own, and the signal goes to its whole process group, as a
terminal's Ctrl-C does (a sweep's workers get it too). It is sent once the run is under way: the
command holds two established loopback connections (both ends of each in one process, or in a
sweep's worker), so both files are calling the embedded mock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import alive, default_sigint, process_tree

SCRIPT = Path(sys.executable).with_name("onyx-bench")
FOREVER = "send_message=fixed(1e9)"
EXIT_WITHIN_S = 1.0  # from the signal to the process reaped (polled every POLL_S)
PEAK_RSS_LIMIT_KB = 200 * 1024
POLL_S = 0.005
READY_TIMEOUT_S = 30.0
# Both files' first calls take 0.05 simulated s (2.5 ms of wall time at the default time scale
# of 0.05): a quarter of a second after their connections are up, both wait in send_message.
SETTLE_S = 0.25
ESTABLISHED = "01"  # the state column of /proc/net/tcp


def _established_sockets(pid: int) -> int:
    """TCP sockets of ``pid`` in the ESTABLISHED state (0 if it is gone)."""
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[len("socket:["):-1]
                  for fd in os.listdir(f"/proc/{pid}/fd")}
    except OSError:  # it exited, or a descriptor closed under us: ask again
        return 0
    established = set()
    for table in ("tcp", "tcp6"):  # loopback is 127.0.0.1, but a machine may also list tcp6
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        established.update(fields[9] for fields in map(str.split, lines) if fields[3] == ESTABLISHED)
    return len(inodes & established)


def _peak_rss_kb(pid: int) -> int:
    """The process's peak resident set so far (VmHWM), 0 if it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith("VmHWM:")), 0)


@dataclass(frozen=True)
class Interrupted:
    returncode: int
    exit_s: float  # from the signal to the process reaped
    peak_rss_kb: dict[int, int]  # per process of the command (the command's own includes its shutdown)
    survivors: list[int]  # processes of the command still alive a moment after it exited
    stdout: str
    stderr: str


def interrupt_when_under_way(args: list[str], folder: Path) -> Interrupted:
    """Start ``onyx-bench ARGS``, Ctrl-C it once both files are calling the mock, and wait for it."""
    out, err = folder / "stdout", folder / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen([str(SCRIPT), *args], cwd=folder, stdout=stdout, stderr=stderr,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   preexec_fn=default_sigint)
    try:
        peaks: dict[int, int] = {}
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not any(_established_sockets(pid) >= 4 for pid in process_tree(process.pid)):
            assert process.poll() is None, f"it ended before it was under way: {err.read_text()}"
            assert time.monotonic() < deadline, f"not under way after {READY_TIMEOUT_S} s"
            time.sleep(POLL_S)
        time.sleep(SETTLE_S)
        members = process_tree(process.pid)
        peaks.update({pid: _peak_rss_kb(pid) for pid in members})
        os.killpg(process.pid, signal.SIGINT)
        signalled = time.monotonic()
        # The command's peak RSS (VmHWM) read until it exits, its shutdown included, rather than
        # wait4's ru_maxrss: Linux starts a child's at the RSS of the process that spawned it (this
        # one, which holds pandas and pyarrow and the suite's data), so it measured the suite.
        while True:
            peaks[process.pid] = max(peaks[process.pid], _peak_rss_kb(process.pid))
            pid, status = os.waitpid(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - signalled > 10 * EXIT_WITHIN_S:
                raise AssertionError(f"still running {10 * EXIT_WITHIN_S} s after Ctrl-C: {err.read_text()}")
            time.sleep(POLL_S)
        exit_s = time.monotonic() - signalled
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # a sweep's workers (and multiprocessing's resource tracker) are ended as it exits
    gone_by = time.monotonic() + 2.0
    while (survivors := [pid for pid in members[1:] if alive(pid)]) and time.monotonic() < gone_by:
        time.sleep(POLL_S)
    return Interrupted(process.returncode, exit_s, peaks, survivors, out.read_text(), err.read_text())


def assert_ended_promptly_and_small(result: Interrupted) -> None:
    shown = f"exit {result.returncode} after {result.exit_s:.3f} s\nstderr: {result.stderr!r}"
    assert "Traceback" not in result.stderr + result.stdout, shown
    assert result.returncode == 130, shown
    assert result.exit_s < EXIT_WITHIN_S, shown
    assert all(kb < PEAK_RSS_LIMIT_KB for kb in result.peak_rss_kb.values()), \
        f"peak RSS per process (kB): {result.peak_rss_kb}"
    assert result.survivors == [], f"left running: {result.survivors}"


@pytest.mark.slow
def test_ctrl_c_ends_a_run_waiting_on_fixed_1e9_within_a_second(tmp_path: Path) -> None:
    # real mode, the embedded mock, the default time scale (0.05): the stream would take 50 million
    # wall seconds; the client would give up after 180 simulated s (9 s): Ctrl-C comes first
    result = interrupt_when_under_way(["run", "--files", "2", "--latency", FOREVER], tmp_path)
    assert_ended_promptly_and_small(result)
    # what it printed before (the expected wall time), then one line (after the newline click
    # prints to end the terminal's "^C" line), and no table
    lines = [line for line in result.stderr.splitlines() if line]
    assert lines[-1] == "onyx-bench: error: interrupted", result.stderr
    assert sum("interrupted" in line for line in lines) == 1, result.stderr
    assert result.stdout == ""


ONE_CASE = f"""
name = "forever"
seed = 1
repetitions = 1
mode = "real"
[server.latency]
send_message = "{FOREVER.split("=", 1)[1]}"
[workload]
files = [2]
[[strategies]]
kind = "batch"
size = 2
"""


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2], ids=["inline", "worker-pool"])
def test_ctrl_c_ends_a_sweep_waiting_on_fixed_1e9_within_a_second(tmp_path: Path, jobs: int) -> None:
    (tmp_path / "forever.toml").write_text(ONE_CASE)
    out = tmp_path / "out"
    result = interrupt_when_under_way(["sweep", "forever.toml", "--out", str(out), "--jobs", str(jobs)],
                                      tmp_path)
    assert_ended_promptly_and_small(result)
    last = result.stderr.rstrip().splitlines()[-1]
    assert last.startswith(f"interrupted: 0 of 1 cases kept in {out}") and "--resume" in last, result.stderr
    assert [p.name for p in out.iterdir()] == ["manifest.json"]  # nothing half-written
