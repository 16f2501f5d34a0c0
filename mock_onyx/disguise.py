"""What ``onyx-bench serve`` can pose as, so that a client's code path against a real Onyx can be
tested against the mock in a separate process (aiohttp middlewares; none is installed by default).

    as_real_onyx   ``/_mock/*`` answers 404 as any unknown route of Onyx does: a client that tells
                   a mock by its ``/_mock/profile`` (onyx-bench does) takes it for a real Onyx
    behind_proxy   as Onyx behind its nginx: only ``/api/*`` reaches the API, every other path is
                   the web app's 404 page (HTML), so a client must find the API under ``/api``.
                   ``/_mock/*`` still answers, unless the mock also poses as a real Onyx
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

NOT_FOUND = {"detail": "Not Found"}
# What Onyx's Next.js web app answers for a path it has no page for (its status and shape).
WEB_APP_404 = ("<!DOCTYPE html><html><head><title>404: This page could not be found.</title></head>"
               "<body><h1>404</h1><h2>This page could not be found.</h2></body></html>")
ADMIN_PREFIX = "/_mock/"
API_PREFIX = "/api/"


def disguises(as_real_onyx: bool = False, behind_proxy: bool = False) -> list[Middleware]:
    """The middlewares for these poses (an empty list: the mock as it is)."""
    if behind_proxy:
        return [_web_proxy(admin=not as_real_onyx)]
    return [_hide_admin] if as_real_onyx else []


@web.middleware
async def _hide_admin(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(ADMIN_PREFIX):
        return web.json_response(NOT_FOUND, status=404)
    return await handler(request)


def _web_proxy(admin: bool) -> Middleware:
    @web.middleware
    async def web_proxy(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(API_PREFIX) or (admin and request.path.startswith(ADMIN_PREFIX)):
            return await handler(request)
        return web.Response(status=404, text=WEB_APP_404, content_type="text/html")

    return web_proxy
