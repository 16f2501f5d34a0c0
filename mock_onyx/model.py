"""The Onyx semantics, knowing nothing of any HTTP framework: a request in, an ``Outcome`` out.

Routing, authentication, validation, the keyed latency and fault draw, and the reply plan all
happen here, once, for every way of serving the mock (the aiohttp app, an in-process transport).

Request keys (the "file" a request names, for attempt counting and draws):
    indexing_status      ``file:<ids sorted, comma-joined>``
    send_message         ``file:<user_file_ids>``, else ``folder:<user_folder_ids>``, else the key
                         of its chat session
    create_chat_session  ``session:<description>`` (the harness puts the file id in it); ``-`` if none
    simple_api           the key of its chat session
    folder               ``folder:<id>``
    persona, folders     ``-`` (they name nothing)
Attempts are counted only for requests that pass authentication and validation.
"""

from __future__ import annotations

import hmac
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from mock_onyx import onyx_content as content
from mock_onyx.behaviour import Behaviour, Draw
from mock_onyx.capacity import Capacity
from mock_onyx.endpoints import Endpoint, FaultKind
from mock_onyx.faults import REPLACING_FAULTS, damage, replacing_reply
from mock_onyx.onyx_requests import (
    BasicCreateChatMessageRequest,
    ChatSessionCreationRequest,
    CreateChatMessageRequest,
    invalid_body,
    validation_message,
)
from mock_onyx.profile import Profile
from mock_onyx.replies import (
    BodyReply,
    Chunk,
    Outcome,
    Reply,
    StreamReply,
    json_bytes,
    json_reply,
    ndjson_line,
)
from mock_onyx.stats import RUN_HEADER, UNLABELLED, ServerStats

API_PREFIX = "/api"
NO_KEY = "-"


@dataclass(frozen=True)
class MockRequest:
    """A request as the model sees it. ``headers`` is read with lower-case names: a mapping whose
    names are lower case, or a case-insensitive one (aiohttp's); cookie names as sent."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class _Accepted:
    """A valid request: its key, and how to answer it once its draw is known."""

    key: str
    respond: Callable[[Draw], Reply]


_Handler = Callable[["OnyxModel", MockRequest, dict[str, str]], "_Accepted | BodyReply"]


MAX_PIECES = 1000
# An id as Onyx (pydantic) parses it. At most 4,300 digits: int() refuses longer strings
# (sys.get_int_max_str_digits), which was a 500; pydantic's answer to them is a 422 too.
_INTEGER = re.compile(r"-?\d{1,4300}")
PERSONAS_BODY = json_bytes(list(content.PERSONAS))  # the same every time: encoded once


class OnyxModel:
    """One mock Onyx server's state: profile, behaviour, stats, chat sessions."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.behaviour = Behaviour(profile)
        self.stats = ServerStats()
        # The server's limits (workers, slowdown, crash), which the reply player applies;
        # None when the profile sets none: an ideal server.
        self.capacity = (Capacity(profile.capacity, profile.seed, self.stats)
                         if profile.capacity.enabled else None)
        self._session_keys: dict[uuid.UUID, str] = {}
        self._last_message_id = 0

    def reset(self) -> None:
        self.stats.reset()
        self._session_keys.clear()

    def handle(self, request: MockRequest) -> Outcome:
        if request.path.startswith("/_mock/"):
            return self._admin(request)
        path = request.path.removeprefix(API_PREFIX) if request.path.startswith(API_PREFIX + "/") \
            else request.path
        matched = _match(request.method, path)
        if isinstance(matched, BodyReply):
            return Outcome(matched)
        endpoint, handler, params = matched
        run = request.headers.get(RUN_HEADER, UNLABELLED)
        rejection_delay = self.behaviour.rejection_latency_s(endpoint)
        if self.profile.require_auth and not _authenticated(request):
            denied = {"detail": "Access denied. User is not authenticated."}
            return Outcome(json_reply(403, denied, rejection_delay), endpoint, run=run)
        accepted = handler(self, request, params)
        if isinstance(accepted, BodyReply):
            return Outcome(accepted, endpoint, run=run)
        attempt = self.stats.next_attempt(endpoint, accepted.key, run)
        draw = self.behaviour.draw(endpoint, accepted.key, attempt)
        if draw.fault in REPLACING_FAULTS:
            reply = replacing_reply(draw, self.profile.retry_after_s, self.profile.hang_limit_s)
        else:
            reply = damage(accepted.respond(draw), draw)
        return Outcome(reply, endpoint, draw, run)

    # -- the routes -------------------------------------------------------------------------

    def _indexing_status(self, request: MockRequest, _: dict[str, str]) -> _Accepted | BodyReply:
        raw_ids = [value for name, value in request.query if name == "file_ids"]
        if not raw_ids:
            return self._invalid("[{'type': 'missing', 'loc': ('query', 'file_ids'), "
                                 "'msg': 'Field required'}]", Endpoint.INDEXING_STATUS)
        if not all(_INTEGER.fullmatch(value) for value in raw_ids):
            return self._invalid("[{'type': 'int_parsing', 'loc': ('query', 'file_ids'), 'msg': "
                                 "'Input should be a valid integer'}]", Endpoint.INDEXING_STATUS)
        ids = sorted({int(value) for value in raw_ids})
        files = self.profile.files
        status = {str(i): i not in files.not_indexed for i in ids if i > 0 and i not in files.missing}
        return _Accepted(_file_key(ids), lambda draw: json_reply(200, status, draw.latency_s))

    def _persona(self, request: MockRequest, _: dict[str, str]) -> _Accepted | BodyReply:
        return _Accepted(NO_KEY, lambda draw: BodyReply(200, PERSONAS_BODY, draw.latency_s))

    def _create_chat_session(self, request: MockRequest, _: dict[str, str]) -> _Accepted | BodyReply:
        body = self._parse(ChatSessionCreationRequest, request, Endpoint.CREATE_CHAT_SESSION)
        if isinstance(body, BodyReply):
            return body
        key = f"session:{body.description}" if body.description else NO_KEY

        def respond(draw: Draw) -> Reply:
            if body.persona_id not in content.PERSONA_IDS:
                return json_reply(400, {"detail": "Invalid Persona provided."}, draw.error_latency_s)
            session_id = uuid.uuid4()
            self._session_keys[session_id] = key
            return json_reply(200, {"chat_session_id": str(session_id)}, draw.latency_s)

        return _Accepted(key, respond)

    def _simple_api(self, request: MockRequest, _: dict[str, str]) -> _Accepted | BodyReply:
        if not self.profile.enterprise:
            delay = self.behaviour.rejection_latency_s(Endpoint.SIMPLE_API)
            return json_reply(404, {"detail": "Not Found"}, delay)
        body = self._parse(BasicCreateChatMessageRequest, request, Endpoint.SIMPLE_API)
        if isinstance(body, BodyReply):
            return body
        key = self._session_keys.get(body.chat_session_id, NO_KEY)

        def respond(draw: Draw) -> Reply:
            answer = " ".join(content.answer_words(key, max(1, round(draw.latency_s))))
            if draw.fault is FaultKind.EMPTY_ANSWER:
                answer = ""
            message_id = self._take_message_ids() + 1
            return json_reply(200, {"answer": answer, "answer_citationless": answer,
                                    "top_documents": [], "error_msg": None, "message_id": message_id,
                                    "citation_info": []}, draw.latency_s)

        return _Accepted(key, respond)

    def _send_message(self, request: MockRequest, _: dict[str, str]) -> _Accepted | BodyReply:
        body = self._parse(CreateChatMessageRequest, request, Endpoint.SEND_MESSAGE)
        if isinstance(body, BodyReply):
            return body
        session_key = self._session_keys.get(body.chat_session_id)
        if body.user_file_ids:
            key = _file_key(body.user_file_ids)
        elif body.user_folder_ids:
            key = "folder:" + ",".join(str(i) for i in sorted(body.user_folder_ids))
        else:
            key = session_key or NO_KEY
        missing = sorted(set(body.user_file_ids) & self.profile.files.missing)
        session_id = str(body.chat_session_id)

        def respond(draw: Draw) -> Reply:
            if session_key is None:
                return _error_stream("Chat session does not exist or has been deleted", draw)
            if missing:
                return _error_stream(f"User file {missing[0]} not found", draw)
            return self._answer_stream(draw, session_id, empty=draw.fault is FaultKind.EMPTY_ANSWER)

        return _Accepted(key, respond)

    def _folder(self, request: MockRequest, params: dict[str, str]) -> _Accepted | BodyReply:
        raw = params["folder_id"]
        if not _INTEGER.fullmatch(raw):
            return self._invalid("[{'type': 'int_parsing', 'loc': ('path', 'folder_id'), 'msg': "
                                 "'Input should be a valid integer'}]", Endpoint.FOLDER)
        folder_id = int(raw)

        def respond(draw: Draw) -> Reply:
            if folder_id <= 0 or folder_id in self.profile.folders.missing:
                return json_reply(404, {"detail": "Folder not found"}, draw.error_latency_s)
            return json_reply(200, content.folder_snapshot(self.profile, folder_id), draw.latency_s)

        return _Accepted(f"folder:{folder_id}", respond)

    def _folders(self, request: MockRequest, _: dict[str, str]) -> _Accepted | BodyReply:
        settings = self.profile.folders
        ids = [i for i in range(1, settings.count + 1) if i not in settings.missing]
        return _Accepted(NO_KEY, lambda draw: json_reply(
            200, [content.folder_snapshot(self.profile, i) for i in ids], draw.latency_s))

    # -- helpers ----------------------------------------------------------------------------

    def _answer_stream(self, draw: Draw, session_id: str, empty: bool) -> StreamReply:
        total = draw.latency_s
        # At most MAX_PIECES packets, whatever the latency: a stream no client waits for (fixed(1e9))
        # must not be built as hundreds of millions of packets. Past MAX_PIECES x piece_interval_s
        # (5,000 s by default, far beyond every timeout) the pieces just come further apart.
        pieces = max(1, min(MAX_PIECES, math.ceil(total / self.profile.piece_interval_s)))
        words = content.answer_words(draw.key, pieces)
        texts = ["" for _ in words] if empty else [w + (" " if i < pieces - 1 else "")
                                                   for i, w in enumerate(words)]
        user_message_id = self._take_message_ids()
        chunks = [Chunk(0.0, ndjson_line(content.message_ids_packet(user_message_id)))]
        chunks += [Chunk(total * i / pieces, ndjson_line({"answer_piece": text}))
                   for i, text in enumerate(texts[:-1], start=1)]
        final = content.final_message(user_message_id + 1, session_id, "".join(texts))
        tail = ndjson_line({"answer_piece": texts[-1]}) + ndjson_line({"agentic_message_ids": []}) \
            + ndjson_line(final)
        chunks.append(Chunk(total, tail))
        return StreamReply(200, tuple(chunks), end_s=total)

    def _take_message_ids(self) -> int:
        self._last_message_id += 2
        return self._last_message_id - 1

    def _parse(self, model: type[BaseModel], request: MockRequest, endpoint: Endpoint) -> Any:
        try:
            return model.model_validate_json(request.body or b"null")
        except ValidationError as error:
            return self._invalid(validation_message(error), endpoint)

    def _invalid(self, message: str, endpoint: Endpoint) -> BodyReply:
        delay = self.behaviour.rejection_latency_s(endpoint)
        return json_reply(422, invalid_body(message), delay)

    def _admin(self, request: MockRequest) -> Outcome:
        if request.method == "GET" and request.path == "/_mock/stats":
            run = dict(request.query).get("run")
            return Outcome(json_reply(200, self.stats.snapshot(run), 0.0))
        if request.method == "GET" and request.path == "/_mock/profile":
            return Outcome(json_reply(200, self.profile.to_document(), 0.0))
        if request.method == "POST" and request.path == "/_mock/reset":
            self.reset()
            return Outcome(json_reply(200, {"reset": True}, 0.0))
        return Outcome(json_reply(404, {"detail": "Not Found"}, 0.0))


def _error_stream(message: str, draw: Draw) -> StreamReply:
    packet = ndjson_line(content.error_packet(message))
    return StreamReply(200, (Chunk(draw.error_latency_s, packet),), end_s=draw.error_latency_s)


def _file_key(ids: list[int]) -> str:
    return "file:" + ",".join(str(i) for i in sorted(ids))


# Auth config. With ``require_auth`` on, Onyx's forms of credentials pass: any API key of its form
# (``Authorization: Bearer on_...``) or any ``fastapiusersauth`` session cookie. ``require_api_key``
# narrows that to one value, as a real server knows its keys (``onyx-bench serve --require-auth``
# with ONYX_MOCK_API_KEY set): anything else, a wrong key included, gets Onyx's 403. Process-wide,
# as ``serve`` runs one server per process; None, the default, keeps the open rule.
_required_api_key: bytes | None = None


def require_api_key(key: str | None) -> None:
    """Accept only ``key`` (as a bearer API key, or as the session cookie); None: Onyx's forms."""
    global _required_api_key
    _required_api_key = None if key is None else key.encode()


def _authenticated(request: MockRequest) -> bool:
    cookie = request.cookies.get("fastapiusersauth")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = token if scheme.lower() == "bearer" else ""
    required = _required_api_key
    if required is None:
        return bool(cookie) or bearer.startswith("on_")
    # compare_digest: no timing difference tells a caller how much of a guess was right
    return any(hmac.compare_digest(given.encode(), required) for given in (bearer, cookie) if given)


_ROUTES: tuple[tuple[str, re.Pattern[str], Endpoint, _Handler], ...] = (
    ("GET", re.compile(r"/user/file/indexing-status"), Endpoint.INDEXING_STATUS,
     OnyxModel._indexing_status),
    ("GET", re.compile(r"/persona"), Endpoint.PERSONA, OnyxModel._persona),
    ("POST", re.compile(r"/chat/create-chat-session"), Endpoint.CREATE_CHAT_SESSION,
     OnyxModel._create_chat_session),
    ("POST", re.compile(r"/chat/send-message-simple-api"), Endpoint.SIMPLE_API, OnyxModel._simple_api),
    ("POST", re.compile(r"/chat/send-message"), Endpoint.SEND_MESSAGE, OnyxModel._send_message),
    ("GET", re.compile(r"/user/folder/(?P<folder_id>[^/]+)"), Endpoint.FOLDER, OnyxModel._folder),
    ("GET", re.compile(r"/user/folder"), Endpoint.FOLDERS, OnyxModel._folders),
)


def _match(method: str, path: str) -> tuple[Endpoint, _Handler, dict[str, str]] | BodyReply:
    allowed = False
    for route_method, pattern, endpoint, handler in _ROUTES:
        found = pattern.fullmatch(path)
        if found and route_method == method:
            return endpoint, handler, found.groupdict()
        allowed = allowed or bool(found)
    if allowed:
        return json_reply(405, {"detail": "Method Not Allowed"}, 0.0)
    return json_reply(404, {"detail": "Not Found"}, 0.0)
