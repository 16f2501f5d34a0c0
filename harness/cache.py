"""The seed's in-process context cache: whole extraction results keyed by the sorted file and folder
ids, kept for a time to live (one hour by default) on the simulated clock.

Hand-written rather than ``cachetools.TTLCache``: it is a dict and a timestamp, and a dependency
for that would not pay for itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.outcomes import ItemKind, ItemOutcome, WorkItem
from mock_onyx import SimClock

CacheKey = tuple[tuple[int, ...], tuple[int, ...]]


def cache_key(items: Sequence[WorkItem]) -> CacheKey:
    files = tuple(sorted(i.id for i in items if i.kind is ItemKind.FILE))
    folders = tuple(sorted(i.id for i in items if i.kind is ItemKind.FOLDER))
    return files, folders


@dataclass
class ContextCache:
    clock: SimClock
    ttl_s: float = 3600.0
    _entries: dict[CacheKey, tuple[float, tuple[ItemOutcome, ...]]] = field(default_factory=dict)

    def get(self, items: Sequence[WorkItem]) -> tuple[ItemOutcome, ...] | None:
        entry = self._entries.get(cache_key(items))
        if entry is None or self.clock.now() - entry[0] > self.ttl_s:
            return None
        return entry[1]

    def put(self, items: Sequence[WorkItem], outcomes: Sequence[ItemOutcome]) -> None:
        self._entries[cache_key(items)] = (self.clock.now(), tuple(outcomes))
