"""Servers the benchmarks measure from outside, each in its own process (so its CPU is its own):

    python benchmarks/servers.py mock          the mock, every latency 0 (real mode, time scale 1)
    python benchmarks/servers.py bare FILE     a bare aiohttp handler answering every GET with FILE's
                                               bytes (the mock's /persona reply), as application/json

Prints its URL on one line, then serves until killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web

ZERO_LATENCY = {"time_scale": 1.0, "latency": {"default": "fixed(0)", "send_message": "fixed(0)"},
                "error_latency": "fixed(0)"}


async def serve_mock() -> None:
    from mock_onyx import profile_from_mapping, running_server
    async with running_server(profile_from_mapping(ZERO_LATENCY, "benchmark")) as server:
        print(server.url, flush=True)
        await asyncio.Event().wait()


async def serve_bare(body: bytes) -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve_mock() if sys.argv[1] == "mock" else serve_bare(Path(sys.argv[2]).read_bytes()))
