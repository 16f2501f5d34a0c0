"""Per-operation timeouts as production's ``httpx.AsyncClient(timeout=...)`` has them: a limit on
each wait for bytes (the response head, then each packet of a stream), not on the whole call.
On virtual time, so every duration is exact."""

from __future__ import annotations

import errno

import httpx
import pytest

from harness.error_kinds import classify
from harness.extractor import Timeouts
from harness.outcomes import CallRecord, ErrorKind, ItemOutcome, Status
from harness.runner import Mode, RunConfig, run_blocking
from harness.strategies import make_strategy
from tests.conftest import make_profile


def extract_one(timeouts: Timeouts = Timeouts(), **profile: object) -> ItemOutcome:
    result = run_blocking(RunConfig(files=1, strategy=make_strategy("sequential"), mode=Mode.VIRTUAL,
                                    profile=make_profile(**profile), timeouts=timeouts))
    (outcome,) = result.outcomes
    return outcome


def the_call(outcome: ItemOutcome, endpoint: str) -> CallRecord:
    (call,) = [c for c in outcome.calls if c.endpoint == endpoint]
    return call


def test_a_stream_longer_than_the_chat_limit_that_keeps_sending_succeeds() -> None:
    # a packet every 5 s for 200 s: over the 180 s limit in all, never 180 s without a byte
    outcome = extract_one(latency={"send_message": "fixed(200)"}, piece_interval_s=5.0)
    assert outcome.status is Status.OK and outcome.answer_complete
    call = the_call(outcome, "send_message")
    assert call.error_kind is None
    assert call.end_s - call.start_s == pytest.approx(200.0, abs=1e-6)


def test_a_chat_that_answers_nothing_times_out_180_s_after_it_was_sent() -> None:
    outcome = extract_one(faults={"send_message": {"hang": 1.0}})
    assert outcome.status is Status.FAILED and outcome.error_kind is ErrorKind.TIMEOUT
    assert outcome.reason.startswith("send_message: timeout: ")
    call = the_call(outcome, "send_message")
    assert call.error_kind is ErrorKind.TIMEOUT
    assert call.end_s - call.start_s == pytest.approx(180.0, abs=1e-6)


def test_a_stream_that_stalls_times_out_the_limit_after_its_last_byte() -> None:
    # packets at 0 (the message ids), 5, 10, 15 and 20 s: the 5 s gap after the first exceeds 3 s
    stalled = extract_one(Timeouts(chat_s=3.0), latency={"send_message": "fixed(20)"},
                          piece_interval_s=5.0)
    assert stalled.status is Status.FAILED and stalled.error_kind is ErrorKind.TIMEOUT
    call = the_call(stalled, "send_message")
    assert call.error_kind is ErrorKind.TIMEOUT
    assert call.end_s - call.start_s == pytest.approx(3.0, abs=1e-6)
    # the same 20 s stream with every gap under 3 s: no wait for a byte reaches the limit
    steady = extract_one(Timeouts(chat_s=3.0), latency={"send_message": "fixed(20)"},
                         piece_interval_s=2.0)
    assert steady.status is Status.OK and steady.answer_complete
    call = the_call(steady, "send_message")
    assert call.error_kind is None and call.end_s - call.start_s == pytest.approx(20.0, abs=1e-6)


@pytest.mark.parametrize(("endpoint", "limit_s"), [("persona", 10.0), ("create_chat_session", 10.0),
                                                   ("indexing_status", 30.0)])
def test_the_short_calls_time_out_at_productions_limits(endpoint: str, limit_s: float) -> None:
    outcome = extract_one(faults={endpoint: {"hang": 1.0}})
    call = the_call(outcome, endpoint)
    assert call.error_kind is ErrorKind.TIMEOUT
    assert call.end_s - call.start_s == pytest.approx(limit_s, abs=1e-6)


def test_running_out_of_open_files_is_the_harness_s_error_not_the_server_s() -> None:
    # aiohttp reports "Too many open files" on connect inside a connection error, which used to
    # read as a refused (or timed-out) Onyx
    for outer in (httpx.ConnectError("Cannot connect to host"), httpx.ConnectTimeout("connect")):
        try:
            try:
                raise OSError(errno.EMFILE, "Too many open files")
            except OSError as cause:
                raise outer from cause
        except httpx.HTTPError as error:
            assert classify(error) is ErrorKind.HARNESS_LIMIT
    assert classify(httpx.ConnectError("refused")) is ErrorKind.REFUSED


def test_a_latency_no_client_waits_for_costs_neither_time_nor_memory() -> None:
    # fixed(1e9) used to build a stream of 200 million packets (2.6 GB, minutes of CPU); the
    # client gives up 180 s after the last byte it received, and the run ends at once
    # (a regression shows as this test running into pytest's 120 s timeout, not as a timed assert)
    result = run_blocking(RunConfig(files=2, strategy=make_strategy("batch", 2), mode=Mode.VIRTUAL,
                                    profile=make_profile(latency={"send_message": "fixed(1e9)"})))
    assert all(o.status is Status.FAILED and o.error_kind is ErrorKind.TIMEOUT for o in result.outcomes)
    assert all(o.duration_s < 1e6 for o in result.outcomes)
