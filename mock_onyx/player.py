"""The one reply player: when each part of a reply happens, as events any server adapter translates.

``play`` walks a reply plan on the ``SimClock``, waiting to absolute deadlines measured from the
request's arrival, and yields each event at its simulated time:

    Body    a whole response (a ``BodyReply`` after its delay; a ``HangReply``'s 504 after its limit)
    Head    a stream's status and headers, at once
    Data    one chunk of a stream, at its ``at_s``
    End     the stream ends cleanly, at ``end_s``
    Cut     the connection drops mid-body, at ``end_s``; or, when the server crashes
            (``mock_onyx.capacity``), at the crash, mid-body or before any response

It also keeps the stats of routed requests: recorded on arrival, in flight until the player has
finished, and a disconnect if the consumer goes away first (closes the player or is cancelled).
An adapter therefore drives the player to its end, translating each event before asking for the
next: the stream's last write (or cut) happens while the request is still in flight.

With a server's ``Capacity`` (limits on), a routed request waits for a worker first, its plan
starts when one takes it and is stretched by its slowdown, and a crash cuts it at once: each
wait is the ticket's, which the crash wakes. One that finds the queue full (``queue_limit``) is a
``Body`` 503 at once, which every adapter already plays. Without one, the player is as cheap as it ever was.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from mock_onyx.capacity import Capacity, Ticket
from mock_onyx.clock import SimClock
from mock_onyx.replies import JSON_TYPE, BodyReply, HangReply, Outcome, json_bytes
from mock_onyx.stats import ServerStats

GATEWAY_TIMEOUT = json_bytes({"detail": "Gateway Timeout"})
SERVICE_UNAVAILABLE = json_bytes({"detail": "Service Unavailable"})  # a full queue (queue_limit)


@dataclass(frozen=True)
class Body:
    status: int
    headers: dict[str, str]
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Head:
    status: int
    headers: dict[str, str]
    content_type: str


@dataclass(frozen=True)
class Data:
    data: bytes


@dataclass(frozen=True)
class End:
    pass


@dataclass(frozen=True)
class Cut:
    pass


Event = Body | Head | Data | End | Cut


def play(outcome: Outcome, clock: SimClock, arrival: float, stats: ServerStats,
         capacity: Capacity | None = None) -> AsyncGenerator[Event, None]:
    """The events of ``outcome``'s reply, each at ``arrival`` plus its simulated time (with a
    ``capacity``: from when a worker takes it, stretched by its slowdown, cut by a crash)."""
    if capacity is None or outcome.endpoint is None:
        return _play(outcome, clock, arrival, stats)
    return _play_limited(outcome, clock, arrival, stats, capacity)


async def _play(outcome: Outcome, clock: SimClock, arrival: float,
                stats: ServerStats) -> AsyncGenerator[Event, None]:
    with _counted(outcome, stats):
        for at_s, event in timeline(outcome):
            if at_s is not None:
                await clock.sleep_until(arrival + at_s)
            yield event


async def _play_limited(outcome: Outcome, clock: SimClock, arrival: float, stats: ServerStats,
                        capacity: Capacity) -> AsyncGenerator[Event, None]:
    ticket = capacity.arrive(outcome, arrival)
    if ticket is None:  # the queue is full: shed at once, never in flight
        assert outcome.endpoint is not None  # routed (play() checked)
        stats.record(outcome.endpoint, 503, None, outcome.run)
        yield Body(503, {}, JSON_TYPE, SERVICE_UNAVAILABLE)
        return
    with _counted(outcome, stats, ticket):
        try:
            if await ticket.served():
                for at_s, event in timeline(outcome):
                    if at_s is not None:
                        await ticket.sleep_until(clock, at_s)
                    if ticket.crashed:
                        break
                    yield event
                else:
                    return
            yield Cut()  # the server crashed under it
        finally:
            capacity.leave(ticket, clock.now())


def timeline(outcome: Outcome) -> list[tuple[float | None, Event]]:
    """Each event of the reply with its time from arrival (None: at once, without waiting)."""
    reply = outcome.reply
    if isinstance(reply, BodyReply):
        headers = outcome.draw_headers
        headers.update(reply.headers)
        return [(reply.delay_s, Body(reply.status, headers, reply.content_type, reply.body))]
    if isinstance(reply, HangReply):
        return [(reply.limit_s, Body(504, {}, JSON_TYPE, GATEWAY_TIMEOUT))]
    return [(None, Head(reply.status, outcome.draw_headers, reply.content_type)),
            *((chunk.at_s, Data(chunk.data)) for chunk in reply.chunks),
            (reply.end_s, Cut() if reply.cut else End())]


class _counted:  # noqa: N801 (used as a context manager, like the function it replaced)
    """Record a routed request and count it in flight; a play stopped early is a disconnect
    (unless the server crashed under it: the crash counted it, and aborting its connection
    cancels the adapter). A class rather than ``@contextmanager``: a generator per request costs
    a measurable share of the mock's CPU at zero latency."""

    __slots__ = ("_outcome", "_stats", "_ticket")

    def __init__(self, outcome: Outcome, stats: ServerStats, ticket: Ticket | None = None) -> None:
        self._outcome, self._stats, self._ticket = outcome, stats, ticket

    def __enter__(self) -> None:
        outcome = self._outcome
        if outcome.endpoint is not None:
            self._stats.record(outcome.endpoint, outcome.status, outcome.fault, outcome.run)
            self._stats.enter(outcome.endpoint, outcome.run)

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        outcome = self._outcome
        if outcome.endpoint is None:
            return
        self._stats.leave(outcome.endpoint, outcome.run)
        # closed (GeneratorExit) or cancelled before the reply ended
        if kind is not None and (self._ticket is None or not self._ticket.crashed):
            self._stats.record_disconnect(outcome.endpoint, outcome.run)
