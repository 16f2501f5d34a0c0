"""A run's result: one row per item, the progress events, and a summary. Loads into pandas.

``files_frame`` columns: ``id``, ``kind`` (file or folder), ``status`` (ok, failed, skipped),
``error_kind``, ``reason``, ``attempts``, ``chat_tries``, ``start_s``, ``end_s``, ``duration_s``,
``answer_complete``, ``calls``. ``events_frame`` columns: ``at_s``, ``kind``, ``message``, ``done``,
``total``. ``calls_frame``: ``id``, ``kind``, ``endpoint``, ``start_s``, ``end_s``, ``status_code``,
``error_kind`` (why the call did not succeed: a send-message whose stream carried an error packet, a
bad line or no answer at all counts too, though its item may still be ok with a partial answer),
``drawn_latency_s`` (the latency the mock drew; empty for a real Onyx). Every time is in simulated seconds from the run's start.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from harness.outcomes import ErrorKind, ItemOutcome, Status
from harness.progress import ProgressEvent

if TYPE_CHECKING:  # pandas is imported where a frame is asked for: `run` and `serve` never need it
    import pandas as pd

FILE_COLUMNS = ["id", "kind", "status", "error_kind", "reason", "attempts", "chat_tries", "start_s",
                "end_s", "duration_s", "answer_complete", "calls"]
EVENT_COLUMNS = ["at_s", "kind", "message", "done", "total"]
CALL_COLUMNS = ["id", "kind", "endpoint", "start_s", "end_s", "status_code", "error_kind",
                "drawn_latency_s"]


@dataclass(frozen=True)
class RunSummary:
    strategy: str
    size: int | None
    n_files: int
    n_folders: int
    seed: int
    time_scale: float
    mode: str
    transport: str
    makespan_s: float
    files_ok: int  # items (files and folders) by final status
    files_failed: int
    files_skipped: int
    max_progress_gap_s: float  # a dropped run's is its idle timeout: the silence the frontend sat through
    idle_timeout_hit: bool  # the frontend dropped the run (``harness.frontend``)
    dropped_at_s: float | None  # when (then also the makespan); None if it was not dropped
    server_peak_inflight: int | None  # None when the target is not the mock
    client_peak_inflight: int
    expected_makespan_s: float | None  # closed form for this seed's draws (fault-free, files only)
    expected_mean_makespan_s: float | None  # closed form over the profile's distributions
    # What the behaviour model gives this run's draws: the closed form when it applies, else the
    # same run replayed on virtual time (faults, retries, folders); None for a real Onyx.
    model_makespan_s: float | None = None
    harness_overhead_s: float | None = None  # makespan_s - model_makespan_s (harness.overhead)
    harness_overhead_pct: float | None = None  # ... as % of model_makespan_s
    # The mock's capacity (mock_onyx.capacity), from its stats (None: not the mock): crashes that
    # cut this run's requests, its requests cut by them, its requests that waited for a worker
    # and their simulated seconds of waiting; and its calls refused (the client's count, since
    # over sockets a refused connection never reaches the server), for any target.
    server_crashes: int | None = None
    cut_by_crash: int | None = None
    queue_waits: int | None = None
    queue_wait_s: float | None = None
    refused_connections: int = 0
    # The strategy's policies (``scenarios.policies``) and the frontend's idle timeout
    heartbeat_s: float = 0.0  # a progress event at least this often while busy (0: none)
    retry: str = "none"  # the retry spec, canonical: "none", "fixed(3, 1)", ...
    rate_limit: float = 0.0  # attempt starts per simulated second (0: none)
    idle_timeout_s: float | None = None  # None: the frontend never gives up
    # adaptive's concurrency limit (``harness.strategies.adaptive``; None for the others): its
    # highest and its last value; the limit over time is in the events of kind ``limit``
    peak_limit: int | None = None
    final_limit: int | None = None


@dataclass(frozen=True)
class RunResult:
    summary: RunSummary
    outcomes: tuple[ItemOutcome, ...]
    events: tuple[ProgressEvent, ...]
    server_stats: dict[str, Any] | None

    def file_rows(self) -> list[dict[str, Any]]:
        return [{"id": o.item.id, "kind": str(o.item.kind), "status": str(o.status),
                 "error_kind": None if o.error_kind is None else str(o.error_kind),
                 "reason": o.reason, "attempts": o.attempts, "chat_tries": o.chat_tries,
                 "start_s": round(o.start_s, 6), "end_s": round(o.end_s, 6),
                 "duration_s": round(o.duration_s, 6), "answer_complete": o.answer_complete,
                 "calls": len(o.calls)} for o in self.outcomes]

    def event_rows(self) -> list[dict[str, Any]]:
        return [{"at_s": e.at_s, "kind": str(e.kind), "message": e.message, "done": e.done,
                 "total": e.total} for e in self.events]

    def call_rows(self) -> list[dict[str, Any]]:
        return [{"id": o.item.id, "kind": str(o.item.kind), "endpoint": c.endpoint,
                 "start_s": c.start_s, "end_s": c.end_s, "status_code": c.status_code,
                 "error_kind": None if c.error_kind is None else str(c.error_kind),
                 "drawn_latency_s": c.drawn_latency_s}
                for o in self.outcomes for c in o.calls]

    def files_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.file_rows(), columns=FILE_COLUMNS)

    def events_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.event_rows(), columns=EVENT_COLUMNS)

    def calls_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.call_rows(), columns=CALL_COLUMNS)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self.summary), "files": self.file_rows(), "events": self.event_rows(),
                "calls": self.call_rows()}


def count(outcomes: tuple[ItemOutcome, ...], status: Status) -> int:
    return sum(1 for outcome in outcomes if outcome.status is status)


def capacity_counts(stats: dict[str, Any] | None, outcomes: tuple[ItemOutcome, ...]) -> dict[str, Any]:
    """``RunSummary``'s capacity fields from the mock's stats of the run and its own calls."""
    refused = sum(1 for o in outcomes for call in o.calls if call.error_kind is ErrorKind.REFUSED)
    capacity = None if stats is None else stats.get("capacity")
    if capacity is None:
        return {"refused_connections": refused}
    return {"server_crashes": capacity["crashes"], "cut_by_crash": capacity["cut_by_crash"],
            "queue_waits": capacity["queue_waits"], "queue_wait_s": capacity["queue_wait_s"],
            "refused_connections": refused}
