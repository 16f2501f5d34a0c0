"""The calls a run against a target will make, known before it makes any: what ``--dry-run``
prints, what the confirmation counts, and what the caps (``--max-in-flight``, ``--max-calls``)
are checked against; then ``CappedTransport`` holds the run to the same caps as it goes.

Per item the extractor makes, one after another (``harness.extractor``): the indexing status (a
folder: the folder), the persona list (only until one answer is cached: the first wave of items
each ask), a chat session, the simple API (404 unless Onyx is an enterprise build) and the
streamed send-message. A healthy server gets 4 calls per item and the persona list once per item
of the first wave. At most, every chat is tried twice (an empty answer gets a softer prompt) and
every attempt of the retry policy makes them all again: 7 calls per attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

import httpx

from harness.limits import planned_in_flight
from harness.transports import InFlightCounter
from mock_onyx.errors import ConfigError

CALLS_PER_ITEM = 4
MOST_CALLS_PER_ATTEMPT = 7  # + the persona list, + a second chat (simple API and send-message)
CHATS_PER_ATTEMPT = 2
FILE_CALLS = ("GET /user/file/indexing-status?file_ids=ID", "GET /persona (until one answer is cached)",
              "POST /chat/create-chat-session", "POST /chat/send-message-simple-api (404 unless an enterprise "
              "build answers it)", "POST /chat/send-message (streamed; once more, softer, after an empty answer)")
FOLDER_CALLS = ("GET /user/folder/ID", *FILE_CALLS[1:])
NOT_SENT = "not sent"  # how a reason names a call that a cap held back (``CappedTransport``)


@dataclass(frozen=True)
class CallPlan:
    """One run's calls: a healthy server's count, and the most that retries and second chats make."""

    label: str  # "window=8 over 20 files"
    folders: int
    in_flight: int  # items at once, at most
    calls: int
    most_calls: int
    send_messages: int
    most_send_messages: int


def plan_calls(kind: str, size: int | None, files: int, folders: int, retry: str | None) -> CallPlan:
    """The plan of one run of strategy ``kind`` (``size``) over ``files`` and ``folders``."""
    from scenarios.policies import default_retry, parse_retry

    items = files + folders
    wave = planned_in_flight(kind, size, files, folders)
    attempts = parse_retry(retry or default_retry(kind)).max_attempts
    name = kind if size is None or kind == "sequential" else f"{kind}={size}"
    what = f"{files} files" + (f" + {folders} folders" if folders else "")
    return CallPlan(label=f"{name} over {what}", folders=folders, in_flight=wave,
                    calls=CALLS_PER_ITEM * items + min(wave, items),
                    most_calls=MOST_CALLS_PER_ATTEMPT * attempts * items,
                    send_messages=items, most_send_messages=CHATS_PER_ATTEMPT * attempts * items)


def bound(plans: Iterable[CallPlan], label: str) -> CallPlan:
    """A plan at least as large as each of ``plans`` in every count: for a run not chosen yet."""
    chosen = list(plans)
    return CallPlan(label, **{f.name: max(getattr(p, f.name) for p in chosen)
                              for f in fields(CallPlan) if f.name != "label"})


def check_caps(plans: Iterable[CallPlan], max_in_flight: int, max_calls: int) -> None:
    """Refuse, before any call, a run planned past a cap: more files in flight than
    ``max_in_flight``, or more calls than ``max_calls`` from a healthy server. A run whose retries
    could pass ``max_calls`` goes ahead: ``CappedTransport`` stops sending there."""
    for plan in plans:
        if plan.in_flight > max_in_flight:
            raise ConfigError("--max-in-flight", f"{plan.label} runs up to {plan.in_flight} files at once, over "
                              f"the cap of {max_in_flight}", f"give a size of at most {max_in_flight}, or "
                              f"--max-in-flight {plan.in_flight} if the server can take it")
        if plan.calls > max_calls:
            raise ConfigError("--max-calls", f"{plan.label} makes {plan.calls} calls, over the cap of {max_calls} "
                              f"per run", f"run fewer files, or give --max-calls {plan.calls}")


class CapReached(httpx.TransportError):
    """A call a cap held back: it was never sent."""


class CappedTransport(httpx.AsyncBaseTransport):
    """The transport of a run against a target, held to its caps: a call past ``max_calls``, or
    one that would put more than ``max_in_flight`` calls in flight, is not sent (``CapReached``:
    its item fails with a reason saying so). A file's calls go one after another, so calls in flight
    never exceed files in flight, which ``check_caps`` bounded: that cap is a guard. The harness's
    own questions to a mock (``/_mock/*``) are neither counted nor held."""

    def __init__(self, inner: httpx.AsyncBaseTransport, max_in_flight: int, max_calls: int) -> None:
        self._counter = InFlightCounter(inner)
        self.max_in_flight, self.max_calls = max_in_flight, max_calls
        self.sent = 0
        self.not_sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/_mock/"):
            return await self._counter.handle_async_request(request)
        if self.sent >= self.max_calls:
            self.not_sent += 1
            raise CapReached(f"{NOT_SENT}: the run reached --max-calls {self.max_calls}", request=request)
        if self._counter.in_flight >= self.max_in_flight:
            self.not_sent += 1
            raise CapReached(f"{NOT_SENT}: {self._counter.in_flight} calls were in flight "
                             f"(--max-in-flight {self.max_in_flight})", request=request)
        self.sent += 1
        return await self._counter.handle_async_request(request)

    async def aclose(self) -> None:
        await self._counter.aclose()
