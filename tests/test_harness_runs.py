"""The extractor, the strategies and the runner against the real mock over loopback."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cache import ContextCache
from harness.outcomes import ErrorKind, ItemKind, Status
from harness.progress import EventKind
from harness.runner import RunConfig, run_once
from harness.strategies import make_strategy
from harness.transports import TransportKind
from mock_onyx import SimClock
from tests.conftest import make_profile

SCRIPT = Path(sys.executable).with_name("onyx-bench")
STRATEGIES = [("sequential", None), ("batch", 8), ("window", 8), ("batch", 5), ("window", 3)]


@pytest.mark.parametrize("files", [1, 3, 10, 20])
@pytest.mark.parametrize(("kind", "size"), STRATEGIES)
async def test_every_file_gets_one_outcome_in_input_order(files: int, kind: str, size: int | None) -> None:
    result = await run_once(RunConfig(files=files, strategy=make_strategy(kind, size),
                                      profile=make_profile(seed=files)))
    assert [o.item.id for o in result.outcomes] == list(range(1, files + 1))
    assert all(o.status is Status.OK and o.answer_complete for o in result.outcomes)
    assert result.summary.files_ok == files
    expected_peak = 1 if size is None else min(size, files)
    assert result.summary.server_peak_inflight == expected_peak
    assert result.summary.client_peak_inflight == expected_peak


async def test_batch_progress_messages_are_the_seeds() -> None:
    result = await run_once(RunConfig(files=10, strategy=make_strategy("batch", 8), profile=make_profile()))
    starts = [e.message for e in result.events if e.kind is EventKind.BATCH_START]
    assert starts == ["Processing batch 1/2: files 1 to 8", "Processing batch 2/2: files 9 to 10"]
    ends = [e for e in result.events if e.kind is EventKind.BATCH_END]
    assert [e.done for e in ends] == [8, 10]
    # The pause between batches is 0.5 simulated seconds (0.5 ms of wall time here: +-0.6 ms of
    # timer granularity and loop work).
    second_start = [e for e in result.events if e.kind is EventKind.BATCH_START][1]
    assert second_start.at_s - ends[0].at_s == pytest.approx(0.5, abs=0.6)


async def test_sequential_says_nothing_until_the_end() -> None:
    result = await run_once(RunConfig(files=3, strategy=make_strategy("sequential"), profile=make_profile()))
    assert [e.kind for e in result.events] == [EventKind.DONE]
    assert result.summary.max_progress_gap_s == pytest.approx(result.summary.makespan_s, abs=0.01)


async def test_window_reports_every_item_and_has_shorter_gaps_than_batches() -> None:
    # Time scale 0.01: at 0.001 the few wall ms per call (x1000) would swamp the comparison.
    profile = make_profile(time_scale=0.01)
    window = await run_once(RunConfig(files=20, strategy=make_strategy("window", 8), profile=profile))
    batch = await run_once(RunConfig(files=20, strategy=make_strategy("batch", 8), profile=profile))
    assert sum(e.kind is EventKind.ITEM_DONE for e in window.events) == 20
    assert window.summary.max_progress_gap_s < batch.summary.max_progress_gap_s
    assert window.summary.makespan_s < batch.summary.makespan_s


@pytest.mark.parametrize(("kind", "size"), STRATEGIES[:3])
@pytest.mark.parametrize("fault", ["reset", "http_500", "error_packet", "malformed", "empty_answer"])
async def test_faults_on_send_message_lose_no_file(kind: str, size: int | None, fault: str) -> None:
    profile = make_profile(seed=4, faults={"send_message": {fault: 0.4}}, files={"not_indexed": [2]})
    result = await run_once(RunConfig(files=12, strategy=make_strategy(kind, size), profile=profile))
    statuses = [o.status for o in result.outcomes]
    assert len(statuses) == 12
    s = result.summary
    assert s.files_ok + s.files_failed + s.files_skipped == 12
    assert result.outcomes[1].status is Status.SKIPPED
    assert result.outcomes[1].error_kind is ErrorKind.NOT_INDEXED
    assert s.files_ok >= 3  # a failing file cancels no other
    failed = [o for o in result.outcomes if o.status is Status.FAILED]
    assert all(o.error_kind is not None and o.reason for o in failed)
    stats = result.server_stats or {}
    assert stats["faults"]["send_message"][fault] >= 1


async def test_sequential_retries_a_failed_file_up_to_3_times() -> None:
    profile = make_profile(seed=1, faults={"send_message": {"http_500": 1.0}})
    result = await run_once(RunConfig(files=2, strategy=make_strategy("sequential"), profile=profile))
    assert all(o.status is Status.FAILED and o.attempts == 3 for o in result.outcomes)
    assert all(o.error_kind is ErrorKind.HTTP_STATUS for o in result.outcomes)
    # 3 attempts, 1 s apart: at least 2 s of waiting per file.
    assert all(o.duration_s >= 2.0 for o in result.outcomes)


async def test_folders_keep_their_indexed_files() -> None:
    profile = make_profile(folders={"files": 4, "not_indexed_share": 0.5, "missing": [2]})
    result = await run_once(RunConfig(files=1, folders=3, strategy=make_strategy("batch", 8),
                                      profile=profile))
    folders = [o for o in result.outcomes if o.item.kind is ItemKind.FOLDER]
    assert [o.status for o in folders] == [Status.OK, Status.SKIPPED, Status.OK]
    assert folders[1].error_kind is ErrorKind.NOT_FOUND


@pytest.mark.parametrize("transport", list(TransportKind))
async def test_timeouts_are_enforced_on_the_sim_clock_for_every_transport(transport: TransportKind) -> None:
    profile = make_profile(faults={"send_message": {"hang": 1.0}}, time_scale=0.01)
    result = await run_once(RunConfig(files=2, strategy=make_strategy("window", 2), profile=profile,
                                      transport=transport))
    for outcome in result.outcomes:
        assert outcome.status is Status.FAILED and outcome.error_kind is ErrorKind.TIMEOUT
        # the 180 s chat timeout, plus the short calls before it
        assert outcome.duration_s == pytest.approx(180.2, abs=3.0)


@pytest.mark.parametrize("transport", list(TransportKind))
async def test_error_kinds_read_the_same_through_every_transport(transport: TransportKind) -> None:
    profile = make_profile(faults={"send_message": {"reset": 1.0}, "create_chat_session": {}})
    result = await run_once(RunConfig(files=1, strategy=make_strategy("batch", 1), profile=profile,
                                      transport=transport))
    assert result.outcomes[0].error_kind is ErrorKind.RESET
    refused = await run_once(RunConfig(files=1, strategy=make_strategy("batch", 1), profile=profile,
                                       target="http://127.0.0.1:9", transport=transport))
    assert refused.outcomes[0].status is Status.FAILED
    assert refused.outcomes[0].error_kind is ErrorKind.REFUSED


@pytest.mark.slow
@pytest.mark.parametrize("files", [10, 20])
@pytest.mark.parametrize(("kind", "size"), [("batch", 8), ("window", 8)])
async def test_makespan_matches_the_closed_form(files: int, kind: str, size: int) -> None:
    # At time scale 0.05 the per-call wall overhead of loopback HTTP (a few ms at 8 in flight) is
    # under 3% of the makespan. At 0.01 it is 4-8%: benchmarks/time_scale_error.py measures it.
    # The median of three seeds, so that one stall of this shared machine does not decide.
    errors = []
    for seed in (7, 8, 9):
        profile = make_profile(seed=seed, time_scale=0.05)
        result = await run_once(RunConfig(files=files, strategy=make_strategy(kind, size), profile=profile))
        expected = result.summary.expected_makespan_s
        assert expected is not None
        errors.append(result.summary.makespan_s / expected - 1)
    assert statistics.median(errors) == pytest.approx(0.0, abs=0.03)
    assert min(errors) > -0.01  # overhead only ever adds time


@pytest.mark.slow
def test_run_json_from_the_installed_script_averages_near_the_closed_form() -> None:
    # E[max of 8 uniform(15, 30)] + E[max of 2] + 0.5 s pause = 28.33 + 25 + 0.5 = 53.8 s
    makespans = []
    for seed in range(20):
        out = subprocess.run([str(SCRIPT), "run", "--files", "10", "--strategy", "batch", "--size", "8",
                              "--time-scale", "0.01", "--seed", str(seed), "--json"],
                             capture_output=True, text=True, timeout=60, check=True)
        data = json.loads(out.stdout)
        assert {"makespan_s", "files_ok", "files_failed", "files_skipped", "max_progress_gap_s",
                "server_peak_inflight", "client_peak_inflight", "files"} <= set(data)
        assert len(data["files"]) == 10 and data["files_ok"] == 10
        makespans.append(data["makespan_s"])
    assert statistics.fmean(makespans) == pytest.approx(53.8, rel=0.10)


async def test_the_context_cache_serves_a_repeat_within_its_ttl_without_any_request() -> None:
    profile = make_profile()
    cache = ContextCache(SimClock(profile.time_scale), ttl_s=3600.0)
    first = await run_once(RunConfig(files=3, strategy=make_strategy("batch", 8), profile=profile, cache=cache))
    again = await run_once(RunConfig(files=3, strategy=make_strategy("batch", 8), profile=profile, cache=cache))
    assert first.server_stats and first.server_stats["requests"]["send_message"] == {"200": 3}
    assert again.server_stats is not None and again.server_stats["requests"] == {}
    assert again.outcomes == first.outcomes and again.summary.makespan_s < 1.0
    expired = ContextCache(SimClock(profile.time_scale), ttl_s=0.0)
    await run_once(RunConfig(files=3, strategy=make_strategy("batch", 8), profile=profile, cache=expired))
    await asyncio.sleep(0.002)
    late = await run_once(RunConfig(files=3, strategy=make_strategy("batch", 8), profile=profile, cache=expired))
    assert late.server_stats and late.server_stats["requests"]["send_message"] == {"200": 3}
