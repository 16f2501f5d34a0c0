"""Run the mock: embedded (an async context manager on an ephemeral loopback port) or until a signal."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from mock_onyx.aiohttp_app import build_app
from mock_onyx.clock import SimClock
from mock_onyx.model import OnyxModel
from mock_onyx.profile import Profile

LOOPBACK = "127.0.0.1"
# Wall seconds that live requests get to finish when the server stops; then they are cancelled.
SHUTDOWN_GRACE_S = 0.5


@dataclass(frozen=True)
class RunningServer:
    url: str
    model: OnyxModel
    clock: SimClock


@asynccontextmanager
async def running_server(profile: Profile, host: str = LOOPBACK, port: int = 0) -> AsyncIterator[RunningServer]:
    """Serve ``profile`` on ``host:port`` (port 0: an ephemeral one) for the block's duration."""
    model = OnyxModel(profile)
    clock = SimClock(profile.time_scale)
    runner = web.AppRunner(build_app(model, clock), handler_cancellation=True, access_log=None,
                           shutdown_timeout=SHUTDOWN_GRACE_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield RunningServer(url=f"http://{shown_host}:{bound_port}", model=model, clock=clock)
    finally:
        await runner.cleanup()


async def serve_until_signalled(profile: Profile, host: str, port: int,
                                announce: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_server(profile, host, port) as server:
        announce(f"listening on {server.url}")
        await stop.wait()
