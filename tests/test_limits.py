"""A run that would run out of file descriptors is set up for them or refused, never reported as
Onyx timeouts."""

from __future__ import annotations

import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass

import pytest

from harness.cli import main
from harness.limits import descriptors_needed, planned_in_flight

RUN = ["onyx-bench", "run", "--files", "300", "--size", "300", "--time-scale", "0.05", "--json"]


@dataclass(frozen=True)
class Ended:
    returncode: int
    stdout: str
    stderr: str


def _child(soft: int, hard: int, stdout: int, stderr: int) -> None:
    """In the forked process: these limits, then ``onyx-bench RUN`` as the console script runs it;
    exit with its status, never through this process's (pytest's) exit handlers."""
    status = 1
    try:
        for source, target in ((os.open(os.devnull, os.O_RDONLY), 0), (stdout, 1), (stderr, 2)):
            os.dup2(source, target)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 (the process ends with os._exit)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        sys.argv = RUN
        try:
            main()
            status = 0
        except SystemExit as done:  # as the interpreter does: an int, None (0), or a message (1)
            if isinstance(done.code, int) or done.code is None:
                status = done.code or 0
            else:
                print(done.code, file=sys.stderr)
        except BaseException:  # noqa: BLE001 (a traceback, as an uncaught error would print)
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(status)


def run_with_limit(soft: int, hard: int) -> Ended:
    """``onyx-bench RUN`` in a process of its own with these limits on open files: forked from this
    one, which has imported what it runs (a new interpreter took 0.45 s to start and import)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:
            _child(soft, hard, out.fileno(), err.fileno())
        deadline = time.monotonic() + 60
        while (ended := os.waitpid(pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail("still running after 60 s (killed)")
            time.sleep(0.01)
        texts = []
        for captured in (out, err):
            captured.seek(0)
            texts.append(captured.read().decode(errors="replace"))
    return Ended(os.waitstatus_to_exitcode(ended[1]), texts[0], texts[1])


@pytest.mark.slow
def test_a_soft_limit_too_low_is_raised_where_the_hard_limit_allows() -> None:
    # 300 files at once over loopback need about 728 descriptors; the soft limit of 256 used to
    # end with 56 files "failed timeout" and accept() tracebacks
    result = run_with_limit(256, 4096)
    assert result.returncode == 0, result.stderr
    assert '"files_ok": 300' in result.stdout and "Too many open files" not in result.stderr


@pytest.mark.slow
def test_a_hard_limit_too_low_is_one_line_and_exit_2_before_any_file() -> None:
    result = run_with_limit(256, 256)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "open files" in lines[0] and "ulimit" in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize(("kind", "size", "files", "folders", "expected"), [
    ("sequential", None, 50, 3, 1), ("batch", 8, 50, 0, 8), ("batch", 8, 3, 0, 3),
    ("batch", 8, 5, 20, 20), ("window", 8, 5, 20, 8), ("window", 50, 5, 2, 7)])
def test_the_planned_concurrency_is_one_request_per_item_at_once(
        kind: str, size: int | None, files: int, folders: int, expected: int) -> None:
    assert planned_in_flight(kind, size, files, folders) == expected
    assert descriptors_needed(expected, embedded=True) > descriptors_needed(expected, embedded=False)
