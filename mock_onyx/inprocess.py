"""The mock served in-process: an httpx transport over the same ``OnyxModel`` the aiohttp app uses.

No sockets: a request becomes a ``MockRequest``, the model answers with the same reply plan, and
the plan is played on the ``SimClock`` (on a virtual-time loop a 22 s stream takes no wall time).
Faults read as they do on the wire: a cut stream raises httpx's ``RemoteProtocolError`` ("peer
closed connection without sending complete message body"), a hang never answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import ExitStack

import httpx

from mock_onyx.clock import SimClock
from mock_onyx.model import MockRequest, OnyxModel
from mock_onyx.replies import BodyReply, HangReply, Outcome, Reply, StreamReply

CUT_MESSAGE = "peer closed connection without sending complete message body (incomplete chunked read)"


class InProcessTransport(httpx.AsyncBaseTransport):
    def __init__(self, model: OnyxModel, clock: SimClock) -> None:
        self.model = model
        self.clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        arrival = self.clock.now()
        body = await request.aread()
        outcome = self.model.handle(MockRequest(
            method=request.method, path=request.url.path,
            query=tuple(request.url.params.multi_items()),
            headers={name.lower(): value for name, value in request.headers.items()},
            cookies=_cookies(request.headers.get("cookie", "")), body=body))
        tracking = ExitStack()
        if outcome.endpoint is not None:
            self.model.stats.record(outcome.endpoint, outcome.status, outcome.fault, outcome.run)
            tracking.enter_context(self.model.stats.in_flight(outcome.endpoint, outcome.run))
        try:
            return await self._play(request, outcome, arrival, tracking)
        except BaseException:
            self._disconnected(outcome)
            tracking.close()
            raise

    async def _play(self, request: httpx.Request, outcome: Outcome, arrival: float,
                    tracking: ExitStack) -> httpx.Response:
        reply: Reply = outcome.reply
        headers = outcome.draw_headers
        if isinstance(reply, HangReply):
            await self.clock.sleep_until(arrival + reply.limit_s)
            tracking.close()
            return _body_response(request, 504, b'{"detail":"Gateway Timeout"}', {})
        if isinstance(reply, BodyReply):
            await self.clock.sleep_until(arrival + reply.delay_s)
            tracking.close()
            return _body_response(request, reply.status, reply.body,
                                  {**headers, **dict(reply.headers), "content-type": reply.content_type})
        return httpx.Response(reply.status, request=request,
                              headers={**headers, "content-type": reply.content_type,
                                       "transfer-encoding": "chunked"},
                              stream=_PlannedStream(self, outcome, reply, arrival, tracking))

    def _disconnected(self, outcome: Outcome) -> None:
        if outcome.endpoint is not None:
            self.model.stats.record_disconnect(outcome.endpoint, outcome.run)


class _PlannedStream(httpx.AsyncByteStream):
    """A stream reply played chunk by chunk on the clock; in flight until played or closed."""

    def __init__(self, transport: InProcessTransport, outcome: Outcome, reply: StreamReply,
                 arrival: float, tracking: ExitStack) -> None:
        self._transport = transport
        self._outcome = outcome
        self._reply = reply
        self._arrival = arrival
        self._tracking = tracking
        self._finished = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        clock = self._transport.clock
        try:
            for chunk in self._reply.chunks:
                await clock.sleep_until(self._arrival + chunk.at_s)
                yield chunk.data
            await clock.sleep_until(self._arrival + self._reply.end_s)
        except (asyncio.CancelledError, GeneratorExit):
            self._close(disconnected=True)
            raise
        self._close(disconnected=False)
        if self._reply.cut:
            raise httpx.RemoteProtocolError(CUT_MESSAGE)

    async def aclose(self) -> None:
        self._close(disconnected=True)

    def _close(self, disconnected: bool) -> None:
        if self._finished:
            return
        self._finished = True
        if disconnected:
            self._transport._disconnected(self._outcome)
        self._tracking.close()


def _body_response(request: httpx.Request, status: int, body: bytes,
                   headers: dict[str, str]) -> httpx.Response:
    """A whole body, delivered as a stream the client reads and closes, as over a socket."""
    return httpx.Response(status, request=request, stream=httpx.ByteStream(body),
                          headers={"content-type": "application/json", **headers,
                                   "content-length": str(len(body))})


def _cookies(header: str) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in header.split(";") if "=" in part)
    return {name: value for name, _, value in pairs}
