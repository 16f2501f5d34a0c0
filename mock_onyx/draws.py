"""Keyed random numbers: the same key gives the same number in any process, order or concurrency.

Every random choice of the mock (a latency, whether a fault happens, where a stream is cut) is a
pure function of ``(seed, purpose, endpoint, key, attempt)``. This is what makes two strategies run
with one seed see the same per-file latencies (common random numbers), whatever order the requests
arrive in. A hash is used instead of a seeded ``random.Random`` stream, because a stream's values
depend on how many draws came before.
"""

from __future__ import annotations

import hashlib

_SCALE = float(2**64)


def unit_draw(seed: int, *parts: object) -> float:
    """A number in [0, 1) fixed by ``seed`` and ``parts``; uniform over keys."""
    return _unit("\x1f".join(map(str, (seed, *parts))))


def draw_prefix(seed: int, *parts: object) -> str:
    """The fixed leading parts of many draws, joined once: ``prefixed_draw(draw_prefix(seed, *a), *b)``
    is ``unit_draw(seed, *a, *b)`` (the mock's hot path draws per request with a known prefix)."""
    return "\x1f".join(map(str, (seed, *parts)))


def prefixed_draw(prefix: str, *parts: object) -> float:
    return _unit("\x1f".join(map(str, (prefix, *parts))))


def _unit(text: str) -> float:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE
