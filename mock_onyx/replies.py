"""What the model answers, as plain data that any server adapter can play out on its clock.

A reply is a plan in simulated seconds measured from the request's arrival:

    BodyReply     a status and a whole body after ``delay_s``
    StreamReply   a status at once, then chunks at ``at_s``; it ends cleanly at ``end_s`` or is
                  cut there (``cut`` = the connection drops mid-body)
    HangReply     nothing at all until the client gives up (bounded by ``limit_s``)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mock_onyx.behaviour import Draw
from mock_onyx.endpoints import Endpoint, FaultKind

JSON_TYPE = "application/json"
NDJSON_STREAM_TYPE = "text/event-stream"


@dataclass(frozen=True)
class BodyReply:
    status: int
    body: bytes
    delay_s: float
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Chunk:
    at_s: float
    data: bytes


@dataclass(frozen=True)
class StreamReply:
    status: int
    chunks: tuple[Chunk, ...]
    end_s: float
    cut: bool = False
    content_type: str = NDJSON_STREAM_TYPE


@dataclass(frozen=True)
class HangReply:
    limit_s: float


Reply = BodyReply | StreamReply | HangReply


@dataclass(frozen=True)
class Outcome:
    """A reply and what the stats count for it; ``endpoint`` is None for unrouted and admin paths."""

    reply: Reply
    endpoint: Endpoint | None = None
    draw: Draw | None = None
    run: str = ""  # the client's run label (stats.RUN_HEADER), "" for none

    @property
    def fault(self) -> FaultKind | None:
        return None if self.draw is None else self.draw.fault

    @property
    def draw_headers(self) -> dict[str, str]:
        """What the mock drew for this request, for checking measurements against the model."""
        if self.draw is None:
            return {}
        return {"x-mock-key": self.draw.key, "x-mock-attempt": str(self.draw.attempt),
                "x-mock-latency-s": f"{self.draw.latency_s:.6f}",
                "x-mock-fault": self.draw.fault or "none"}

    @property
    def status(self) -> int | None:
        return None if isinstance(self.reply, HangReply) else self.reply.status


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def json_reply(status: int, value: Any, delay_s: float,
               headers: tuple[tuple[str, str], ...] = ()) -> BodyReply:
    return BodyReply(status=status, body=json_bytes(value), delay_s=delay_s, headers=headers)


def ndjson_line(value: Any) -> bytes:
    return json_bytes(value) + b"\n"
