"""Names shared by profiles, flags, stats and the harness: endpoints and fault kinds."""

from __future__ import annotations

from enum import StrEnum


class Endpoint(StrEnum):
    """The Onyx routes the mock serves, by the name profiles and stats use."""

    INDEXING_STATUS = "indexing_status"
    PERSONA = "persona"
    CREATE_CHAT_SESSION = "create_chat_session"
    SIMPLE_API = "simple_api"
    SEND_MESSAGE = "send_message"
    FOLDER = "folder"
    FOLDERS = "folders"


class FaultKind(StrEnum):
    """What can go wrong with one request.

    ``http_*`` answer with that status after the profile's ``error_latency``; ``reset`` cuts the
    body mid-way; ``hang`` never answers; ``malformed`` sends a truncated JSON line.
    ``error_packet`` and ``empty_answer`` exist only in send-message's stream.
    """

    HTTP_500 = "http_500"
    HTTP_503 = "http_503"
    HTTP_429 = "http_429"
    RESET = "reset"
    HANG = "hang"
    ERROR_PACKET = "error_packet"
    EMPTY_ANSWER = "empty_answer"
    MALFORMED = "malformed"


STREAM_ONLY_FAULTS = frozenset({FaultKind.ERROR_PACKET, FaultKind.EMPTY_ANSWER})
STREAMING_ENDPOINTS = frozenset({Endpoint.SEND_MESSAGE})
