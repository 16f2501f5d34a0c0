"""Shared fixtures: the real mock server on an ephemeral loopback port, talked to with httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from mock_onyx import Profile, RunningServer, profile_from_mapping, running_server

# Wall seconds per simulated second in tests: a 22 s call takes 88 ms, and the extractor's
# shortest timeout (10 s to create a chat session) is 40 ms of wall time, which a loaded 2-core
# machine does not overrun by accident (at 0.001 it did).
FAST_SCALE = 0.004


def make_profile(**table: Any) -> Profile:
    table.setdefault("time_scale", FAST_SCALE)
    return profile_from_mapping(table, "test profile")


@asynccontextmanager
async def mock_client(**table: Any) -> AsyncIterator[tuple[RunningServer, httpx.AsyncClient]]:
    """A running mock with ``table`` as its profile, and an httpx client pointed at it."""
    async with running_server(make_profile(**table)) as server, \
            httpx.AsyncClient(base_url=server.url, timeout=10.0) as client:
        yield server, client


@pytest.fixture
def mock() -> Callable[..., Any]:
    return mock_client


def send_message_body(session_id: str, file_ids: list[int] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "chat_session_id": session_id, "message": "Summarize this file.", "parent_message_id": None,
        "file_descriptors": [], "prompt_id": None, "search_doc_ids": None,
        "retrieval_options": {"run_search": "never", "real_time": False},
        "user_file_ids": file_ids if file_ids is not None else [12],
    }
    body.update(extra)
    return body


async def new_session(client: httpx.AsyncClient, description: str = "file 12") -> str:
    response = await client.post("/chat/create-chat-session",
                                 json={"persona_id": 0, "description": description})
    assert response.status_code == 200, response.text
    return str(response.json()["chat_session_id"])

