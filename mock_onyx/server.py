"""Run the mock: embedded (an async context manager on an ephemeral loopback port) or until a signal."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

from mock_onyx.aiohttp_app import build_app
from mock_onyx.clock import SimClock
from mock_onyx.model import OnyxModel
from mock_onyx.profile import Profile

LOOPBACK = "127.0.0.1"
# Wall seconds that live requests get to finish when the server stops; then they are cancelled.
SHUTDOWN_GRACE_S = 0.5
LISTEN_BACKLOG = 2048  # uvicorn's default, which Onyx's API server runs on (web.TCPSite's is 128: a burst of
# thousands of connections on a busy machine overflowed it, and the kernel, which drops the ACKs of
# connections it has no room for, let those in only as it retried, up to a minute later)
REOPEN_RETRY_S = 0.01  # wall seconds between tries to listen again after a crash


@dataclass(frozen=True)
class RunningServer:
    url: str
    model: OnyxModel
    clock: SimClock


@asynccontextmanager
async def running_server(profile: Profile, host: str = LOOPBACK, port: int = 0,
                         middlewares: Sequence[Middleware] = ()) -> AsyncIterator[RunningServer]:
    """Serve ``profile`` on ``host:port`` (port 0: an ephemeral one) for the block's duration,
    through ``middlewares`` (``mock_onyx.disguise``; none by default)."""
    model = OnyxModel(profile)
    clock = SimClock(profile.time_scale)
    app = build_app(model, clock)
    app.middlewares.extend(middlewares)
    # auto_decompress off: uvicorn (Onyx's server) never decodes a request's Content-Encoding, it
    # hands the bytes as sent to FastAPI; aiohttp's parser would decode them, and answer a plain-text
    # 400 before any handler runs to an encoding it cannot (br without Brotli installed).
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None,
                           shutdown_timeout=SHUTDOWN_GRACE_S, auto_decompress=False)
    await runner.setup()
    listener = _Listener(runner, host, port, clock)
    try:
        bound_host, bound_port = await listener.open()
        if model.capacity is not None:
            model.capacity.on_crash(listener.crash)
        shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield RunningServer(url=f"http://{shown_host}:{bound_port}", model=model, clock=clock)
    finally:
        listener.close()
        await runner.cleanup()


class _Listener:
    """The listening socket (what ``web.TCPSite`` opens), which a crash of the model closes, with
    every connection aborted, and opens again on the same port ``restart_s`` later: meanwhile a
    client's connection is refused ("All connection attempts failed"), as production's was."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, clock: SimClock) -> None:
        self._runner, self._host, self._port, self._clock = runner, host, port, clock
        self._server: asyncio.Server | None = None
        self._restart: asyncio.TimerHandle | None = None
        self._reopening: asyncio.Task[object] | None = None

    async def open(self) -> tuple[str, int]:
        assert self._runner.server is not None  # set up
        self._server = await asyncio.get_running_loop().create_server(
            self._runner.server, self._host, self._port, backlog=LISTEN_BACKLOG)
        bound_host, self._port = self._server.sockets[0].getsockname()[:2]  # a restart reuses it
        return bound_host, self._port

    def crash(self, restart_s: float) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        assert self._runner.server is not None
        for connection in self._runner.server.connections:
            if connection.transport is not None:
                connection.transport.abort()
        self._restart = asyncio.get_running_loop().call_later(self._clock.to_wall(restart_s),
                                                              self._reopen)

    def _reopen(self) -> None:
        self._reopening = asyncio.get_running_loop().create_task(self._open_again())

    async def _open_again(self) -> None:
        try:
            await self.open()
        except OSError:  # the port was taken meanwhile: try again shortly
            self._restart = asyncio.get_running_loop().call_later(REOPEN_RETRY_S, self._reopen)

    def close(self) -> None:
        for pending in (self._restart, self._reopening):
            if pending is not None:
                pending.cancel()
        if self._server is not None:
            self._server.close()
            self._server = None


async def serve_until_signalled(profile: Profile, host: str, port: int, announce: Callable[[str], None],
                                middlewares: Sequence[Middleware] = ()) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_server(profile, host, port, middlewares) as server:
        announce(f"listening on {server.url}")
        await stop.wait()
