"""The aiohttp adapter: turns HTTP requests into ``MockRequest``s and plays the model's replies.

It holds no Onyx knowledge: one catch-all route hands everything to ``OnyxModel.handle``, then
writes and cuts as the reply player's events say, each when the player yields it on the app's
``SimClock``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from mock_onyx.clock import SimClock
from mock_onyx.model import MockRequest, OnyxModel
from mock_onyx.player import Body, Cut, Data, Event, Head, play
from mock_onyx.stats import RUN_HEADER, UNLABELLED

def _handler(model: OnyxModel, clock: SimClock) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The one route's handler, bound to its model and clock (a closure: no app lookups per request)."""
    capacity = model.capacity

    async def serve(request: web.Request) -> web.StreamResponse:
        arrival = clock.now()
        if capacity is not None and capacity.refuses(arrival, request.headers.get(RUN_HEADER, UNLABELLED)):
            # Down: its listener is closed and its connections aborted (mock_onyx.server); this
            # request got in just before, and is dropped unanswered.
            return _dropped(request)
        headers = request.headers
        try:
            body = await request.read() if request.body_exists else b""
        except RequestPayloadError:  # a body the transfer cannot deliver (a broken chunked encoding): FastAPI's 400
            return web.json_response({"detail": "There was an error parsing the body"}, status=400)
        except web.HTTPRequestEntityTooLarge as error:  # over client_max_size (1 MB): Onyx's error body
            return web.json_response({"detail": error.reason}, status=error.status)
        outcome = model.handle(MockRequest(
            method=request.method,
            path=request.path,
            query=tuple(request.query.items()) if request.query_string else (),
            headers=headers,  # case-insensitive: the model reads lower-case names
            cookies=request.cookies if "cookie" in headers else {},
            body=body,
        ))
        async with aclosing(play(outcome, clock, arrival, model.stats, capacity)) as events:
            response: web.StreamResponse | None = None
            async for event in events:
                response = await _write(request, response, event)
        # Every play starts with a Body or a Head, unless the server crashed before answering.
        return response if response is not None else _dropped(request)
    return serve


def _dropped(request: web.Request) -> web.StreamResponse:
    """No answer: the connection is aborted (what aiohttp then tries to send goes nowhere)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=503)


async def _write(request: web.Request, response: web.StreamResponse | None,
                 event: Event) -> web.StreamResponse | None:
    """Translate one event of the player; returns the response it belongs to (None: none yet)."""
    if isinstance(event, Body):
        return web.Response(status=event.status, body=event.body, headers=event.headers,
                            content_type=event.content_type)
    if isinstance(event, Head):
        stream = web.StreamResponse(status=event.status, headers=event.headers)
        stream.content_type = event.content_type
        stream.enable_chunked_encoding()
        await stream.prepare(request)
        return stream
    if isinstance(event, Cut):
        # Drop the connection before the terminating chunk: "peer closed connection without
        # sending complete message body" on the client (before any response, after a crash:
        # "Server disconnected").
        if request.transport is not None:
            request.transport.abort()
        return response
    assert response is not None
    if isinstance(event, Data):
        await response.write(event.data)
    else:
        await response.write_eof()
    return response


def build_app(model: OnyxModel, clock: SimClock) -> web.Application:
    app = web.Application()
    # [\s\S], not ".": a path with a newline in it (/user/folder/%0A) reaches the model too
    app.router.add_route("*", r"/{tail:[\s\S]*}", _handler(model, clock))
    return app
