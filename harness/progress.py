"""Progress events: what a strategy tells the frontend, and the silent gaps between them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    BATCH_START = "batch_start"
    BATCH_END = "batch_end"
    ITEM_DONE = "item_done"
    HEARTBEAT = "heartbeat"  # work still in flight: "Processing batch 2/4... (10s elapsed, 3/5 files done)"
    LIMIT = "limit"  # adaptive's concurrency limit changed: "limit 7 -> 3 after 7 failures (reset); pausing 38 s"
    DONE = "done"


@dataclass(frozen=True)
class ProgressEvent:
    at_s: float  # simulated seconds since the run's start
    kind: EventKind
    message: str
    done: int  # items finished so far
    total: int


def max_gap_s(event_times: Sequence[float], makespan_s: float) -> float:
    """The longest silence a frontend saw: from the start to the first event, between events,
    and from the last event to the end of the run."""
    marks = [0.0, *sorted(t for t in event_times if 0.0 <= t <= makespan_s), makespan_s]
    return max(later - earlier for earlier, later in zip(marks, marks[1:], strict=False))
