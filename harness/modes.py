"""The harness's small choices (how a run is done, over which transport, with which strategy),
kept apart from the modules that implement them so the CLI can offer them without importing those.

``harness.runner``, ``harness.transports`` and ``harness.strategies`` re-export them.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """real: the mock on a loopback socket, time compressed by the time scale. virtual: the mock
    in-process on a virtual-time loop (looptime), exact and as fast as the CPU allows."""

    REAL = "real"
    VIRTUAL = "virtual"


class TransportKind(StrEnum):
    AIOHTTP = "aiohttp"
    HTTPX = "httpx"


STRATEGY_KINDS = ("sequential", "batch", "window", "adaptive")
