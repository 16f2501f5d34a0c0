"""A command's processes as the tests that signal it see them, read from /proc (Linux)."""

from __future__ import annotations

import signal
from pathlib import Path


def default_sigint() -> None:
    """A child's ``preexec_fn``: a background job of a non-interactive shell (the suite under make,
    CI) starts its children with SIGINT ignored, and Python then installs no KeyboardInterrupt
    handler: undo that, so that SIGINT reaches the command as a terminal's Ctrl-C would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def process_tree(pid: int) -> list[int]:
    """``pid`` and its living descendants, ``pid`` first."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(parents.get(found[-1], []))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
