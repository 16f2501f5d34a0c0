"""Virtual mode: the same extractor and strategies on a virtual clock, cross-checked against real
sockets (the mock's one behaviour model, served in-process or by aiohttp)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.outcomes import ErrorKind, Status
from harness.runner import Mode, RunConfig, RunResult, run_blocking
from harness.strategies import make_strategy
from scenarios import load_scenario
from tests.conftest import ForkedRuns, make_profile, selected_params

STRATEGIES = [("sequential", None), ("batch", 8), ("window", 8)]


def config(kind: str, size: int | None, files: int, mode: Mode, **profile: object) -> RunConfig:
    return RunConfig(files=files, strategy=make_strategy(kind, size), mode=mode, profile=make_profile(**profile))


def run(kind: str, size: int | None, files: int, mode: Mode, **profile: object) -> RunResult:
    return run_blocking(config(kind, size, files, mode, **profile))


def drawn_send_message_latencies(result: RunResult) -> dict[int, float]:
    calls = result.calls_frame()
    chats = calls[calls["endpoint"] == "send_message"]
    return dict(zip(chats["id"], chats["drawn_latency_s"], strict=True))


@pytest.mark.parametrize("files", [3, 10, 20])
@pytest.mark.parametrize(("kind", "size"), STRATEGIES)
def test_virtual_makespan_is_the_closed_form_to_the_millisecond(kind: str, size: int | None, files: int) -> None:
    result = run(kind, size, files, Mode.VIRTUAL, seed=42)
    assert result.summary.mode == "virtual" and result.summary.transport == "in-process"
    assert result.summary.expected_makespan_s is not None
    assert abs(result.summary.makespan_s - result.summary.expected_makespan_s) < 0.001
    assert result.summary.server_peak_inflight == result.summary.client_peak_inflight == min(size or 1, files)


@pytest.fixture(scope="module")
def real_runs_at_seed_42(request: pytest.FixtureRequest) -> Iterator[ForkedRuns]:
    # the real runs of the test below, on sockets at 0.004 and mostly waiting: two at a time
    runs = ForkedRuns("real_runs_at_seed_42", {
        (p["kind"], files): config(p["kind"], p["size"], files, Mode.REAL, seed=42)
        for p in selected_params(request, "test_real_and_virtual_modes_draw_the_same_and_differ_by_the_stated_overhead")
        for files in (3, 10)})
    yield runs
    runs.stop()


@pytest.mark.parametrize(("kind", "size"), STRATEGIES)
def test_real_and_virtual_modes_draw_the_same_and_differ_by_the_stated_overhead(
        kind: str, size: int | None, real_runs_at_seed_42: ForkedRuns) -> None:
    # One behaviour model: the same per-file latencies and statuses in both modes, exactly. Real
    # mode's makespan differs from the model's only by the overhead it states for itself; that
    # overhead is wall time and is not asserted here (benchmarks/test_slow.py's
    # test_time_scale_error measures it).
    for files in (3, 10):
        virtual = run(kind, size, files, Mode.VIRTUAL, seed=42)
        real = real_runs_at_seed_42[(kind, files)]  # run(kind, size, files, Mode.REAL, seed=42)
        assert drawn_send_message_latencies(real) == drawn_send_message_latencies(virtual)
        assert [o.status for o in real.outcomes] == [o.status for o in virtual.outcomes]
        assert virtual.summary.harness_overhead_s == pytest.approx(0.0, abs=1e-5)
        assert real.summary.model_makespan_s == pytest.approx(virtual.summary.makespan_s, abs=1e-5)
        assert real.summary.harness_overhead_s == pytest.approx(
            real.summary.makespan_s - virtual.summary.makespan_s, abs=1e-5)


def test_a_faulty_real_run_states_its_overhead_against_its_virtual_replay() -> None:
    # With faults there is no closed form: the model's makespan is the same run on virtual time.
    server = load_scenario("flaky-server").scenario.server
    real = run("window", 4, 12, Mode.REAL, seed=9, time_scale=0.01, **server)
    virtual = run("window", 4, 12, Mode.VIRTUAL, seed=9, **server)
    assert real.summary.expected_makespan_s is None
    assert real.summary.model_makespan_s == pytest.approx(virtual.summary.makespan_s, abs=1e-5)
    assert real.summary.harness_overhead_pct == pytest.approx(
        100 * (real.summary.makespan_s / virtual.summary.makespan_s - 1), abs=1e-3)


@pytest.fixture(scope="module")
def real_runs_on_a_faulty_server(request: pytest.FixtureRequest) -> Iterator[ForkedRuns]:
    # the real runs of the test below, mostly waiting (sequential's 1 s between attempts): two at a time
    server = load_scenario("flaky-server").scenario.server
    runs = ForkedRuns("real_runs_on_a_faulty_server", {
        p["kind"]: config(p["kind"], p["size"], 12, Mode.REAL, seed=1, time_scale=0.01, **server)
        for p in selected_params(request, "test_a_faulty_server_fails_the_same_files_in_both_modes")})
    yield runs
    runs.stop()


@pytest.mark.parametrize(("kind", "size"), STRATEGIES)
def test_a_faulty_server_fails_the_same_files_in_both_modes(kind: str, size: int | None,
                                                            real_runs_on_a_faulty_server: ForkedRuns) -> None:
    # Time scale 0.01: the 10 s create-session timeout is then 100 ms of wall time, which a stall
    # of this shared machine does not reach (at smaller scales it could, and a status would differ).
    server = load_scenario("flaky-server").scenario.server
    virtual = run(kind, size, 12, Mode.VIRTUAL, seed=1, time_scale=0.01, **server)
    real = real_runs_on_a_faulty_server[kind]  # run(kind, size, 12, Mode.REAL, seed=1, time_scale=0.01, **server)
    statuses = [(o.status, o.error_kind, o.attempts) for o in virtual.outcomes]
    assert statuses == [(o.status, o.error_kind, o.attempts) for o in real.outcomes]
    # the faults bite: files fail, or (sequential, 3 attempts) are retried
    assert any(status is Status.FAILED or attempts > 1 for status, _, attempts in statuses)
    assert virtual.server_stats and real.server_stats
    assert virtual.server_stats["faults"] == real.server_stats["faults"]


def test_timeouts_retries_and_pauses_run_on_virtual_time() -> None:
    hung = run("window", 2, 2, Mode.VIRTUAL, faults={"send_message": {"hang": 1.0}})
    for outcome in hung.outcomes:
        assert outcome.error_kind is ErrorKind.TIMEOUT
        assert outcome.duration_s == pytest.approx(180.0 + 0.05 + 0.05 + 0.05 + 0.01, abs=0.001)
    retried = run("sequential", None, 1, Mode.VIRTUAL, faults={"send_message": {"http_500": 1.0}})
    outcome = retried.outcomes[0]
    assert outcome.attempts == 3
    # three attempts of (indexing 0.05, create 0.05, simple 0.01, 500 after 0.01) + persona 0.05,
    # with two 1 s waits between them
    assert outcome.duration_s == pytest.approx(3 * 0.12 + 0.05 + 2 * 1.0, abs=0.001)
    batches = run("batch", 2, 4, Mode.VIRTUAL, latency={"send_message": "fixed(10)"})
    starts = [e.at_s for e in batches.events if e.kind == "batch_start"]
    ends = [e.at_s for e in batches.events if e.kind == "batch_end"]
    assert starts[1] - ends[0] == pytest.approx(0.5, abs=1e-6)


def test_run_in_virtual_mode_from_the_command_line() -> None:
    result = CliRunner().invoke(main, ["run", "--files", "10", "--strategy", "batch", "--size", "8",
                                       "--mode", "virtual", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mode"] == "virtual" and abs(data["makespan_s"] - data["expected_makespan_s"]) < 0.001
    refused = CliRunner().invoke(main, ["run", "--files", "1", "--mode", "virtual", "--target",
                                        "http://127.0.0.1:9"])
    assert refused.exit_code == 2 and "virtual time" in refused.stderr


@pytest.mark.parametrize(("kind", "size"), STRATEGIES)
def test_the_packet_cadence_changes_no_makespan_status_or_fault(kind: str, size: int | None) -> None:
    # piece_interval_s is a cost knob (one wake-up per packet), not a behaviour: the stream's end
    # and its faults keep their times, so every measured number is the same at any cadence.
    server = load_scenario("flaky-server").scenario.server
    coarse, fine = (run(kind, size, 12, Mode.VIRTUAL, seed=9, piece_interval_s=interval, **server)
                    for interval in (5.0, 0.5))
    assert coarse.summary.makespan_s == pytest.approx(fine.summary.makespan_s, abs=1e-5)
    assert ([(o.status, o.error_kind, o.attempts, round(o.end_s, 5)) for o in coarse.outcomes]
            == [(o.status, o.error_kind, o.attempts, round(o.end_s, 5)) for o in fine.outcomes])
    assert coarse.server_stats and fine.server_stats
    assert coarse.server_stats["faults"] == fine.server_stats["faults"]
