"""The console script run in a forked process: ``onyx-bench ARGS`` as the installed script runs it
(``harness.cli.main``), with its own stdin, stdout and stderr file descriptors, exiting with its
status without running the parent's (pytest's) exit handlers. Forking skips the interpreter's
start-up and imports, a third to half a second of CPU per call."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from harness.cli import main

SCRIPT = Path(sys.executable).with_name("onyx-bench")


def run_cli_and_exit(args: Sequence[str], stdout: int, stderr: int, cwd: Path | None = None,
                     setup: Callable[[], None] | None = None) -> NoReturn:
    """Call in the child of ``os.fork()``: never returns."""
    status = 1
    try:
        if cwd is not None:
            os.chdir(cwd)
        for source, target in ((os.open(os.devnull, os.O_RDONLY), 0), (stdout, 1), (stderr, 2)):
            os.dup2(source, target)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 (the process ends with os._exit)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        if setup is not None:
            setup()
        sys.argv = [str(SCRIPT), *args]
        # as in the console script, which runs as a file: click names the program after argv[0]
        # (under `python -m pytest` it would say "python -m pytest")
        sys.modules["__main__"].__package__ = None
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
