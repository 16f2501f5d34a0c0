"""Turn an exception from any transport into an ``ErrorKind``.

The same server fault reads differently through each httpx transport (see shared/client-stack.md):
a refused connection is ``ConnectError`` on the stock transport but ``ConnectTimeout`` wrapping a
``ConnectionRefusedError`` on the aiohttp one; a cut stream is ``RemoteProtocolError`` or
``ReadError``; a connection dropped before any response (a crashed server) is
``RemoteProtocolError`` on the stock transport but ``ConnectTimeout`` wrapping aiohttp's
``ServerDisconnectedError`` on the aiohttp one, a reset, not a timeout. So the whole cause chain
is searched, most specific first.
"""

from __future__ import annotations

import errno
import json

import aiohttp
import httpx

from harness.outcomes import ErrorKind


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


# The harness's own machine running out: reported as the harness's, never as the server's
# (without this, "Too many open files" on connect reads as a refused or timed-out Onyx).
_HARNESS_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def classify(error: BaseException) -> ErrorKind:
    chain = _chain(error)
    if any(isinstance(e, OSError) and e.errno in _HARNESS_ERRNOS for e in chain):
        return ErrorKind.HARNESS_LIMIT
    if any(isinstance(e, ConnectionRefusedError | httpx.ConnectError) for e in chain):
        return ErrorKind.REFUSED
    if any(isinstance(e, aiohttp.ServerDisconnectedError) for e in chain):
        return ErrorKind.RESET
    if any(isinstance(e, TimeoutError | httpx.TimeoutException) for e in chain):
        return ErrorKind.TIMEOUT
    if any(isinstance(e, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError
                      | ConnectionResetError) for e in chain):
        return ErrorKind.RESET
    if any(isinstance(e, json.JSONDecodeError | UnicodeDecodeError) for e in chain):
        return ErrorKind.MALFORMED
    if any(isinstance(e, httpx.HTTPError) for e in chain):
        return ErrorKind.TRANSPORT
    return ErrorKind.INTERNAL


def status_kind(status_code: int) -> ErrorKind:
    return ErrorKind.RATE_LIMITED if status_code == 429 else ErrorKind.HTTP_STATUS
