"""The mock served in-process: an httpx transport over the same ``OnyxModel`` the aiohttp app uses.

No sockets: a request becomes a ``MockRequest``, the model answers with the same reply plan, and
the same reply player (``mock_onyx.player``) plays it on the ``SimClock`` (on a virtual-time loop
a 22 s stream takes no wall time).
Faults read as they do on the wire: a cut stream raises httpx's ``RemoteProtocolError`` ("peer
closed connection without sending complete message body"), a hang never answers. A crashed server
(``mock_onyx.capacity``) reads as it does over sockets: a request it drops before answering raises
``RemoteProtocolError`` ("Server disconnected without sending a response."), and while it is down
a request raises ``ConnectError`` ("All connection attempts failed"), as httpx's own transport
says of a refused connection.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import httpx

from mock_onyx.clock import SimClock
from mock_onyx.model import MockRequest, OnyxModel
from mock_onyx.player import Body, Cut, Data, Event, Head, play
from mock_onyx.stats import RUN_HEADER, UNLABELLED

CUT_MESSAGE = "peer closed connection without sending complete message body (incomplete chunked read)"
DROPPED_MESSAGE = "Server disconnected without sending a response."
REFUSED_MESSAGE = "All connection attempts failed"


class InProcessTransport(httpx.AsyncBaseTransport):
    def __init__(self, model: OnyxModel, clock: SimClock) -> None:
        self.model = model
        self.clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        arrival = self.clock.now()
        capacity = self.model.capacity
        if capacity is not None and capacity.refuses(arrival, request.headers.get(RUN_HEADER, UNLABELLED)):
            raise httpx.ConnectError(REFUSED_MESSAGE, request=request)
        body = await request.aread()
        outcome = self.model.handle(MockRequest(
            method=request.method, path=request.url.path,
            query=tuple(request.url.params.multi_items()),
            headers={name.lower(): value for name, value in request.headers.items()},
            cookies=_cookies(request.headers.get("cookie", "")), body=body))
        events = play(outcome, self.clock, arrival, self.model.stats, capacity)
        first = await anext(events)
        if isinstance(first, Cut):  # the server crashed before answering
            await events.aclose()
            raise httpx.RemoteProtocolError(DROPPED_MESSAGE, request=request)
        if isinstance(first, Head):
            return httpx.Response(first.status, request=request,
                                  headers={**first.headers, "content-type": first.content_type,
                                           "transfer-encoding": "chunked"},
                                  stream=_PlayedStream(events))
        assert isinstance(first, Body)  # a play starts with a whole body or a stream's head
        await anext(events, None)  # the player finishes: the reply has ended
        return _body_response(request, first.status, first.body,
                              {**first.headers, "content-type": first.content_type})


class _PlayedStream(httpx.AsyncByteStream):
    """A stream reply's chunks as the player yields them; closing it early is a disconnect."""

    def __init__(self, events: AsyncGenerator[Event, None]) -> None:
        self._events = events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        cut = False
        try:
            async for event in self._events:
                if isinstance(event, Data):
                    yield event.data
                cut = cut or isinstance(event, Cut)
        finally:
            await self._events.aclose()
        if cut:
            raise httpx.RemoteProtocolError(CUT_MESSAGE)

    async def aclose(self) -> None:
        await self._events.aclose()


def _body_response(request: httpx.Request, status: int, body: bytes,
                   headers: dict[str, str]) -> httpx.Response:
    """A whole body, delivered as a stream the client reads and closes, as over a socket."""
    return httpx.Response(status, request=request, stream=httpx.ByteStream(body),
                          headers={"content-type": "application/json", **headers,
                                   "content-length": str(len(body))})


def _cookies(header: str) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in header.split(";") if "=" in part)
    return {name: value for name, _, value in pairs}
