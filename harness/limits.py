"""File descriptors a real-mode run needs, checked before it starts.

Over loopback every request in flight holds two sockets in this process (the client's and the
embedded mock's; one against a ``--target``). Past the soft limit (``ulimit -n``) ``connect`` and
``accept`` fail with "Too many open files": the files wait, time out and are reported as Onyx
timeouts, which they are not. So the limit is checked against the run's planned concurrency
first: the soft limit is raised where the hard limit allows, else the run is refused with one line.
"""

from __future__ import annotations

import resource

from mock_onyx.errors import ConfigError

SOCKETS_PER_REQUEST = 2  # the client's and the embedded mock's
# The interpreter, the event loop, the listening socket, pipes, imported files: measured well
# under this at start-up, with room left.
BASELINE_DESCRIPTORS = 128


def descriptors_needed(in_flight: int, embedded: bool) -> int:
    return BASELINE_DESCRIPTORS + in_flight * (SOCKETS_PER_REQUEST if embedded else 1)


def ensure_descriptors(in_flight: int, embedded: bool) -> None:
    """Make sure this process may open enough descriptors for ``in_flight`` requests at once."""
    need = descriptors_needed(in_flight, embedded)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or need <= soft:
        return
    if hard == resource.RLIM_INFINITY or need <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        return
    raise ConfigError(
        "--size", f"{in_flight} requests in flight need about {need} open files, and this process "
        f"may open at most {hard} (ulimit -n)",
        f"raise the hard limit (ulimit -Hn), run fewer at once (a smaller --size), or use --mode virtual")


def planned_in_flight(kind: str, size: int | None, files: int, folders: int) -> int:
    """The most requests a strategy can have in flight: one per item it runs at once."""
    if kind == "sequential" or size is None:
        return 1
    if kind == "batch":  # batches of files, then every folder at once
        return max(min(size, files), folders)
    return min(size, files + folders)
