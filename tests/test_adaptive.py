"""The adaptive strategy (``harness.strategies.adaptive``): it finds a server's crash threshold
without being told it and stays below it, loses fewer files than fixed batches above it, matches
a window of its maximum when nothing limits it, halves on a burst, backs off on latency, and is
deterministic; and the built-in ``production`` scenario tells production's story."""

from __future__ import annotations

import re
from typing import Any

import pytest

from harness.outcomes import ErrorKind, Status
from harness.progress import EventKind
from harness.runner import Mode, RunConfig, RunResult, run_blocking
from harness.strategies import Adaptive, limit_trace, make_strategy
from harness.strategies.adaptive_limit import AdaptiveLimit, crash_ceiling
from harness.sweep import CaseTask, run_case
from scenarios import load_scenario
from tests.conftest import make_profile

SEEDS = range(6)
THRESHOLD = 6  # the production profile's crash_inflight: a 7th chat in service brings it down
PRODUCTION = {"latency": {"send_message": "uniform(15, 30)"},
              "capacity": {"workers": 40, "slowdown_knee": 4, "slowdown_per_chat": 0.1,
                           "crash_inflight": THRESHOLD, "restart_s": 30.0}}
SEED_LATENCY = {"latency": {"send_message": "uniform(15, 30)"}}
# Every call but the chat takes no time, every chat 10 s: each step lands on a known instant.
INSTANT = {"latency": {"default": "fixed(0)", "send_message": "fixed(10)"}, "error_latency": "fixed(0)"}


def run(kind: str, size: int | None, files: int, seed: int = 0, mode: Mode = Mode.VIRTUAL,
        retry: str | None = None, idle_timeout_s: float | None = None, **table: Any) -> RunResult:
    return run_blocking(RunConfig(files=files, strategy=make_strategy(kind, size, retry=retry), mode=mode,
                                  profile=make_profile(seed=seed, **table), idle_timeout_s=idle_timeout_s))


def limit_events(result: RunResult) -> list[tuple[float, str]]:
    return [(round(e.at_s, 4), e.message) for e in result.events if e.kind is EventKind.LIMIT]


# -- the production profile: a crash above 6 chats in flight ----------------------------------

def test_on_production_it_crashes_once_and_then_stays_at_or_below_the_threshold() -> None:
    for seed in SEEDS:
        result = run("adaptive", 16, 30, seed, **PRODUCTION)
        summary = result.summary
        trace = limit_trace(result.events, 4)
        crash = next(i for i, e in enumerate(result.events) if "chats cut" in e.message)
        after = [limit for at_s, limit in trace if at_s >= result.events[crash].at_s]
        # It was told no threshold: it found this one by crossing it, once, on its way up.
        assert summary.server_crashes == 1 and summary.peak_limit is not None and summary.peak_limit > THRESHOLD
        assert after and max(after) <= THRESHOLD, (seed, trace)
        assert summary.final_limit is not None and 4 <= summary.final_limit <= THRESHOLD
        # Every file the crash did not cut was done: the cut ones (those in flight) and no more.
        assert summary.files_failed == summary.cut_by_crash and summary.refused_connections == 0


def test_on_production_it_loses_fewer_files_than_a_batch_above_the_threshold() -> None:
    for seed in SEEDS:
        adaptive = run("adaptive", 16, 17, seed, **PRODUCTION).summary
        batch = run("batch", 8, 17, seed, **PRODUCTION).summary
        assert batch.files_failed == 17  # the first batch crashes it; the rest find it down
        assert adaptive.files_failed <= THRESHOLD + 2 < batch.files_failed


def test_with_one_retry_after_the_restart_it_loses_no_file() -> None:
    # A retry waits for a slot like any start, so the cut files come back within the new limit.
    for seed in SEEDS[:3]:
        summary = run("adaptive", 16, 17, seed, retry="fixed(2, 30)", **PRODUCTION).summary
        assert (summary.files_failed, summary.server_crashes) == (0, 1)


# -- nothing limits it ------------------------------------------------------------------------

def test_with_no_capacity_limit_it_grows_to_its_max_within_10_percent_of_the_window() -> None:
    # Its only cost is the slow start from 4 (one round at 4, then doubling): at 60 files
    # 4-9% over the window of its maximum, and exactly what its planned makespan says.
    for seed in SEEDS:
        adaptive = run("adaptive", 8, 60, seed, **SEED_LATENCY).summary
        window = run("window", 8, 60, seed, **SEED_LATENCY).summary
        assert adaptive.peak_limit == adaptive.final_limit == 8
        assert adaptive.makespan_s <= 1.10 * window.makespan_s, (seed, adaptive.makespan_s, window.makespan_s)
        assert adaptive.expected_makespan_s == pytest.approx(adaptive.makespan_s, abs=1e-3)


# -- the limit's arithmetic, scripted ---------------------------------------------------------

def test_a_burst_of_drops_halves_the_limit_once_and_remembers_the_level_that_broke() -> None:
    limit = AdaptiveLimit(maximum=16)  # initial 4
    admitted = 0
    seen = [limit.current]
    for _ in range(4):  # slow start: one more per success
        admitted += 1
        change = limit.success(admitted, level=4, duration_s=20.0, in_flight=4, admissions=admitted + 4)
        seen.append(limit.current)
        assert change is not None and change.message == f"limit {seen[-2]} -> {seen[-1]} after 1 success"
    assert seen == [4, 5, 6, 7, 8]
    # A crash cuts the 8 in flight: the first drop halves the limit; the other 7 are its burst.
    first = limit.drop(admitted=10, in_flight=8, admissions=12)
    assert first is not None and (first.old, first.new, first.message) == (8, 4, "limit 8 -> 4")
    assert all(limit.drop(admitted=n, in_flight=8 - i, admissions=12) is None for i, n in enumerate(range(5, 12)))
    assert (limit.current, limit.ceiling, limit.slow_start) == (4, 7, False)
    # After it, growth is additive, one per round (1 / limit per success), up to the ceiling.
    sequence = []
    for n in range(13, 40):
        limit.success(n, level=4, duration_s=20.0, in_flight=limit.current, admissions=n)
        sequence.append(limit.current)
    assert sequence[:16] == [4] * 4 + [5] * 5 + [6] * 7 and max(sequence) == 7
    # A later burst halves again; a refusal (the server down) changes nothing but marks a burst.
    assert limit.drop(admitted=40, in_flight=7, admissions=41) is not None and limit.current == 3
    refused = limit.drop(admitted=42, in_flight=1, admissions=42, refused=True)
    assert refused is not None and (refused.old, refused.new, limit.current, limit.ceiling) == (3, 3, 3, 6)


def test_the_level_that_broke_comes_from_when_the_cut_chats_began() -> None:
    assert crash_ceiling([0.0, 3.0, 9.0, 12.0, 14.0, 20.0, 24.0]) == 6  # the 7th broke it
    assert crash_ceiling([0.0, 3.0, 9.0, 12.0, 14.0, 24.0, 24.0]) == 5  # which of the last two did?
    assert crash_ceiling([10.0] * 6) == 5  # all at once: one less than them


def test_a_crash_scripted_end_to_end_gives_this_exact_sequence() -> None:
    # Chats of 10 s, every other call instant, a server that takes 5 chats and restarts in 40 s.
    # At t=10 the first four succeed one after another: slow start takes the limit to 8 and the
    # chats it starts crash the server; the burst (6 chats cut, 2 files refused) halves it to
    # 4 and sets the ceiling to 5. The pause is RFC 6298's timeout over four 10 s samples,
    # 10 + 4 x 2.109 = 18.44 s; its probe is refused (the server is down until t=50), so the
    # next pause is twice that, and its probe goes through: the rest follow a second later.
    result = run("adaptive", 16, 20, capacity={"crash_inflight": 5, "restart_s": 40.0}, **INSTANT)
    assert limit_events(result) == [
        (10.0, "limit 4 -> 5 after 1 success"),
        (10.0, "limit 5 -> 6 after 1 success"),
        (10.0, "limit 6 -> 7 after 1 success"),
        (10.0, "limit 7 -> 8 after 1 success"),
        (11.0, "limit 8 -> 4 after 8 failures (refused, reset), 6 chats cut: at most 5 from now on; pausing 18 s"),
        (28.4375, "limit 4: resuming after a 18 s pause, one probe first"),
        (29.4375, "limit 4 after 1 failure (refused); pausing 37 s"),
        (65.3125, "limit 4: resuming after a 37 s pause, one probe first"),
        (85.3125, "limit 4 -> 5 after 5 successes"),
    ]
    statuses = [(o.item.id, o.status, o.error_kind, o.start_s) for o in result.outcomes]
    assert statuses[:4] == [(i, Status.OK, None, 0.0) for i in range(1, 5)]
    assert [kind for _, _, kind, _ in statuses[4:13]] == [ErrorKind.RESET] * 6 + [ErrorKind.REFUSED] * 3
    assert statuses[12][3] == pytest.approx(28.4375)  # the refused probe
    assert [start for *_, start in statuses[13:17]] == pytest.approx([65.3125] + [66.3125] * 3)
    assert all(status is Status.OK for _, status, _, _ in statuses[13:])
    s = result.summary
    assert (s.server_crashes, s.files_failed, s.peak_limit, s.final_limit) == (1, 9, 8, 5)
    assert limit_trace(result.events, 4)[-1] == (pytest.approx(85.3125), 5)


def test_over_sockets_the_scripted_crash_loses_the_same_files() -> None:
    # Time scale 0.01: the 1 s probe is 10 ms of wall time, a refusal well under 1 ms.
    result = run("adaptive", 16, 20, mode=Mode.REAL, time_scale=0.01,
                 capacity={"crash_inflight": 5, "restart_s": 40.0}, **INSTANT)
    assert [o.status for o in result.outcomes] == [Status.OK] * 4 + [Status.FAILED] * 9 + [Status.OK] * 7
    summary = result.summary
    assert summary.server_crashes == 1 and summary.final_limit is not None and summary.final_limit <= 5


# -- latency --------------------------------------------------------------------------------

def test_on_a_server_that_slows_without_crashing_it_backs_off_on_latency() -> None:
    # Chats 50% slower per chat above 2 in service: more in flight buys no throughput, only
    # latency. Adaptive backs off when its recent files pass 1.75 x its low-load baseline.
    slow = {**SEED_LATENCY, "capacity": {"slowdown_knee": 2, "slowdown_per_chat": 0.5}}
    for seed in SEEDS[:2]:
        adaptive, window = run("adaptive", 16, 50, seed, **slow), run("window", 16, 50, seed, **slow)
        assert any(re.match(r"limit \d+ -> \d+: latency", message) for _, message in limit_events(adaptive))
        assert adaptive.summary.final_limit is not None and adaptive.summary.final_limit <= 8
        mean_file = adaptive.files_frame()["duration_s"].mean()
        assert mean_file < 0.7 * window.files_frame()["duration_s"].mean()
        assert adaptive.summary.makespan_s <= 1.05 * window.summary.makespan_s


def test_latency_noise_alone_never_lowers_the_limit() -> None:
    # uniform(15, 30) with no load: its 2x spread is no signal (the same runs as the 10% test).
    for seed in SEEDS:
        result = run("adaptive", 16, 40, seed, **SEED_LATENCY)
        assert not any("latency" in message for _, message in limit_events(result))


# -- determinism and the frontend -------------------------------------------------------------

def test_two_runs_of_one_seed_are_identical() -> None:
    first, second = (run("adaptive", 16, 30, 3, idle_timeout_s=60.0, **PRODUCTION) for _ in range(2))
    assert first.summary == second.summary
    assert first.events == second.events and first.file_rows() == second.file_rows()
    assert first.call_rows() == second.call_rows()


def test_dropped_by_the_frontend_during_a_long_pause_every_item_still_has_an_outcome() -> None:
    # A restart of 150 s: the probes are refused and the pauses double (47, 94 s): with no
    # heartbeat the frontend's 60 s runs out in the second, and the run ends there, cleanly.
    table = {**PRODUCTION, "capacity": {**PRODUCTION["capacity"], "restart_s": 150.0}}
    result = run("adaptive", 16, 30, 3, idle_timeout_s=60.0, **table)
    summary = result.summary
    assert summary.idle_timeout_hit and summary.dropped_at_s is not None
    assert len(result.outcomes) == 30 and summary.files_ok + summary.files_failed == 30
    dropped = [o for o in result.outcomes if o.error_kind is ErrorKind.DROPPED]
    assert dropped and all(o.end_s == summary.dropped_at_s for o in dropped)
    assert summary.max_progress_gap_s == pytest.approx(60.0)


def test_adaptive_takes_a_size_heartbeats_and_the_default_max() -> None:
    assert make_strategy("adaptive") == Adaptive(size=16)
    strategy = make_strategy("adaptive", 6, heartbeat_s=10.0, retry="fixed(2, 30)", rate_limit=2.0)
    assert (strategy.size, strategy.heartbeat_s, strategy.retry.text, strategy.rate_limit) == (6, 10.0, "fixed(2, 30)", 2.0)
    # A maximum below the initial 4 is where it starts (and the first wave that asks for the persona)
    small = run("adaptive", 2, 5, **SEED_LATENCY).summary
    assert (small.peak_limit, small.final_limit, small.client_peak_inflight) == (2, 2, 2)
    assert small.expected_makespan_s == pytest.approx(small.makespan_s, abs=1e-3)


# -- the production scenario -----------------------------------------------------------------

def test_the_production_scenario_tells_productions_story() -> None:
    loaded = load_scenario("production")
    scenario = loaded.scenario
    assert scenario.idle_timeout_s == 60 and scenario.mode == "virtual" and 17 in scenario.workload.files
    threshold = scenario.server["capacity"]["crash_inflight"]

    def case(kind: str, size: int | None, repetition: int, heartbeat_s: float = 0.0) -> RunResult:
        match = next(c for c in scenario.cases() if (c.kind, c.size, c.files, c.repetition, c.heartbeat_s, c.retry)
                     == (kind, size, 17, repetition, heartbeat_s, None))
        profile = scenario.profile(repetition, loaded.source, loaded.base_dir).to_document()
        return run_case(CaseTask(match, profile, mode=scenario.mode, idle_timeout_s=scenario.idle_timeout_s))

    for repetition in range(3):
        # Sequential, silent until its end, is dropped at 60 s within its first 3 files.
        sequential = case("sequential", None, repetition).summary
        assert sequential.idle_timeout_hit and sequential.dropped_at_s == 60.0 and sequential.files_ok <= 3
        # Batches of 8 crash the server and lose files.
        batch8 = case("batch", 8, repetition).summary
        assert batch8.server_crashes and batch8.server_crashes >= 1 and batch8.files_failed > 0
        # Batches of 5 with production's 10 s heartbeat lose nothing.
        batch5 = case("batch", 5, repetition, heartbeat_s=10.0).summary
        assert (batch5.files_failed, batch5.server_crashes, batch5.idle_timeout_hit) == (0, 0, False)
        assert batch5.max_progress_gap_s <= 10.0 + 1e-6
        # Adaptive, told no threshold, ends at or below it and loses fewer files than batch 8.
        adaptive = case("adaptive", 16, repetition, heartbeat_s=10.0).summary
        assert adaptive.final_limit is not None and adaptive.final_limit <= threshold
        assert adaptive.files_failed < batch8.files_failed and not adaptive.idle_timeout_hit
