"""The aiohttp adapter: turns HTTP requests into ``MockRequest``s and plays the model's replies.

It holds no Onyx knowledge: one catch-all route hands everything to ``OnyxModel.handle`` and then
waits, writes and cuts exactly as the reply plan says, on the app's ``SimClock``.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from mock_onyx.clock import SimClock
from mock_onyx.model import MockRequest, OnyxModel
from mock_onyx.replies import BodyReply, HangReply, Reply, StreamReply

MODEL_KEY = web.AppKey("model", OnyxModel)
CLOCK_KEY = web.AppKey("clock", SimClock)

routes = web.RouteTableDef()


@routes.route("*", "/{tail:.*}")
async def serve(request: web.Request) -> web.StreamResponse:
    model, clock = request.app[MODEL_KEY], request.app[CLOCK_KEY]
    arrival = clock.now()
    outcome = model.handle(MockRequest(
        method=request.method,
        path=request.path,
        query=tuple(request.query.items()),
        headers={name.lower(): value for name, value in request.headers.items()},
        cookies=dict(request.cookies),
        body=await request.read(),
    ))
    if outcome.endpoint is None:
        return await _play(request, outcome.reply, clock, arrival, {})
    model.stats.record(outcome.endpoint, outcome.status, outcome.fault, outcome.run)
    with model.stats.in_flight(outcome.endpoint, outcome.run):
        try:
            return await _play(request, outcome.reply, clock, arrival, outcome.draw_headers)
        except (asyncio.CancelledError, ConnectionError):
            model.stats.record_disconnect(outcome.endpoint, outcome.run)
            raise


async def _play(request: web.Request, reply: Reply, clock: SimClock, arrival: float,
                headers: dict[str, str]) -> web.StreamResponse:
    if isinstance(reply, BodyReply):
        await clock.sleep_until(arrival + reply.delay_s)
        response = web.Response(status=reply.status, body=reply.body,
                                headers={**headers, **dict(reply.headers)})
        response.content_type = reply.content_type
        return response
    if isinstance(reply, HangReply):
        await clock.sleep_until(arrival + reply.limit_s)
        return web.json_response({"detail": "Gateway Timeout"}, status=504)
    return await _stream(request, reply, clock, arrival, headers)


async def _stream(request: web.Request, reply: StreamReply, clock: SimClock, arrival: float,
                  headers: dict[str, str]) -> web.StreamResponse:
    response = web.StreamResponse(status=reply.status, headers=headers)
    response.content_type = reply.content_type
    response.enable_chunked_encoding()
    await response.prepare(request)
    for chunk in reply.chunks:
        await clock.sleep_until(arrival + chunk.at_s)
        await response.write(chunk.data)
    await clock.sleep_until(arrival + reply.end_s)
    if reply.cut and request.transport is not None:
        # Drop the connection before the terminating chunk: "peer closed connection without
        # sending complete message body" on the client.
        request.transport.abort()
        return response
    await response.write_eof()
    return response


def build_app(model: OnyxModel, clock: SimClock) -> web.Application:
    app = web.Application()
    app[MODEL_KEY] = model
    app[CLOCK_KEY] = clock
    app.add_routes(routes)
    return app
