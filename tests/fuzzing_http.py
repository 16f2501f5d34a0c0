"""Hypothesis requests for every route of the mock (``mock_onyx.model``'s, bare and under /api,
and the /_mock/ admin routes) with fuzzed methods, bodies, headers and query strings, and the
check of a reply: below 500, and a 4xx carries Onyx's error body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
from hypothesis import strategies as st

# No faults, no waiting: any 5xx is the mock's own failure, not one it was asked for.
FUZZ_PROFILE = {"time_scale": 0.001, "latency": {"default": "fixed(0)", "send_message": "fixed(0.5)"},
                "error_latency": "fixed(0)"}
ROUTES = [("GET", "/user/file/indexing-status"), ("GET", "/persona"), ("POST", "/chat/create-chat-session"),
          ("POST", "/chat/send-message-simple-api"), ("POST", "/chat/send-message"), ("GET", "/user/folder/7"),
          ("GET", "/user/folder"), ("GET", "/_mock/stats"), ("GET", "/_mock/profile"), ("POST", "/_mock/reset")]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]

JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-10**40, 10**40),
                              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20)),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                    max_leaves=10)
FIELDS = ["chat_session_id", "message", "parent_message_id", "file_descriptors", "prompt_id", "search_doc_ids",
          "retrieval_options", "user_file_ids", "user_folder_ids", "persona_id", "description"]
NEAR_VALID = st.dictionaries(st.sampled_from(FIELDS), st.one_of(
    JSON, st.uuids().map(str), st.lists(st.integers(-5, 10**30), max_size=3)), max_size=len(FIELDS))
BODIES = st.one_of(st.just(b""), st.binary(max_size=64), JSON.map(lambda v: json.dumps(v).encode()),
                   NEAR_VALID.map(lambda v: json.dumps(v).encode()),
                   st.sampled_from([b"null", b"{", b"[]", b"\xff\xfe", b"{" * 5000 + b"}" * 5000,
                                    b"x" * 2_000_000, json.dumps({"message": "m" * 500_000}).encode(),
                                    b'{"persona_id": 1e999}', b'{"persona_id": NaN}']))
# Header names (RFC 9110 tokens) and values (visible ASCII) that httpx will send.
TOKEN = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=':'),
                min_size=1, max_size=20)
NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~",
               min_size=1, max_size=20)
HEADERS = st.dictionaries(st.one_of(NAME, st.sampled_from(["content-type", "authorization", "cookie",
                                                            "content-encoding", "x-onyx-bench-run"])),
                          st.one_of(TOKEN, st.sampled_from(["application/json", "gzip", "Bearer on_x",
                                                            "fastapiusersauth=", "a" * 4000])), max_size=4)
QUERY = st.lists(st.tuples(st.one_of(st.sampled_from(["file_ids", "run"]), st.text(max_size=8)),
                           st.one_of(st.integers(-10, 10**30).map(str), st.text(max_size=12),
                                     st.just("9" * 5000))), max_size=4)
FOLDER_IDS = st.one_of(st.integers(-10, 10**30).map(str), st.text(min_size=1, max_size=12), st.just("9" * 5000))


@dataclass(frozen=True)
class FuzzRequest:
    route: str
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes = field(repr=False)  # up to 2 MB: shown by its size and head
    shown_body: str = ""


@st.composite
def _requests(draw: st.DrawFn) -> FuzzRequest:
    method, path = draw(st.sampled_from(ROUTES))
    route = path
    if path.startswith("/user/folder/"):
        path, route = "/user/folder/" + quote(draw(FOLDER_IDS), safe=""), "/user/folder/{id}"
    if not path.startswith("/_mock") and draw(st.booleans()):
        path = "/api" + path
    method = draw(st.one_of(st.just(method), st.sampled_from(METHODS)))
    body = draw(BODIES)
    return FuzzRequest(route, method, path, draw(QUERY), draw(HEADERS), body, f"{len(body)} B: {body[:80]!r}")


HTTP_REQUESTS = _requests()


def is_onyx_error_body(status: int, body: bytes) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    if not isinstance(data, dict):
        return False
    if status == 422:
        return data.get("status_code") == 422 and isinstance(data.get("message"), str) and data.get("data") is None
    return isinstance(data.get("detail"), str)


# aiohttp's HTTP parser answers a request line or header over 8,190 bytes with a plain 400 before
# any handler runs (uvicorn's h11 does the same with its own limit): the only 4xx not Onyx's body.
LINE_LIMIT = 8190


async def check_reply(client: httpx.AsyncClient, request: FuzzRequest) -> tuple[str, int | str]:
    """Send ``request``; its reply is below 500, and a 4xx carries Onyx's error body (or is the
    HTTP parser's 400 to an over-long line, returned as "parser 400")."""
    reply = await client.request(request.method, request.path, params=request.query, headers=request.headers,
                                 content=request.body)
    assert reply.status_code < 500, (request, reply.status_code, reply.content[:300])
    if reply.status_code == 400 and reply.headers.get("content-type", "").startswith("text/plain"):
        assert len(reply.request.url.raw_path) > LINE_LIMIT - 30, (request, reply.content[:300])
        return request.route, "parser 400"
    if 400 <= reply.status_code < 500 and request.method != "HEAD":
        assert is_onyx_error_body(reply.status_code, reply.content), (request, reply.status_code,
                                                                       reply.content[:300])
    return request.route, reply.status_code


async def still_serves(client: httpx.AsyncClient) -> None:
    reply = await client.get("/persona")
    assert reply.status_code == 200 and isinstance(reply.json(), list) and reply.json()


