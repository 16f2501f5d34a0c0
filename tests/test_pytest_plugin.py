"""The pytest plugin (mock_onyx.pytest_plugin, a pytest11 entry point): a user's own test file,
written only against the public fixtures, passes; production-style code runs unchanged on virtual time."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_aiohttp import AiohttpTransport

pytest_plugins = ["pytester"]

# As a user's project would configure it; looptime's own plugins are off here as in this project.
USER_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
addopts = --strict-markers -p no:looptime_plugin -p no:looptime_chronometers -p no:looptime_timeproxies -p no:cacheprovider
filterwarnings = error
"""

USER_TESTS = '''
import asyncio
import time

import httpx
import pytest


def test_sync_client(mock_onyx):
    response = httpx.get(mock_onyx.url + "/persona")
    assert response.status_code == 200
    assert response.json()[0]["is_default_persona"]
    assert mock_onyx.stats()["requests"]["persona"] == {"200": 1}
    mock_onyx.reset()
    assert mock_onyx.stats()["requests"] == {}
    assert mock_onyx.profile.time_scale == 0.01


async def test_async_client(mock_onyx):
    async with httpx.AsyncClient(base_url=mock_onyx.url + "/api") as client:
        created = await client.post("/chat/create-chat-session",
                                    json={"persona_id": 0, "description": "file 12"})
    assert created.status_code == 200
    assert created.json()["chat_session_id"]


@pytest.mark.mock_onyx(faults={"persona": {"http_503": 1.0}}, seed=5)
def test_marker_profile(mock_onyx):
    assert httpx.get(mock_onyx.url + "/persona").status_code == 503
    assert mock_onyx.profile.seed == 5


@pytest.mark.parametrize("mock_onyx", [{"faults": {"persona": {"http_500": 1.0}}}], indirect=True)
def test_indirect_profile(mock_onyx):
    assert httpx.get(mock_onyx.url + "/persona").status_code == 500


def test_factory(mock_onyx_factory):
    healthy = mock_onyx_factory()
    broken = mock_onyx_factory(faults={"persona": {"http_429": 1.0}})
    assert healthy.url != broken.url
    assert httpx.get(healthy.url + "/persona").status_code == 200
    assert httpx.get(broken.url + "/persona").status_code == 429


@pytest.mark.mock_onyx(route_all=True)
def test_route_all_real(mock_onyx):
    # code that knows nothing of the mock: its own client, its own host
    with httpx.Client(base_url="https://onyx.example.com/api") as client:
        assert client.get("/persona").status_code == 200
    assert mock_onyx.stats()["requests"]["persona"] == {"200": 1}


@pytest.mark.mock_onyx(latency={"create_chat_session": "fixed(30)"})
async def test_virtual_async(mock_onyx_virtual):
    started = time.perf_counter()
    response = await mock_onyx_virtual.client.post(
        "/chat/create-chat-session", json={"persona_id": 0, "description": "file 1"})
    assert response.status_code == 200
    assert asyncio.get_running_loop().time() == pytest.approx(30.0, abs=0.01)
    assert time.perf_counter() - started < 5.0


@pytest.mark.mock_onyx(latency={"persona": "fixed(12)"}, patch_time=True)
def test_virtual_sync(mock_onyx_virtual):
    async def fetch():
        before = time.time()
        response = await mock_onyx_virtual.client.get("/persona")
        return response.status_code, time.time() - before

    status, elapsed = mock_onyx_virtual.run(fetch())
    assert status == 200
    assert elapsed == pytest.approx(12.0, abs=0.01)
'''


def test_a_users_test_file_passes(pytester: pytest.Pytester) -> None:
    pytester.makeini(USER_INI)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=8)


def test_the_plugin_is_inert_without_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makeini(USER_INI)
    pytester.makepyfile(test_plain="""
        import sys

        def test_nothing_heavy_imported():
            assert "mock_onyx.pytest_plugin" in sys.modules
            assert "mock_onyx.server" not in sys.modules
            assert "aiohttp" not in sys.modules
    """)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1)


# Bound before any test: patch_time leaves a function bound earlier alone (the real wall clock).
WALL_CLOCK = time.perf_counter


@pytest.mark.mock_onyx(route_all=True)
async def test_route_all_reaches_a_client_on_another_transport(mock_onyx: Any) -> None:
    # httpx over aiohttp (the harness's own stack), not one of httpx's default transports
    async with httpx.AsyncClient(base_url="https://onyx.example.com/api", transport=AiohttpTransport()) as client:
        assert (await client.get("/persona")).status_code == 200
    assert mock_onyx.stats()["requests"]["persona"] == {"200": 1}


@pytest.mark.mock_onyx(route_all=True, patch_time=True, latency={"persona": "fixed(20)"})
async def test_virtual_routing_and_every_clock_follow_virtual_time(mock_onyx_virtual: Any) -> None:
    started = {name: getattr(time, name)() for name in ("time", "monotonic", "perf_counter")}
    wall = WALL_CLOCK()
    # a client on a transport of its own is served in-process too: no socket, no wall time
    async with httpx.AsyncClient(base_url="https://onyx.example.com/api", transport=AiohttpTransport()) as client:
        assert (await client.get("/persona")).status_code == 200
    for name, before in started.items():
        assert getattr(time, name)() - before == pytest.approx(20.0, abs=1e-6), name
    assert time.monotonic_ns() - int(started["monotonic"] * 1e9) == pytest.approx(20e9, rel=1e-6)
    assert mock_onyx_virtual.stats()["requests"]["persona"] == {"200": 1}
    assert WALL_CLOCK() - wall < 5.0
    with pytest.raises(RuntimeError, match="async clients only"):
        httpx.Client(base_url="https://onyx.example.com").get("/persona")


# The test: an extraction function as production writes it (its own client per call, no
# client from outside, batches through asyncio.wait with a 10 s heartbeat), run unchanged.
ONYX = "https://onyx.internal.example.com/api"
HEARTBEAT_S = 10.0
BATCH = 5


async def extract_file(file_id: int) -> str:
    async with httpx.AsyncClient(base_url=ONYX, timeout=60.0) as client:
        personas = (await client.get("/persona")).json()
        session = (await client.post("/chat/create-chat-session", json={
            "persona_id": personas[0]["id"], "description": f"file {file_id}"})).json()
        body = {"chat_session_id": session["chat_session_id"], "message": "Summarize this file.",
                "parent_message_id": None, "file_descriptors": [], "prompt_id": None,
                "search_doc_ids": None, "retrieval_options": {"run_search": "never", "real_time": False},
                "user_file_ids": [file_id]}
        pieces, complete = [], False
        async with client.stream("POST", "/chat/send-message", json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.strip():
                    packet = json.loads(line)
                    pieces.append(packet.get("answer_piece") or "")
                    complete = complete or "message_id" in packet
        assert complete
        return "".join(pieces)


async def extract_all(file_ids: list[int], heartbeat: Any) -> dict[int, str]:
    results: dict[int, str] = {}
    for start in range(0, len(file_ids), BATCH):
        batch_started = time.time()  # production's own "elapsed" messages read the wall clock
        tasks = {asyncio.create_task(extract_file(f)): f for f in file_ids[start:start + BATCH]}
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, timeout=HEARTBEAT_S)
            for task in done:
                results[tasks[task]] = task.result()
            if pending:
                heartbeat(len(results), time.time() - batch_started)
    return results


@pytest.mark.mock_onyx(route_all=True, patch_time=True, seed=42,
                       latency={"send_message": "uniform(15, 30)"})
async def test_production_style_extraction_on_virtual_time(mock_onyx_virtual: Any) -> None:
    loop = asyncio.get_running_loop()
    beats: list[float] = []  # virtual time of each heartbeat
    elapsed: list[float] = []  # what the code itself measured with time.time()
    wall, clock = WALL_CLOCK(), time.time()
    results = await extract_all(list(range(1, 11)),
                                lambda done, since: (beats.append(loop.time()), elapsed.append(since)))
    wall = WALL_CLOCK() - wall

    assert sorted(results) == list(range(1, 11))
    assert all(text for text in results.values())
    stats = mock_onyx_virtual.stats()
    assert stats["requests"]["send_message"] == {"200": 10}
    assert stats["attempts"]["send_message"] == {f"file:{i}": 1 for i in range(1, 11)}
    # Two batches of 15-30 s chats: heartbeats every 10 simulated seconds within each batch.
    makespan = loop.time()
    assert 30.0 <= makespan <= 61.0
    assert len(beats) >= 2
    # each heartbeat 10, 20, ... s into its batch (time.time() follows the virtual clock) ...
    for since in elapsed:
        assert since == pytest.approx(HEARTBEAT_S * round(since / HEARTBEAT_S), abs=1e-6), elapsed
        assert round(since / HEARTBEAT_S) in (1, 2, 3), elapsed
    # ... and on the loop's clock: the first at 10 s, none closer than 10 s to the previous one
    assert beats[0] == pytest.approx(HEARTBEAT_S, abs=1e-6)
    gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
    assert all(gap >= HEARTBEAT_S - 1e-6 for gap in gaps), beats
    assert time.time() - clock == pytest.approx(makespan, abs=0.01)  # patch_time: time.time() is virtual
    assert wall < 1.0


# The README's example, run against a stand-in for the user's module.
USER_EXTRACTOR = '''
import asyncio

import httpx


async def extract_one(file_id):
    async with httpx.AsyncClient(base_url="https://onyx.example.com/api", timeout=60.0) as client:
        session = (await client.post("/chat/create-chat-session",
                                     json={"persona_id": 0, "description": f"file {file_id}"})).json()
        body = {"chat_session_id": session["chat_session_id"], "message": "Summarize.",
                "parent_message_id": None, "file_descriptors": [], "prompt_id": None,
                "search_doc_ids": None, "retrieval_options": {"run_search": "never", "real_time": False},
                "user_file_ids": [file_id]}
        for _ in range(5):
            async with client.stream("POST", "/chat/send-message", json=body) as response:
                if response.status_code == 200:
                    return "".join([line async for line in response.aiter_lines()])
            await asyncio.sleep(2)
        raise RuntimeError(f"file {file_id} failed")


async def extract_all(file_ids):
    return await asyncio.gather(*(extract_one(f) for f in file_ids))
'''


def test_the_readme_example_passes(pytester: pytest.Pytester) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Testing your own client with pytest"):]
    example = section[section.index("```python\n") + len("```python\n"):section.index("\n```\n")]
    assert len(example.strip().splitlines()) <= 10
    pytester.makeini(USER_INI)
    pytester.mkpydir("myapp")
    pytester.path.joinpath("myapp", "extract.py").write_text(USER_EXTRACTOR)
    pytester.makepyfile(test_readme_example=example)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1)
