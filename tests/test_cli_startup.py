"""The CLI starts light: ``--help`` imports none of the heavy libraries, and ``serve`` and ``run``
never import pandas or matplotlib (only ``sweep``, ``reproduce`` and ``report`` need them).

Each check runs in a fresh interpreter, because this test process has imported everything already;
it asserts on ``sys.modules``, not on wall time (the time is the job of
benchmarks/test_http.py::test_cli_startup).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

REPORTING = {"pandas", "matplotlib"}
HEAVY = REPORTING | {"aiohttp", "httpx", "pydantic", "looptime"}

PROBE = """
import sys
from click.testing import CliRunner
from harness.cli import main
result = CliRunner().invoke(main, sys.argv[1:])
assert result.exit_code == 0, result.output
print(" ".join(sorted(sys.modules)))
"""


def modules_after(*args: str) -> set[str]:
    """The top-level modules imported by ``onyx-bench ARGS`` (run with click's CliRunner)."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return {name.split(".")[0] for name in done.stdout.split()}


def test_importing_the_cli_imports_nothing_heavy() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys, harness.cli; print(' '.join(sys.modules))"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert not {name.split(".")[0] for name in done.stdout.split()} & HEAVY


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["run", "--help"], ["tune", "--help"]])
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    assert not modules_after(*args) & HEAVY


def test_a_virtual_run_imports_neither_pandas_nor_matplotlib() -> None:
    loaded = modules_after("run", "--files", "2", "--mode", "virtual")
    assert "looptime" in loaded  # it did run
    assert not loaded & REPORTING
