"""How a drawn fault changes a reply. Pure functions of the planned reply and the draw."""

from __future__ import annotations

from mock_onyx.behaviour import Draw
from mock_onyx.endpoints import FaultKind
from mock_onyx.onyx_content import error_packet
from mock_onyx.replies import (
    BodyReply,
    Chunk,
    HangReply,
    Reply,
    StreamReply,
    json_reply,
    ndjson_line,
)

STATUS_FAULTS = {FaultKind.HTTP_500: 500, FaultKind.HTTP_503: 503, FaultKind.HTTP_429: 429}
# Faults that replace the reply outright: the request is never served (no session created, ...).
REPLACING_FAULTS = frozenset({*STATUS_FAULTS, FaultKind.HANG})


def replacing_reply(draw: Draw, retry_after_s: int, hang_limit_s: float) -> Reply:
    """The reply for a status fault or a hang; the endpoint's own work never happens."""
    if draw.fault is FaultKind.HANG:
        return HangReply(limit_s=hang_limit_s)
    if draw.fault is FaultKind.HTTP_500:
        return BodyReply(500, b"Internal Server Error", draw.error_latency_s, content_type="text/plain")
    if draw.fault is FaultKind.HTTP_503:
        return json_reply(503, {"detail": "Service Unavailable"}, draw.error_latency_s)
    if draw.fault is FaultKind.HTTP_429:
        return json_reply(429, {"detail": "Too Many Requests"}, draw.error_latency_s,
                          headers=(("Retry-After", str(retry_after_s)),))
    raise ValueError(f"{draw.fault} does not replace a reply")


def damage(reply: Reply, draw: Draw) -> Reply:
    """Apply a reset, truncated line or error packet at ``draw.fault_at_s`` to a planned reply."""
    if draw.fault is None or draw.fault is FaultKind.EMPTY_ANSWER or isinstance(reply, HangReply):
        return reply
    at = draw.fault_at_s
    assert at is not None  # drawn whenever a fault is
    if isinstance(reply, BodyReply):
        return _damage_body(reply, draw)
    before = tuple(chunk for chunk in reply.chunks if chunk.at_s < at)
    if draw.fault is FaultKind.RESET:
        return StreamReply(reply.status, before, end_s=at, cut=True, content_type=reply.content_type)
    if draw.fault is FaultKind.MALFORMED:
        truncated = ndjson_line({"answer_piece": " and then the"})[:-8] + b"\n"
        return StreamReply(reply.status, (*before, Chunk(at, truncated)), end_s=at)
    if draw.fault is FaultKind.ERROR_PACKET:
        packet = ndjson_line(error_packet("LLM provider error: the model stopped generating"))
        return StreamReply(reply.status, (*before, Chunk(at, packet)), end_s=at)
    raise ValueError(f"{draw.fault} cannot damage a reply")


def _damage_body(reply: BodyReply, draw: Draw) -> Reply:
    half = reply.body[: max(1, len(reply.body) // 2)]
    at = draw.fault_at_s
    assert at is not None  # drawn whenever a fault is
    if draw.fault is FaultKind.RESET:
        return StreamReply(reply.status, (Chunk(at, half),), end_s=at,
                           cut=True, content_type=reply.content_type)
    if draw.fault is FaultKind.MALFORMED:
        return BodyReply(reply.status, half, reply.delay_s, reply.content_type, reply.headers)
    raise ValueError(f"{draw.fault} applies only to a stream")
