"""A run that would run out of file descriptors is set up for them or refused, never reported as
Onyx timeouts."""

from __future__ import annotations

import os
import resource
import signal
import tempfile
import time
from dataclasses import dataclass

import pytest

from harness.limits import descriptors_needed, planned_in_flight
from tests.forked_cli import run_cli_and_exit

RUN = ["onyx-bench", "run", "--files", "300", "--size", "300", "--time-scale", "0.05", "--json"]


@dataclass(frozen=True)
class Ended:
    returncode: int
    stdout: str
    stderr: str


def run_with_limit(soft: int, hard: int) -> Ended:
    """``onyx-bench RUN`` in a process of its own with these limits on open files: forked from this
    one, which has imported what it runs (a new interpreter took 0.45 s to start and import)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:
            run_cli_and_exit(RUN[1:], out.fileno(), err.fileno(),
                             setup=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)))
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
