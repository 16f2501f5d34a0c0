"""The harness's ``httpx.AsyncClient``: which transport carries it, and what it counts.

The extractor is written against httpx's API, as the production backend is. Its transport is a
choice, because the stock one costs real wall time at high concurrency (shared/client-stack.md:
~1.7 s extra at 100 in flight, which a time scale of 0.01 magnifies into 170 simulated seconds):

    aiohttp   httpx over aiohttp (httpx-aiohttp): the default; within 2x of a bare aiohttp client
    httpx     httpx's stock transport: what production runs, to reproduce its own overhead

Neither caps connections (a cap would silently queue requests and distort concurrency), and
neither times out by itself: the extractor enforces its per-operation timeouts on the sim clock.
Every client counts the HTTP requests it has in flight, from sending until the body is closed.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from harness.modes import TransportKind

UNLIMITED = httpx.Limits(max_connections=None, max_keepalive_connections=None)


@dataclass(frozen=True)
class Credentials:
    """Credentials for a real Onyx, read from the environment; never printed (``repr`` hides them)."""

    api_key: str | None = field(default=None, repr=False)
    session_cookie: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls) -> Credentials:
        return cls(api_key=os.environ.get("ONYX_API_KEY") or None,
                   session_cookie=os.environ.get("ONYX_SESSION_COOKIE") or None)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def cookies(self) -> dict[str, str]:
        return {"fastapiusersauth": self.session_cookie} if self.session_cookie else {}


class InFlightCounter(httpx.AsyncBaseTransport):
    """Wraps a transport and counts requests from sending until their body is closed."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.in_flight = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        if self.in_flight > self.peak:
            self.peak = self.in_flight
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self.in_flight -= 1
            raise
        response.stream = _Counted(response.stream, self)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Counted(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream | httpx.SyncByteStream, counter: InFlightCounter) -> None:
        self._inner = inner
        self._counter: InFlightCounter | None = counter

    def __aiter__(self) -> AsyncIterator[bytes]:
        # The inner stream's own iterator rather than a generator around it: counting needs only
        # aclose, and one async generator layer fewer per chunk is measurable at 100 in flight.
        assert isinstance(self._inner, httpx.AsyncByteStream)
        return self._inner.__aiter__()

    async def aclose(self) -> None:
        if self._counter is not None:
            self._counter.in_flight -= 1
            self._counter = None
        if isinstance(self._inner, httpx.AsyncByteStream):
            await self._inner.aclose()


class _SetCookieAwareCookies(httpx.Cookies):
    """``httpx.Cookies`` that hand a response to the cookie jar only when it sets a cookie.

    httpx extracts cookies from every response by rebuilding the request and the response headers as
    ``urllib`` and ``email`` objects for ``http.cookiejar``: ~40 us a response at 100 in flight, the
    largest step of httpx's per-request work that can be skipped, though the mock never sets a cookie
    and API responses rarely do. The jar makes no cookie from a response without ``Set-Cookie`` or
    ``Set-Cookie2`` headers, so skipping those changes nothing; one that sets a cookie still gets in.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


class _HarnessClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` whose cookies (given, set later or sent by the server) are kept in
    ``_SetCookieAwareCookies``; everything else is stock httpx."""

    def __init__(self, *, cookies: httpx.Cookies | dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cookies = cookies

    @property
    def cookies(self) -> httpx.Cookies:
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: httpx.Cookies | dict[str, str] | None) -> None:
        # Stored where httpx keeps its own, so that every httpx code path sees it.
        self._cookies = _SetCookieAwareCookies(cookies)


def _unlimited_aiohttp_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


def make_transport(kind: TransportKind) -> httpx.AsyncBaseTransport:
    if kind is TransportKind.AIOHTTP:
        return AiohttpTransport(limits=UNLIMITED, client=_unlimited_aiohttp_session)
    return httpx.AsyncHTTPTransport(limits=UNLIMITED)


@asynccontextmanager
async def harness_client(base_url: str, kind: TransportKind = TransportKind.AIOHTTP,
                         credentials: Credentials | None = None,
                         transport: httpx.AsyncBaseTransport | None = None,
                         headers: dict[str, str] | None = None,
                         ) -> AsyncIterator[tuple[httpx.AsyncClient, InFlightCounter]]:
    """An ``httpx.AsyncClient`` for ``base_url`` over ``kind`` (or over ``transport``, such as the
    mock served in-process), sending ``headers`` with every request, and its in-flight counter."""
    credentials = credentials or Credentials()
    counter = InFlightCounter(transport or make_transport(kind))
    async with _HarnessClient(base_url=base_url, transport=counter, timeout=None,
                              headers={**(headers or {}), **credentials.headers()},
                              cookies=credentials.cookies()) as client:
        yield client, counter
