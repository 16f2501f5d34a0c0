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
    text = "\x1f".join([str(seed), *(str(part) for part in parts)])
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE
