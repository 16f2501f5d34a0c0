"""A hard bound on the mock's queue (``capacity.queue_limit``): with ``workers`` busy and the queue
full, a request is answered 503 with Onyx's error body at once and counted as refused, instead of
waiting; exact on virtual time, the same statuses over sockets. Off by default."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import httpx
import looptime
import pytest

from mock_onyx import OnyxModel, SimClock, running_server
from mock_onyx.inprocess import InProcessTransport
from tests.conftest import make_profile

EXACT = 1e-6
BOUNDED = {"latency": {"persona": "fixed(30)"}, "capacity": {"workers": 2, "queue_limit": 3}}
SHED = {"detail": "Service Unavailable"}


async def _ten_at_once(client: httpx.AsyncClient, clock: SimClock) -> list[tuple[int, Any, float]]:
    """Ten GET /persona at one instant: (status, body, simulated seconds to the answer) each."""
    start = clock.now()

    async def one() -> tuple[int, Any, float]:
        response = await client.get("/persona")
        return response.status_code, response.json(), clock.now() - start
    return list(await asyncio.gather(*(one() for _ in range(10))))


def _virtual(table: dict[str, Any]) -> tuple[list[tuple[int, Any, float]], int, dict[str, Any]]:
    model = OnyxModel(make_profile(**table))
    clock = SimClock(1.0, wake_early_s=0.0)

    async def main() -> tuple[list[tuple[int, Any, float]], int]:
        async with httpx.AsyncClient(transport=InProcessTransport(model, clock),
                                     base_url="http://mock") as client:
            answers = await _ten_at_once(client, clock)
            return answers, (await client.get("/persona")).status_code  # drained: served again

    factory = partial(looptime.new_event_loop, start=0.0, noop_cycles=0)
    with asyncio.Runner(loop_factory=factory) as runner:
        answers, after = runner.run(main())
    return answers, after, model.stats.snapshot()


def test_in_process_two_workers_and_a_queue_of_three_shed_exactly_five_of_ten() -> None:
    answers, after, stats = _virtual(BOUNDED)
    shed = [a for a in answers if a[0] == 503]
    assert len(shed) == 5 and all(body == SHED and at == pytest.approx(0.0, abs=EXACT)
                                  for _, body, at in shed)
    # two served at once, three queued: served in rounds of two workers, 30 s each
    assert sorted(at for status, _, at in answers if status == 200) == pytest.approx(
        [30.0, 30.0, 60.0, 60.0, 90.0], abs=EXACT)
    assert after == 200
    assert stats["requests"]["persona"] == {"200": 6, "503": 5}
    assert stats["capacity"]["refused"] == 5 and stats["capacity"]["queue_waits"] == 3
    assert stats["in_flight"]["total"] == 0 and stats["peak_in_flight"]["total"] == 5
    assert stats["disconnects"] == {}


def test_a_queue_limit_of_zero_sheds_all_but_the_workers_and_off_sheds_none() -> None:
    none_queued, _, stats = _virtual({**BOUNDED, "capacity": {"workers": 2, "queue_limit": 0}})
    assert sorted(a[0] for a in none_queued) == [200] * 2 + [503] * 8
    assert stats["capacity"]["queue_waits"] == 0
    unbounded, _, stats = _virtual({**BOUNDED, "capacity": {"workers": 2}})  # the default: wait
    assert [a[0] for a in unbounded] == [200] * 10 and stats["capacity"]["refused"] == 0
    assert max(a[2] for a in unbounded) == pytest.approx(150.0, abs=EXACT)


async def test_over_sockets_the_same_five_of_ten_are_shed() -> None:
    # 30 s at 0.005: 0.15 s a round; the ten arrive within a few ms, well inside the first round
    async with running_server(make_profile(**{**BOUNDED, "time_scale": 0.005})) as server, \
            httpx.AsyncClient(base_url=server.url, timeout=5.0,
                              limits=httpx.Limits(max_connections=None)) as client:
        answers = await _ten_at_once(client, server.clock)
        stats = (await client.get("/_mock/stats")).json()
    assert sorted(a[0] for a in answers) == [200] * 5 + [503] * 5
    assert all(body == SHED for status, body, _ in answers if status == 503)
    assert stats["capacity"]["refused"] == 5 and stats["in_flight"]["total"] == 0


# (bad queue_limit values are in tests/test_capacity.py, beside every other capacity key's)


def test_the_queue_limit_is_off_by_default_and_alone_enables_nothing() -> None:
    assert make_profile().capacity.queue_limit is None
    assert make_profile(capacity={"workers": 2, "queue_limit": 3}).capacity.enabled
