"""A short end-to-end check: the mock embedded, real HTTP requests, timings against the model."""

from __future__ import annotations

import asyncio
import json

import httpx

from mock_onyx import Endpoint, Profile, SimClock, running_server


async def _summarize(client: httpx.AsyncClient, clock: SimClock, file_id: int) -> tuple[float, int]:
    created = await client.post("/chat/create-chat-session",
                                json={"persona_id": 0, "description": f"onyx-bench file {file_id}"})
    body = {"chat_session_id": created.json()["chat_session_id"], "message": "Summarize this file.",
            "parent_message_id": None, "file_descriptors": [], "prompt_id": None,
            "search_doc_ids": None, "retrieval_options": {"run_search": "never", "real_time": False},
            "user_file_ids": [file_id]}
    start = clock.now()
    async with client.stream("POST", "/chat/send-message", json=body) as response:
        packets = [json.loads(line) async for line in response.aiter_lines() if line.strip()]
    return clock.now() - start, len(packets)


async def run_demo(profile: Profile, files: int) -> list[str]:
    """Send ``files`` chats at once; report measured against drawn latency, in simulated seconds."""
    async with running_server(profile) as server, \
            httpx.AsyncClient(base_url=server.url, timeout=None) as client:
        ids = list(range(1, files + 1))
        results = await asyncio.gather(*(_summarize(client, server.clock, i) for i in ids))
        stats = (await client.get("/_mock/stats")).json()
    lines = [f"mock Onyx at {server.url}, time scale {profile.time_scale:g}, seed {profile.seed}",
             f"{'file':>6} {'drawn_s':>9} {'measured_s':>11} {'packets':>8}"]
    for file_id, (measured, packets) in zip(ids, results, strict=True):
        drawn = server.model.behaviour.latency_s(Endpoint.SEND_MESSAGE, f"file:{file_id}")
        lines.append(f"{file_id:>6} {drawn:>9.2f} {measured:>11.2f} {packets:>8}")
    lines.append(f"server peak in flight: {stats['peak_in_flight']['total']}")
    return lines
