"""What one extraction ends as: every input ends ok, failed or skipped, with a reason.

Times are simulated seconds on the run's clock (0 = the run's start).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ItemKind(StrEnum):
    FILE = "file"
    FOLDER = "folder"


class Status(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class ErrorKind(StrEnum):
    """Why a call or an item did not succeed; derived the same way for every transport."""

    TIMEOUT = "timeout"  # no complete answer within the operation's timeout
    RESET = "reset"  # the connection dropped mid-answer
    REFUSED = "refused"  # nothing listening
    HTTP_STATUS = "http_status"  # a 4xx/5xx; the call record holds the status
    RATE_LIMITED = "rate_limited"  # a 429
    ERROR_PACKET = "error_packet"  # the stream reported an error
    EMPTY_ANSWER = "empty_answer"  # the stream ended with no text
    MALFORMED = "malformed"  # a body or stream line that is not valid JSON
    NOT_INDEXED = "not_indexed"  # skipped: the file is not indexed yet
    NOT_FOUND = "not_found"  # skipped: the file or folder does not exist
    TRANSPORT = "transport"  # any other client-side HTTP error
    HARNESS_LIMIT = "harness_limit"  # this machine ran out (open files, buffers): not the server's doing
    DROPPED = "dropped"  # not finished when the frontend dropped the stream (its idle timeout)
    INTERNAL = "internal"  # a bug in the harness; the item still gets a row


@dataclass(frozen=True)
class WorkItem:
    kind: ItemKind
    id: int

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class CallRecord:
    """One HTTP call of an extraction."""

    endpoint: str
    start_s: float
    end_s: float
    status_code: int | None = None
    error_kind: ErrorKind | None = None
    drawn_latency_s: float | None = None  # what the mock drew for it (None for a real Onyx)
    retry_after_s: float | None = None  # the reply's Retry-After, in seconds (a 429's)


@dataclass(frozen=True)
class ItemOutcome:
    item: WorkItem
    status: Status
    start_s: float
    end_s: float
    error_kind: ErrorKind | None = None
    reason: str = ""
    attempts: int = 1  # whole-item attempts (a strategy's retries)
    chat_tries: int = 0  # chats sent in the last attempt (a softer prompt is a second one)
    answer_chars: int = 0
    answer_complete: bool = False  # the stream ended with Onyx's final message
    calls: tuple[CallRecord, ...] = field(default=(), repr=False)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s
