"""The behaviour model as a client sees it: timing, determinism, attempts, and every fault kind."""

from __future__ import annotations

import asyncio
import json
import random
import time

import httpx
import pytest

from mock_onyx import Behaviour, Endpoint, FaultKind
from mock_onyx.behaviour import FAULT_PRECEDENCE
from tests.conftest import make_profile, new_session, send_message_body


async def stream_lines(client: httpx.AsyncClient, body: dict) -> tuple[httpx.Response, list[str]]:
    async with client.stream("POST", "/chat/send-message", json=body) as response:
        return response, [line async for line in response.aiter_lines() if line]


async def test_fixed_20_at_time_scale_0_005_takes_100_ms_of_wall_time(mock) -> None:
    # Never sooner than 100 ms (less the 0.5 ms the clock wakes early to cancel epoll's
    # rounding). Later only by loopback and httpx's real work, about 1 ms, and by this shared
    # machine's stalls, which only ever add: the fastest of three calls is within 15 ms.
    async with mock(latency={"send_message": "fixed(20)"}, time_scale=0.005) as (_, client):
        body = send_message_body(await new_session(client))
        await stream_lines(client, body)  # warm the connection
        elapsed = []
        for _ in range(3):
            start = time.perf_counter()
            await stream_lines(client, body)
            elapsed.append(time.perf_counter() - start)
    assert min(elapsed) >= 0.099
    assert min(elapsed) < 0.115


async def test_the_same_seed_gives_the_same_latency_per_file_in_any_order(mock) -> None:
    files = list(range(1, 13))

    async def latencies(order: list[int], concurrent: bool) -> dict[int, float]:
        async with mock(seed=11) as (_, client):
            async def one(file_id: int) -> tuple[int, float]:
                session = await new_session(client, f"file {file_id}")
                response, _ = await stream_lines(client, send_message_body(session, [file_id]))
                return file_id, float(response.headers["x-mock-latency-s"])
            if concurrent:
                return dict(await asyncio.gather(*(one(i) for i in order)))
            return dict([await one(i) for i in order])

    shuffled = files[:]
    random.Random(5).shuffle(shuffled)
    # each order against a server of its own, the three servers at once (two of them one file
    # after another, 1 s each of waiting)
    in_order, shuffled_at_once, reversed_one_by_one = await asyncio.gather(
        latencies(files, concurrent=False), latencies(shuffled, concurrent=True),
        latencies(list(reversed(files)), concurrent=False))
    assert shuffled_at_once == in_order
    assert reversed_one_by_one == in_order
    expected = Behaviour(make_profile(seed=11))
    assert in_order == {i: pytest.approx(expected.latency_s(Endpoint.SEND_MESSAGE, f"file:{i}"), abs=1e-5)
                        for i in files}
    assert len(set(in_order.values())) == len(files)


async def test_measured_stream_time_matches_the_drawn_latency(mock) -> None:
    # At time scale 0.01 a 15-30 s stream takes 150-300 ms: never less than drawn (less the
    # 0.05 s the clock wakes early), and more only by loopback HTTP's real work (about 1 ms of
    # wall time, 0.1 simulated s) and stalls of this shared machine: within 3 simulated s.
    async with mock(seed=2, time_scale=0.01) as (server, client):
        for file_id in (1, 2, 3):
            body = send_message_body(await new_session(client), [file_id])
            start = server.clock.now()
            response, _ = await stream_lines(client, body)
            measured = server.clock.now() - start
            drawn = float(response.headers["x-mock-latency-s"])
            assert drawn - 0.06 <= measured <= drawn + 3.0


async def test_attempts_are_counted_per_file_and_draw_anew(mock) -> None:
    async with mock(seed=3) as (_, client):
        session = await new_session(client)
        first, _ = await stream_lines(client, send_message_body(session, [7]))
        second, _ = await stream_lines(client, send_message_body(session, [7]))
        other, _ = await stream_lines(client, send_message_body(session, [8]))
        assert [r.headers["x-mock-attempt"] for r in (first, second, other)] == ["1", "2", "1"]
        assert first.headers["x-mock-latency-s"] != second.headers["x-mock-latency-s"]
        stats = (await client.get("/_mock/stats")).json()
        assert stats["attempts"]["send_message"] == {"file:7": 2, "file:8": 1}


def binomial_tolerance(p: float, n: int) -> float:
    """Four standard deviations of a share of ``n`` draws with chance ``p``: a keyed hash's
    uniforms behave as independent, so a correct model misses it about once in 16,000 checks."""
    return 4 * (p * (1 - p) / n) ** 0.5


def drawn_faults(faults: dict[str, float], keys: list[str]) -> list[FaultKind | None]:
    behaviour = Behaviour(make_profile(seed=9, faults={"send_message": faults}))
    return [behaviour.fault(Endpoint.SEND_MESSAGE, key) for key in keys]


def test_fault_rates_match_their_probabilities_and_leave_latencies_unchanged() -> None:
    faulty = Behaviour(make_profile(faults={"send_message": {"http_500": 0.2, "reset": 0.1}}))
    clean = Behaviour(make_profile())
    keys = [f"file:{i}" for i in range(4000)]
    kinds = [faulty.fault(Endpoint.SEND_MESSAGE, key) for key in keys]
    # http_500 precedes reset, so reset fires only where http_500 did not: 0.1 * (1 - 0.2).
    for kind, expected in ((FaultKind.HTTP_500, 0.2), (FaultKind.RESET, 0.1 * 0.8)):
        share = kinds.count(kind) / len(keys)
        assert share == pytest.approx(expected, abs=binomial_tolerance(expected, len(keys)))
    assert all(faulty.latency_s(Endpoint.SEND_MESSAGE, k) == clean.latency_s(Endpoint.SEND_MESSAGE, k)
               for k in keys[:200])


def test_the_precedence_names_every_fault_kind_once() -> None:
    assert sorted(FAULT_PRECEDENCE) == sorted(FaultKind)
    assert len(FAULT_PRECEDENCE) == len(FaultKind)


def test_a_200_file_fault_sweep_keeps_each_files_fault_when_keys_are_reordered() -> None:
    keys = [f"file:{i}" for i in range(1, 201)]
    written = drawn_faults({"http_500": 0.1, "reset": 0.1}, keys)
    assert drawn_faults({"reset": 0.1, "http_500": 0.1}, keys) == written
    assert FaultKind.HTTP_500 in written and FaultKind.RESET in written


@pytest.mark.parametrize("raised", ["http_500", "reset"])
@pytest.mark.parametrize("reset_first", [False, True])
def test_raising_one_kind_moves_files_only_into_it(raised: str, reset_first: bool) -> None:
    # A file may change only to the raised kind, and only from no fault or from a kind the
    # raised one takes precedence over; where and when each fault strikes stays the same.
    keys = [f"file:{i}" for i in range(1, 201)]
    before_p = {"reset": 0.10, "http_500": 0.10} if reset_first else {"http_500": 0.10, "reset": 0.10}
    after_p = {**before_p, raised: 0.15}
    before, after = drawn_faults(before_p, keys), drawn_faults(after_p, keys)
    kind = FaultKind(raised)
    rank = FAULT_PRECEDENCE.index
    for old, new in zip(before, after, strict=True):
        assert new == old or (new is kind and (old is None or rank(kind) < rank(old)))
    assert after.count(kind) > before.count(kind)
    behaviours = [Behaviour(make_profile(seed=9, faults={"send_message": p})) for p in (before_p, after_p)]
    for key in keys:
        first, second = (b.draw(Endpoint.SEND_MESSAGE, key, 1) for b in behaviours)
        assert first.latency_s == second.latency_s
        # where a fault strikes is drawn only with a fault, and is then the same in both
        assert (first.fault_at_s is None) == (first.fault is None)
        if first.fault is not None and second.fault is not None:
            assert first.fault_at_s == second.fault_at_s


def test_a_kinds_share_is_its_chance_times_no_earlier_kind_firing() -> None:
    # Written against precedence order, each at 0.3: http_500 30%, reset 0.3 * 0.7 = 21%,
    # malformed 0.3 * 0.7 * 0.7 = 14.7%, no fault 0.7 ** 3 = 34.3%.
    keys = [f"file:{i}" for i in range(1, 2001)]
    kinds = drawn_faults({"malformed": 0.3, "reset": 0.3, "http_500": 0.3}, keys)
    expected = {FaultKind.HTTP_500: 0.3, FaultKind.RESET: 0.21, FaultKind.MALFORMED: 0.147,
                None: 0.343}
    for kind, p in expected.items():
        assert kinds.count(kind) / len(keys) == pytest.approx(p, abs=binomial_tolerance(p, len(keys)))


async def send_with_fault(mock, kind: str, timeout: float = 5.0) -> tuple[httpx.Response | None, list[str], Exception | None]:
    async with mock(faults={"send_message": {kind: 1.0}}, latency={"send_message": "fixed(10)"}) as (_, client):
        body = send_message_body(await new_session(client))
        try:
            async with client.stream("POST", "/chat/send-message", json=body,
                                     timeout=httpx.Timeout(timeout)) as response:
                lines = [line async for line in response.aiter_lines() if line]
            return response, lines, None
        except httpx.HTTPError as error:
            return None, [], error


@pytest.mark.parametrize(("kind", "status"), [("http_500", 500), ("http_503", 503), ("http_429", 429)])
async def test_status_faults(mock, kind: str, status: int) -> None:
    response, _, error = await send_with_fault(mock, kind)
    assert error is None and response is not None and response.status_code == status
    if status == 429:
        assert response.headers["retry-after"] == "5"


async def test_reset_cuts_the_stream_mid_body(mock) -> None:
    _, _, error = await send_with_fault(mock, "reset")
    assert isinstance(error, httpx.RemoteProtocolError)
    assert "peer closed connection without sending complete message body" in str(error)


async def test_hang_answers_nothing_until_the_client_gives_up(mock) -> None:
    start = time.perf_counter()
    _, _, error = await send_with_fault(mock, "hang", timeout=0.3)
    assert isinstance(error, httpx.ReadTimeout)
    assert time.perf_counter() - start == pytest.approx(0.3, abs=0.2)


async def test_error_packet_ends_the_stream_without_a_final_message(mock) -> None:
    response, lines, _ = await send_with_fault(mock, "error_packet")
    assert response is not None and response.status_code == 200
    packets = [json.loads(line) for line in lines]
    assert set(packets[-1]) == {"error", "stack_trace"} and packets[-1]["error"]
    assert not any("message_id" in packet for packet in packets)


async def test_empty_answer_streams_nothing_but_empty_pieces(mock) -> None:
    _, lines, _ = await send_with_fault(mock, "empty_answer")
    packets = [json.loads(line) for line in lines]
    assert packets[-1]["message"] == "" and packets[-1]["message_type"] == "assistant"
    assert all(p["answer_piece"] == "" for p in packets if "answer_piece" in p)


async def test_malformed_sends_a_truncated_json_line(mock) -> None:
    _, lines, error = await send_with_fault(mock, "malformed")
    assert error is None
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[-1])


async def test_faults_on_json_endpoints(mock) -> None:
    async with mock(faults={"persona": {"reset": 1.0}, "folder": {"malformed": 1.0}}) as (_, client):
        with pytest.raises(httpx.RemoteProtocolError, match="peer closed connection"):
            await client.get("/persona")
        truncated = await client.get("/user/folder/1")
        assert truncated.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            truncated.json()
        stats = (await client.get("/_mock/stats")).json()
        assert stats["faults"] == {"persona": {"reset": 1}, "folder": {"malformed": 1}}


async def test_a_client_that_gives_up_is_counted_and_leaves_nothing_in_flight(mock) -> None:
    async with mock(faults={"send_message": {"hang": 1.0}}) as (_, client):
        body = send_message_body(await new_session(client))
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/chat/send-message", json=body, timeout=0.1)
        await asyncio.sleep(0.1)
        stats = (await client.get("/_mock/stats")).json()
        assert stats["disconnects"] == {"send_message": 1}
        assert stats["in_flight"]["total"] == 0
