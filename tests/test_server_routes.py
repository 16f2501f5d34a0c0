"""Every route of the mock over real loopback HTTP with httpx: shapes, statuses, error bodies."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from mock_onyx import FOLDER_FILE_BASE
from tests.conftest import new_session, send_message_body

ROUTES = [("GET", "/user/file/indexing-status?file_ids=12"), ("GET", "/persona"),
          ("POST", "/chat/create-chat-session"), ("GET", "/user/folder"), ("GET", "/user/folder/2")]


@pytest.mark.parametrize("prefix", ["", "/api"])
@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_routes_answer_bare_and_under_api(mock, prefix: str, method: str, path: str) -> None:
    async with mock() as (_, client):
        response = await client.request(method, prefix + path, json={} if method == "POST" else None)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")


async def test_indexing_status_keys_ids_as_strings_and_leaves_unknown_ones_out(mock) -> None:
    async with mock(files={"missing": [13], "not_indexed": [14]}) as (_, client):
        response = await client.get("/user/file/indexing-status",
                                    params=[("file_ids", 12), ("file_ids", 13), ("file_ids", 14)])
        assert response.json() == {"12": True, "14": False}
        missing = await client.get("/user/file/indexing-status")
        assert missing.status_code == 422
        assert missing.json()["status_code"] == 422 and missing.json()["data"] is None
        assert "file_ids" in missing.json()["message"]


async def test_ids_too_long_for_int_are_422_not_500(mock) -> None:
    # found by hypothesis (reliability/test_bad_input.py): int() refuses 4,301+ digits, a 500
    async with mock() as (_, client):
        huge = "9" * 5000
        for response in (await client.get("/user/file/indexing-status", params={"file_ids": huge}),
                         await client.get(f"/user/folder/{huge}")):
            assert response.status_code == 422 and response.json()["status_code"] == 422


async def test_unreadable_or_too_large_bodies_are_4xx_with_onyx_body_not_500(mock) -> None:
    # found by hypothesis: Content-Encoding: gzip on a body that is not gzip was a 500 (the read
    # raised in the handler), and a body over 1 MB a plain-text 413; then Content-Encoding: br a
    # plain-text 400 from aiohttp's parser (no Brotli installed). Like uvicorn, the mock never
    # decodes a request's Content-Encoding: the bytes as sent are the body.
    async with mock() as (_, client):
        labelled = await client.post("/chat/send-message", content=b"{}", headers={"content-encoding": "gzip"})
        assert labelled.status_code == 422 and labelled.json()["status_code"] == 422  # "{}" lacks the keys
        personas = await client.get("/persona", headers={"content-encoding": "br"})
        assert personas.status_code == 200 and isinstance(personas.json(), list)
        gzipped = await client.post("/chat/create-chat-session", headers={"content-encoding": "gzip"},
                                    content=gzip.compress(b'{"persona_id": 0}'))
        assert gzipped.status_code == 422 and gzipped.json()["status_code"] == 422  # not JSON as sent
        large = await client.post("/chat/send-message", content=b"x" * 2_000_000)
        assert large.status_code == 413 and "detail" in large.json()
        newline = await client.get("/user/folder/%0A")  # aiohttp's router used to answer "404: Not Found"
        assert newline.status_code == 422 and newline.json()["status_code"] == 422


async def test_personas_include_a_default_one(mock) -> None:
    async with mock() as (_, client):
        personas = (await client.get("/persona")).json()
        assert {"id", "name", "is_default_persona"} <= set(personas[0])
        assert [p["id"] for p in personas if p["is_default_persona"]] == [0]


async def test_create_chat_session_and_its_errors(mock) -> None:
    async with mock() as (_, client):
        created = await client.post("/chat/create-chat-session", json={"persona_id": 0, "description": "d"})
        assert len(created.json()["chat_session_id"]) == 36
        unknown = await client.post("/chat/create-chat-session", json={"persona_id": 99})
        assert (unknown.status_code, unknown.json()) == (400, {"detail": "Invalid Persona provided."})
        wrong_type = await client.post("/chat/create-chat-session", json={"persona_id": "x"})
        assert wrong_type.status_code == 422 and "persona_id" in wrong_type.json()["message"]
        not_json = await client.post("/chat/create-chat-session", content=b"{nope")
        assert not_json.status_code == 422


async def test_simple_api_is_404_unless_enterprise(mock) -> None:
    async with mock() as (_, client):
        response = await client.post("/chat/send-message-simple-api", json={})
        assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    async with mock(enterprise=True) as (_, client):
        session = await new_session(client)
        answered = await client.post("/chat/send-message-simple-api",
                                     json={"chat_session_id": session, "message": "Summarize."})
        assert answered.status_code == 200 and answered.json()["answer"]


async def test_send_message_streams_ndjson_packets_in_onyx_order(mock) -> None:
    async with mock(latency={"send_message": "fixed(5)"}, piece_interval_s=1.0) as (_, client):
        session = await new_session(client)
        async with client.stream("POST", "/chat/send-message", json=send_message_body(session)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers.get("transfer-encoding") == "chunked"
            lines = [line async for line in response.aiter_lines() if line]
    assert not any(line.startswith("data:") for line in lines)
    packets = [json.loads(line) for line in lines]
    assert set(packets[0]) == {"user_message_id", "reserved_assistant_message_id"}
    pieces = [p["answer_piece"] for p in packets[1:-2]]
    assert len(pieces) == 5 and all(pieces)
    assert packets[-2] == {"agentic_message_ids": []}
    final = packets[-1]
    assert final["message"] == "".join(pieces) and final["message_type"] == "assistant"
    assert final["chat_session_id"] == session and final["error"] is None


@pytest.mark.parametrize(("change", "words"), [
    ({"message": None}, "message"),
    ({"retrieval_options": None}, "Either search_doc_ids or retrieval_options"),
    ({"chat_session_id": "not-a-uuid"}, "chat_session_id"),
])
async def test_send_message_validation_is_onyx_422(mock, change: dict, words: str) -> None:
    async with mock() as (_, client):
        session = await new_session(client)
        body = send_message_body(session, **change)
        response = await client.post("/chat/send-message", json=body)
        assert response.status_code == 422
        assert set(response.json()) == {"status_code", "message", "data"}
        assert words in response.json()["message"]


async def test_send_message_requires_the_keys_even_when_null(mock) -> None:
    async with mock() as (_, client):
        body = send_message_body(await new_session(client))
        del body["prompt_id"]
        response = await client.post("/chat/send-message", json=body)
        assert response.status_code == 422 and "prompt_id" in response.json()["message"]


async def test_unknown_session_or_file_gives_an_error_packet_with_status_200(mock) -> None:
    async with mock(files={"missing": [66]}) as (_, client):
        stray = await client.post("/chat/send-message",
                                  json=send_message_body("00000000-0000-0000-0000-000000000000"))
        assert stray.status_code == 200 and "does not exist" in json.loads(stray.text)["error"]
        missing = await client.post("/chat/send-message",
                                    json=send_message_body(await new_session(client), [66]))
        assert "not found" in json.loads(missing.text)["error"]


async def test_folders_hold_configured_files_with_a_share_not_indexed(mock) -> None:
    async with mock(folders={"count": 2, "files": 10, "not_indexed_share": 0.3, "missing": [7]}) as (_, client):
        folder = (await client.get("/user/folder/4")).json()
        assert {"id", "name", "description", "files", "created_at", "user_id", "assistant_ids",
                "token_count"} <= set(folder)
        statuses = [f["status"] for f in folder["files"]]
        assert len(statuses) == 10 and statuses.count("INDEXED") == 7
        assert set(statuses) <= {"FAILED", "INDEXING", "INDEXED", "REINDEXING"}
        assert all(f["id"] > FOLDER_FILE_BASE and f["folder_id"] == 4 for f in folder["files"])
        assert [f["id"] for f in (await client.get("/user/folder")).json()] == [1, 2]
        gone = await client.get("/user/folder/7")
        assert (gone.status_code, gone.json()) == (404, {"detail": "Folder not found"})
        assert (await client.get("/user/folder/abc")).status_code == 422


@pytest.mark.parametrize(("headers", "cookies", "status"), [
    ({}, {}, 403),
    ({"Authorization": "Bearer not-an-onyx-key"}, {}, 403),
    ({"Authorization": "Bearer on_abc123"}, {}, 200),
    ({}, {"fastapiusersauth": "session-token"}, 200),
])
async def test_auth_when_required(mock, headers: dict, cookies: dict, status: int) -> None:
    async with mock(require_auth=True) as (server, _):
        async with httpx.AsyncClient(base_url=server.url, headers=headers, cookies=cookies) as client:
            response = await client.get("/persona")
    assert response.status_code == status
    if status == 403:
        assert response.json() == {"detail": "Access denied. User is not authenticated."}


async def test_unknown_paths_and_methods(mock) -> None:
    async with mock() as (_, client):
        assert (await client.get("/nope")).status_code == 404
        assert (await client.post("/persona")).status_code == 405


async def test_stats_count_requests_peaks_and_attempts_and_reset_clears_them(mock) -> None:
    async with mock() as (_, client):
        for _ in range(2):
            await client.get("/user/file/indexing-status", params={"file_ids": 5})
        await client.get("/user/folder/1")
        stats = (await client.get("/_mock/stats")).json()
        assert stats["requests"]["indexing_status"] == {"200": 2}
        assert stats["attempts"]["indexing_status"] == {"file:5": 2}
        assert stats["peak_in_flight"]["total"] == 1 and stats["in_flight"]["total"] == 0
        assert (await client.post("/_mock/reset")).json() == {"reset": True}
        assert (await client.get("/_mock/stats")).json()["requests"] == {}
