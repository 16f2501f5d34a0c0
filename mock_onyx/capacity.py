"""The server's capacity: a pool of workers, chats that slow each other down, and a crash.

A profile's ``[capacity]`` (``mock_onyx.profile.CapacitySettings``), every key off by default;
a chat is a send-message call (one that passed validation):

    workers               at most this many requests in service at once (every endpoint); the
                          rest wait in arrival order, and a reply's plan starts when a worker
                          takes it, so its latency grows by the wait
    queue_limit           with ``workers``, at most this many wait: a request that finds the
                          queue full is answered at once with a 503 and Onyx's error body
                          (``{"detail": "Service Unavailable"}``), as an overloaded production
                          server sheds load, and counted in the stats' ``refused``; instead of
                          waiting, and growing the server's memory (off: the queue is unbounded)
    slowdown_knee,        a chat that starts with n chats in service, itself included, has its
    slowdown_per_chat     whole reply plan stretched by 1 + slowdown_per_chat x max(0, n - knee);
                          chats that start together (within ``TOGETHER_S`` of the first of them)
                          share one n, the count after the last of them: which of them the event
                          loop ran first must change nothing (a heartbeat's timers reorder
                          callbacks due at one instant), and on sockets a batch's chats arrive
                          milliseconds apart, where on virtual time they arrive at one instant
    crash_inflight        a chat that starts with more than this many chats in service crashes
                          the server
    crash_knee,           a softer cliff: a chat that starts with n > crash_knee chats in service
    crash_probability     crashes it with chance min(1, crash_probability x (n - crash_knee)),
                          drawn with ``unit_draw(seed, "crash", endpoint, key, attempt)``
    restart_s             after a crash, connections are refused for this long; then it serves

A crash cuts, at that instant, every request in the server (a stream mid-body, a reply not yet
sent, a request waiting for a worker) and empties it; until the restart, the adapters refuse
connections (the aiohttp server closes its listener and aborts its connections; the in-process
transport raises httpx's ``ConnectError``).

One ``Capacity`` per server, owned by ``OnyxModel``: None when no limit is on, and the reply
player then runs as if this module did not exist. With limits, the player takes a ``Ticket``
per routed request and waits through it, first for a worker, then for each event of the reply:
each wait is one future that its timer or a crash resolves (what ``asyncio.sleep`` costs), so a
crash cuts a stream at once, not at its next packet.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from mock_onyx.clock import SimClock
from mock_onyx.draws import unit_draw
from mock_onyx.endpoints import Endpoint
from mock_onyx.profile import CapacitySettings
from mock_onyx.replies import Outcome
from mock_onyx.stats import ServerStats

# Chats that start within this many simulated seconds of the first of them started together, and
# share the slowdown of their count. On sockets at time scale 0.05 a batch's chats arrive up to
# a few tens of milliseconds of wall time apart (the harness's per-call CPU), under 1 simulated s;
# a reply's first packet comes piece_interval_s (5 s) after its start, so a shared slowdown is
# settled before any packet is due.
TOGETHER_S = 1.0
# Slack when comparing a time with the restart instant: a client that waits exactly restart_s
# after a crash finds the server up, whatever the float rounding of the two clocks' sums.
RESTART_SLACK_S = 1e-9


class Ticket:
    """One routed request's passage through the server, in simulated seconds."""

    __slots__ = ("arrival_s", "crashed", "is_chat", "outcome", "serving", "slowdown", "start_s",
                 "_replanned", "_waiter")

    def __init__(self, outcome: Outcome, arrival_s: float) -> None:
        self.outcome = outcome
        self.arrival_s = arrival_s
        self.start_s = arrival_s  # when a worker took it: its reply plan starts there
        self.slowdown = 1.0  # the factor its reply plan is stretched by
        self.is_chat = outcome.endpoint is Endpoint.SEND_MESSAGE and outcome.draw is not None
        self.serving = False
        self.crashed = False
        self._replanned = False
        self._waiter: asyncio.Future[None] | None = None

    async def served(self) -> bool:
        """Wait until a worker takes the request; False if the server crashed first."""
        if not self.serving and not self.crashed:
            await self._wait(None)
        return not self.crashed

    async def sleep_until(self, clock: SimClock, at_s: float) -> bool:
        """Wait until ``clock`` reaches the reply plan's ``at_s`` (from its start, stretched by the
        slowdown, which a chat starting within ``TOGETHER_S`` may still change); False if the
        server has crashed."""
        while not self.crashed:
            self._replanned = False
            delay = clock.wall_delay(self.start_s + at_s * self.slowdown)
            if delay <= 0:
                break
            await self._wait(delay)
            if not self._replanned:
                break
        return not self.crashed

    def replan(self, slowdown: float) -> None:
        """Its slowdown changed before its plan got under way: wait again, to the new deadline."""
        if slowdown != self.slowdown:
            self.slowdown = slowdown
            self._replanned = True
            self.wake()

    def wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _wait(self, delay: float | None) -> None:
        """One future, resolved by its timer (after ``delay`` wall seconds) or by ``wake``."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None if delay is None else loop.call_later(delay, _resolve, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Capacity:
    """The state of one server's capacity: who is in service, who waits, whether it is down."""

    def __init__(self, settings: CapacitySettings, seed: int, stats: ServerStats) -> None:
        self.settings = settings
        self._seed = seed
        self._stats = stats
        self._live: dict[Ticket, None] = {}  # queued or in service, in arrival order
        self._queue: deque[Ticket] = deque()
        self._busy = 0
        self._chats = 0
        self._down_until_s: float | None = None
        self._starting_s: float | None = None  # when the first of the chats in ``_starting`` started
        self._starting: list[Ticket] = []
        self._crash_listeners: list[Callable[[float], None]] = []

    def on_crash(self, listener: Callable[[float], None]) -> None:
        """Call ``listener(restart_s)`` at each crash (the aiohttp server closes its listener)."""
        self._crash_listeners.append(listener)

    def refuses(self, now_s: float, run: str) -> bool:
        """Whether a connection at ``now_s`` is refused (the server is down); counts it if so."""
        if self._down_until_s is None:
            return False
        if now_s >= self._down_until_s - RESTART_SLACK_S:
            self._down_until_s = None
            return False
        self._stats.record_refused(run)
        return True

    def arrive(self, outcome: Outcome, arrival_s: float) -> Ticket | None:
        """A routed request arrives: served at once if a worker is free, else it queues; None
        (counted as refused) if the queue is full (``queue_limit``): the player answers a 503."""
        settings = self.settings
        free = settings.workers is None or self._busy < settings.workers
        if not free and settings.queue_limit is not None and len(self._queue) >= settings.queue_limit:
            self._stats.record_refused(outcome.run)
            return None
        ticket = Ticket(outcome, arrival_s)
        self._live[ticket] = None
        if free:
            self._start(ticket, arrival_s, queued=False)
        else:
            self._queue.append(ticket)
        return ticket

    def leave(self, ticket: Ticket, now_s: float) -> None:
        """The request is done (its reply ended or was cut, or its client went away)."""
        if ticket.crashed:
            return  # the crash emptied the server already
        del self._live[ticket]
        if not ticket.serving:
            self._queue.remove(ticket)  # its client went away while it waited
            return
        self._busy -= 1
        if ticket.is_chat:
            self._chats -= 1
        if self._queue:
            self._start(self._queue.popleft(), now_s, queued=True)

    def crash(self, now_s: float) -> None:
        """Cut every request in the server at once, and refuse connections for ``restart_s``."""
        cut = list(self._live)
        self._live.clear()
        self._queue.clear()
        self._busy = self._chats = 0
        self._starting_s, self._starting = None, []
        restart_s = self.settings.restart_s
        self._down_until_s = now_s + restart_s
        self._stats.record_crash(ticket.outcome.run for ticket in cut)
        for ticket in cut:
            ticket.crashed = True
            self._stats.record_cut_by_crash(ticket.outcome.run)
            ticket.wake()
        for listener in self._crash_listeners:
            listener(restart_s)

    def _start(self, ticket: Ticket, now_s: float, queued: bool) -> None:
        ticket.serving = True
        ticket.start_s = now_s
        self._busy += 1
        if queued:
            self._stats.record_queue_wait(now_s - ticket.arrival_s, ticket.outcome.run)
        if ticket.is_chat:
            self._chats += 1
            settings = self.settings
            if settings.slowdown_per_chat:
                if self._starting_s is None or now_s - self._starting_s > TOGETHER_S:
                    self._starting_s, self._starting = now_s, []
                self._starting.append(ticket)
                slowdown = 1.0 + settings.slowdown_per_chat * max(0, self._chats - settings.slowdown_knee)
                for chat in self._starting:  # the chats that started together share their count
                    chat.replan(slowdown)
            if self._crashes(ticket):
                self.crash(now_s)
                return
        ticket.wake()

    def _crashes(self, chat: Ticket) -> bool:
        """Whether ``chat``, just started, brings the server down."""
        settings, n = self.settings, self._chats
        if settings.crash_inflight is not None and n > settings.crash_inflight:
            return True
        if settings.crash_probability > 0 and n > settings.crash_knee:
            draw = chat.outcome.draw
            assert draw is not None  # a chat passed validation, so it was drawn
            chance = min(1.0, settings.crash_probability * (n - settings.crash_knee))
            return unit_draw(self._seed, "crash", draw.endpoint, draw.key, draw.attempt) < chance
        return False
