"""The reply player on a virtual clock: each event at its exact simulated time, and the stats it keeps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import looptime
import pytest

from mock_onyx.behaviour import Draw
from mock_onyx.clock import SimClock
from mock_onyx.endpoints import Endpoint, FaultKind
from mock_onyx.player import Body, Cut, Data, End, Event, Head, play
from mock_onyx.replies import BodyReply, Chunk, HangReply, Outcome, Reply, StreamReply
from mock_onyx.stats import ServerStats

CLOCK = SimClock(1.0, wake_early_s=0.0)
RUN = "run-1"
EXACT = 1e-6


def _virtual(main: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``main`` on a virtual-time loop starting at 0, as harness.runner does."""
    factory = partial(looptime.new_event_loop, start=0.0, noop_cycles=0)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


def _outcome(reply: Reply, endpoint: Endpoint = Endpoint.SEND_MESSAGE,
             fault: FaultKind | None = None) -> Outcome:
    draw = Draw(endpoint, key="file:12", attempt=1, latency_s=2.0, fault=fault, fault_at_s=1.0,
                error_latency_s=0.5)
    return Outcome(reply, endpoint, draw, RUN)


async def _timed(outcome: Outcome, stats: ServerStats, arrival: float = 2.0) -> list[tuple[float, Event]]:
    """Every event with the simulated time it came at; play starts 1 s after ``arrival``."""
    await CLOCK.sleep_until(arrival + 1.0)  # reading the request took a second
    return [(CLOCK.now(), event) async for event in play(outcome, CLOCK, arrival, stats)]


def _times(events: list[tuple[float, Event]]) -> list[float]:
    return [at for at, _ in events]


def test_a_body_reply_comes_whole_after_its_delay_from_arrival() -> None:
    outcome = _outcome(BodyReply(200, b'{"ok":1}', delay_s=3.5, headers=(("retry-after", "4"),)))
    events = _virtual(partial(_timed, outcome, ServerStats()))
    assert [event for _, event in events] == [
        Body(200, {**outcome.draw_headers, "retry-after": "4"}, "application/json", b'{"ok":1}')]
    assert _times(events) == pytest.approx([5.5], abs=EXACT)  # arrival 2.0 + 3.5, not 3.0 + 3.5


def test_a_hang_answers_504_at_its_limit() -> None:
    events = _virtual(partial(_timed, _outcome(HangReply(limit_s=60.0)), ServerStats()))
    assert [event for _, event in events] == [
        Body(504, {}, "application/json", b'{"detail":"Gateway Timeout"}')]
    assert _times(events) == pytest.approx([62.0], abs=EXACT)


def _stream(cut: bool) -> StreamReply:
    return StreamReply(200, (Chunk(1.5, b"a\n"), Chunk(4.0, b"b\n")), end_s=6.25, cut=cut)


@pytest.mark.parametrize(("cut", "last"), [(False, End()), (True, Cut())])
def test_a_stream_heads_at_once_then_chunks_then_ends_or_is_cut(cut: bool, last: Event) -> None:
    outcome = _outcome(_stream(cut), fault=FaultKind.RESET if cut else None)
    events = _virtual(partial(_timed, outcome, ServerStats()))
    assert [event for _, event in events] == [
        Head(200, outcome.draw_headers, "text/event-stream"), Data(b"a\n"), Data(b"b\n"), last]
    assert _times(events) == pytest.approx([3.0, 3.5, 6.0, 8.25], abs=EXACT)


def _in_flight(stats: ServerStats, run: str | None = None) -> int:
    return int(stats.snapshot(run)["in_flight"]["total"])


def test_a_request_is_in_flight_while_played_and_not_after() -> None:
    stats = ServerStats()

    async def main() -> list[tuple[int, int]]:
        seen = [(_in_flight(stats), _in_flight(stats, RUN))
                async for _ in play(_outcome(_stream(cut=False)), CLOCK, 0.0, stats)]
        return [*seen, (_in_flight(stats), _in_flight(stats, RUN))]

    assert _virtual(main) == [(1, 1)] * 4 + [(0, 0)]
    snapshot = stats.snapshot(RUN)
    assert snapshot["requests"] == {"send_message": {"200": 1}}
    assert snapshot["peak_in_flight"]["total"] == 1
    assert snapshot["disconnects"] == {}


def test_a_consumer_that_stops_early_is_a_disconnect() -> None:
    stats = ServerStats()

    async def main() -> None:
        events = play(_outcome(_stream(cut=False)), CLOCK, 0.0, stats)
        assert isinstance(await anext(events), Head)
        await events.aclose()

    _virtual(main)
    assert stats.snapshot(RUN)["disconnects"] == {"send_message": 1}
    assert stats.snapshot()["disconnects"] == {"send_message": 1}
    assert _in_flight(stats) == _in_flight(stats, RUN) == 0


def test_a_consumer_cancelled_mid_wait_is_a_disconnect() -> None:
    stats = ServerStats()

    async def main() -> float:
        events = play(_outcome(HangReply(limit_s=60.0)), CLOCK, 0.0, stats)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(10.0):
                await anext(events)
        return CLOCK.now()

    assert _virtual(main) == pytest.approx(10.0, abs=EXACT)
    assert stats.snapshot(RUN)["requests"] == {"send_message": {"hang": 1}}
    assert stats.snapshot(RUN)["disconnects"] == {"send_message": 1}
    assert _in_flight(stats) == 0


def test_unrouted_replies_are_played_but_not_counted() -> None:
    stats = ServerStats()
    outcome = Outcome(BodyReply(404, b'{"detail":"Not Found"}', delay_s=0.25))
    events = _virtual(partial(_timed, outcome, stats, 0.0))
    assert [event for _, event in events] == [
        Body(404, {}, "application/json", b'{"detail":"Not Found"}')]
    assert _times(events) == pytest.approx([1.0], abs=EXACT)  # already late: at once
    assert stats.snapshot()["requests"] == {}
