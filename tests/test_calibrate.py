"""``onyx-bench calibrate`` against a mock started apart (``onyx-bench serve``) whose send-message
latency is known, lognormal(20, 45): what it fits, the intervals it reports, and whether the tuner
recommends on the fitted profile what it recommends on the true one.

The mock runs at time scale 0.0002, so 200 files take about 2 s. Calibrate fits the latencies the
mock drew (its default against a mock: the harness's own ~1 ms per call would read as 5 simulated
seconds at this scale), so the time scale changes the wall time and nothing else; its timeouts
are held at 50 ms of wall time or more, so a busy core cannot read as the server hanging. One
calibration of 200 files and one of 40 are shared by the tests (module-scoped).

The mock's seed is 1. Each interval is a 95% one, so on some seeds one misses the truth: over mock
seeds 1-60 at 200 files every interval held it on 48, and seed 11, tried first, drew a sample
whose log-sd was 0.383 against the truth's 0.349 (its bootstrap p99 interval began at 45.2). Over
2,000 simulated samples of 200 the intervals miss 5.8% (bootstrap median), 3.9% (order-statistic
median), 6.2% (bootstrap p99) and 1.5% (the order-statistic p99's lower bound) of the time.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from harness.calibrate.faults import fault_of, fault_rates
from harness.calibrate.fit import Z99, fit_all
from harness.calibrate.intervals import calls_to_bound, order_statistic_interval
from harness.calibrate.measure import Settings, fit_run
from harness.calibrate.profile_text import Outputs
from harness.calibrate.write import write_all
from harness.cli import main
from harness.runner import Mode, RunConfig, run_blocking
from harness.store import load_runs
from harness.strategies import RetryPolicy, Sequential
from harness.target import ResolvedTarget
from mock_onyx import load_profile
from mock_onyx.distributions import LogNormal, parse_distribution
from mock_onyx.endpoints import Endpoint, FaultKind
from mock_onyx.profile import profile_from_mapping
from tests.conftest import listening_url

SCRIPT = Path(sys.executable).with_name("onyx-bench")
TRUE_MEDIAN, TRUE_P99 = 20.0, 45.0
TRUE = f"lognormal({TRUE_MEDIAN:g}, {TRUE_P99:g})"
NO_CREDENTIALS = {"ONYX_API_KEY": "", "ONYX_SESSION_COOKIE": ""}
SECRET = f"on_PLANTED_SECRET_{uuid.uuid4().hex}"  # the key the mock posing as a real Onyx wants
WITH_KEY = {"ONYX_API_KEY": SECRET, "ONYX_SESSION_COOKIE": ""}
# A window behind a rate limit of one chat start every 4 s: the window that keeps it full is
# Little's law, chats in flight = rate x latency, so the size the tuner recommends moves with
# the latency (a median 30% high gives window 9, 25% low window 6, lognormal(20, 45) window 7).
SCENARIO = """
name = "calibrate-check"
seed = 5
repetitions = 4
mode = "virtual"

[server]
profile = "{profile}"

[workload]
files = [10]

[[strategies]]
kind = "window"
size = 4
rate_limit = 0.25
"""
REAL_SCALE = "0.001"  # of the mock posing as a real Onyx: a 20 s chat takes 20 ms of wall time
TUNE = ["--sizes", "6-9", "--reps", "4", "--jobs", "1", "--no-confirm", "--no-report", "--json"]


def _serve(*flags: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([str(SCRIPT), "serve", "--latency", f"send_message={TRUE}", "--port", "0", *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.fixture(scope="module")
def servers() -> Any:
    """The mock, and a mock posing as a real Onyx that wants SECRET as its API key, started at once."""
    processes = [_serve("--seed", "1", "--time-scale", "0.0002"),
                 _serve("--seed", "2", "--time-scale", REAL_SCALE, "--as-real-onyx", "--require-auth",
                        env={"PATH": "/usr/bin:/bin", "ONYX_MOCK_API_KEY": SECRET})]
    try:
        yield [listening_url(process) for process in processes]
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            process.communicate(timeout=10)


@pytest.fixture(scope="module")
def mock_url(servers: list[str]) -> str:
    return servers[0]


def _calibrate(url: str, folder: Path, files: int, *extra: str) -> tuple[dict[str, Any], str]:
    result = CliRunner(env=NO_CREDENTIALS).invoke(main, ["calibrate", "--target", url, "--files", str(files),
                                                         "--pause", "1", "--out", str(folder / "fitted.toml"),
                                                         "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


@pytest.fixture(scope="module")
def calibrated(mock_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    folder = tmp_path_factory.mktemp("calibrated")
    shown, stderr = _calibrate(mock_url, folder, 200)
    return shown, stderr, folder


@pytest.fixture(scope="module")
def calibrated_40(mock_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    shown, stderr = _calibrate(mock_url, tmp_path_factory.mktemp("forty"), 40)
    return shown, stderr


# -- against the mock ---------------------------------------------------------------------------


def test_200_calls_recover_the_median_and_hold_the_truth_in_every_interval(calibrated: Any) -> None:
    shown, stderr, _ = calibrated
    send = shown["endpoints"]["send_message"]
    assert shown["is_mock"] and shown["source"] == "drawn" and shown["items"] == {"ok": 200, "failed": 0,
                                                                                 "skipped": 0}
    assert send["calls"] == send["timed"] == 200 and send["faults"] == []
    assert send["best"] == send["lognormal"]  # 200 lognormal draws: AIC picks the lognormal
    assert abs(send["median_s"] - TRUE_MEDIAN) / TRUE_MEDIAN < 0.10
    methods = [interval["method"] for interval in send["median_ci95"]]
    assert methods[0].startswith("bootstrap") and methods[1].startswith("order statistics")
    for interval in send["median_ci95"]:
        assert interval["low"] <= TRUE_MEDIAN <= interval["high"], interval
    bootstrap, order = send["p99_ci95"]
    assert bootstrap["low"] <= TRUE_P99 <= bootstrap["high"]
    # 200 calls bound a p99 only from below without a model (it takes 368), and say so
    assert order["low"] <= TRUE_P99 and order["high"] is None
    assert "368" in send["tail_note"] and not send["tail_warning"] and "warning" not in stderr
    # the durations fitted are the ones the mock drew; measured ones carry the harness's own time
    assert shown["overhead_s"] > 0
    # the other endpoints: the mock's fixed(0.05), one persona call (then cached), no simple API
    assert {name: fit["best"] for name, fit in shown["endpoints"].items()} == {
        "indexing_status": "fixed(0.05)", "persona": "fixed(0.05)", "create_chat_session": "fixed(0.05)",
        "simple_api": None, "send_message": send["best"]}
    assert shown["enterprise"] is False and shown["calls"] == 4 * 200 + 1


def test_forty_calls_are_too_few_for_a_p99_and_it_says_so(calibrated_40: Any) -> None:
    shown, stderr = calibrated_40
    send = shown["endpoints"]["send_message"]
    assert send["timed"] == 40 and send["tail_warning"]
    warnings = [line for line in stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "send_message" in warnings[0] and "too few calls for a tail estimate" in warnings[0]
    assert shown["warnings"] == [warnings[0].removeprefix("warning: ")]
    bootstrap, order = send["p99_ci95"]
    assert order["high"] is None  # the data alone cannot bound it
    # the model's interval is there, and much wider than from 200 calls
    assert bootstrap["high"] / bootstrap["low"] > 1.3


def test_the_fitted_profile_gets_the_same_recommendation_from_the_tuner(calibrated: Any, tmp_path: Path) -> None:
    _, _, folder = calibrated
    # the calibrated files beside the scenarios: a scenario's [server] profile must be in its folder
    shutil.copytree(folder, tmp_path / "calibrated")
    folder = tmp_path / "calibrated"
    (tmp_path / "true.toml").write_text(f'[latency]\nsend_message = "{TRUE}"\n')
    # a median 30% too high: the scenario is one where the latency changes the answer
    (tmp_path / "slow.toml").write_text('[latency]\nsend_message = "lognormal(26, 58.5)"\n')
    answers = {}
    for name, profile in (("true", tmp_path / "true.toml"), ("fitted", folder / "fitted.toml"),
                          ("slow", tmp_path / "slow.toml")):
        scenario = tmp_path / f"{name}.scenario.toml"
        scenario.write_text(SCENARIO.format(profile=profile))
        result = CliRunner().invoke(main, ["tune", str(scenario), "--out", str(tmp_path / name), *TUNE])
        assert result.exit_code == 0, result.output
        answers[name] = json.loads(result.stdout)["recommendation"]["label"]
    assert answers["fitted"] == answers["true"] == "window=7 (0.25 starts/s)"
    assert answers["slow"] != answers["true"]


def test_the_profile_loads_unchanged_in_run_and_sweep(calibrated: Any, tmp_path: Path) -> None:
    shown, _, folder = calibrated
    spec = shown["endpoints"]["send_message"]["best"]
    profile = load_profile(folder / "fitted.toml")
    assert str(profile.latency_of(Endpoint.SEND_MESSAGE)) == spec and profile.enterprise is False
    # run --profile FILE plays exactly what the same distribution given as a flag plays
    runs = []
    for flags in (["--profile", str(folder / "fitted.toml")], ["--latency", f"send_message={spec}",
                                                               "--latency", "default=fixed(0.05)"]):
        result = CliRunner().invoke(main, ["run", "--files", "6", "--size", "3", "--mode", "virtual", "--json",
                                           "--seed", "4", *flags])
        assert result.exit_code == 0, result.output
        runs.append(json.loads(result.stdout))
    assert runs[0]["makespan_s"] == runs[1]["makespan_s"] and runs[0]["files_ok"] == 6
    # and a sweep's [server] profile = "FILE", from another folder (which the user allows)
    scenario = tmp_path / "sweep.toml"
    scenario.write_text(SCENARIO.format(profile=folder / "fitted.toml").replace("repetitions = 4", "repetitions = 1"))
    result = CliRunner().invoke(main, ["sweep", str(scenario), "--out", str(tmp_path / "out"), "--jobs", "1", "--json",
                                       "--allow-outside-paths"])
    assert result.exit_code == 0, result.output
    assert len(load_runs(tmp_path / "out")) == 1  # the one case


def test_the_csvs_and_the_plot_are_written_beside_the_profile(calibrated: Any) -> None:
    shown, _, folder = calibrated
    assert Path(shown["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    durations = shown["durations_csv"]
    assert set(durations) == {"indexing_status", "persona", "create_chat_session", "send_message"}
    empirical = parse_distribution(f"empirical({Path(durations['send_message']).name})", "test", folder)
    assert len(empirical.observations) == 200  # type: ignore[attr-defined]
    assert empirical.quantile(0.5) == pytest.approx(shown["endpoints"]["send_message"]["data_median_s"])
    calls = Path(shown["calls_csv"]).read_text().splitlines()
    assert len(calls) == 1 + shown["calls"] and calls[0].startswith("kind,id,endpoint,")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["fitted.toml", "fitted.calls.csv", "fitted.fit.png",
         *(f"fitted.{name}.csv" for name in durations)])  # and nothing half-written left behind


def test_the_header_says_when_against_what_and_from_how_many_calls(calibrated: Any, mock_url: str) -> None:
    shown, _, folder = calibrated
    header = [line for line in (folder / "fitted.toml").read_text().splitlines() if line.startswith("# ")][:4]
    assert "onyx-bench calibrate" in header[0] and shown["started_at"] in header[0]
    assert mock_url in header[1] and "mock at time scale 0.0002" in header[1]
    assert "from 801 calls: 200 files" in header[2] and "1 s between them" in header[2]
    assert "AIC" in header[3]


def test_bad_input_is_one_line_and_exit_2_before_any_call(tmp_path: Path) -> None:
    (tmp_path / "taken.toml").write_text("")
    cases = [(["--files", "3", "--out", str(tmp_path / "p.toml")], "--target"),
             (["--target", "http://127.0.0.1:1", "--files", "3", "--out", str(tmp_path / "no" / "p.toml")],
              "is not a folder"),
             (["--target", "http://127.0.0.1:1", "--files", "3", "--out", str(tmp_path / "taken.toml")], "--force"),
             (["--target", "http://127.0.0.1:1", "--files", "3", "--out", str(tmp_path / "p.toml")], "cannot reach"),
             (["--target", "http://127.0.0.1:1", "--files", "300", "--out", str(tmp_path / "p.toml")], "--max-calls")]
    for args, words in cases:
        result = CliRunner(env=NO_CREDENTIALS).invoke(main, ["calibrate", *args])
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and lines[0].startswith("onyx-bench: error: "), lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.toml"]


def test_a_dry_run_says_what_it_would_call_and_calls_nothing(tmp_path: Path) -> None:
    result = CliRunner(env=NO_CREDENTIALS).invoke(main, ["calibrate", "--target", "http://127.0.0.1:1", "--files",
                                                         "5", "--dry-run", "--out", str(tmp_path / "p.toml")])
    assert result.exit_code == 0, result.output
    assert "dry run: no call made" in result.stdout and "sequential over 5 files" in result.stdout
    assert not list(tmp_path.iterdir())


# -- the statistics, on their own ---------------------------------------------------------------


def test_faults_come_back_as_the_probabilities_the_mock_was_given(tmp_path: Path) -> None:
    # A virtual run (no server process): 200 files, faults on two endpoints; send-message's reset
    # takes precedence over its error packet, which is seen only where no reset fired.
    profile = profile_from_mapping({"seed": 3, "latency": {"send_message": TRUE},
                                    "faults": {"send_message": {"reset": 0.1, "error_packet": 0.1},
                                               "create_chat_session": {"http_500": 0.05}}}, "test")
    result = run_blocking(RunConfig(files=200, strategy=Sequential(retry=RetryPolicy.parse("none"), pause_s=1.0),
                                    profile=profile, mode=Mode.VIRTUAL))
    target = ResolvedTarget("http://mock-onyx.in-process", True, profile, 1.0)
    calibration = fit_run(target, Settings(files=200, pause_s=1.0), result, "2025-01-01T00:00:00+00:00", 0.1)
    rates = {(fit.endpoint, rate.kind): rate for fit in calibration.endpoints for rate in fit.faults}
    assert set(rates) == {("send_message", "reset"), ("send_message", "error_packet"),
                          ("create_chat_session", "http_500")}
    for key, truth in ((("send_message", "reset"), 0.1), (("send_message", "error_packet"), 0.1),
                       (("create_chat_session", "http_500"), 0.05)):
        rate = rates[key]
        # the inversion: error packets observed only where no reset fired
        seen = truth * (0.9 if key[1] == "error_packet" else 1.0)
        assert rate.share.holds(seen), (key, rate)
        assert rate.probability == pytest.approx(rate.observed / (1 - (rates[("send_message", "reset")].observed
                                                                        if key[1] == "error_packet" else 0.0)))
    written = write_all(calibration, Outputs(tmp_path / "faulty.toml"), "best")
    loaded = load_profile(written[-1])
    assert loaded.faults_of(Endpoint.SEND_MESSAGE) == {
        FaultKind.RESET: pytest.approx(rates[("send_message", "reset")].probability, rel=1e-5),
        FaultKind.ERROR_PACKET: pytest.approx(rates[("send_message", "error_packet")].probability, rel=1e-5)}
    # a reset or error-packet stream is a fault, not a latency: only whole answers are timed
    send = next(fit for fit in calibration.endpoints if fit.endpoint == "send_message")
    assert len(send.durations) == send.calls - sum(rate.count for rate in send.faults)


def test_a_failure_while_writing_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = profile_from_mapping({"seed": 1, "latency": {"send_message": TRUE}}, "test")
    result = run_blocking(RunConfig(files=5, strategy=Sequential(retry=RetryPolicy.parse("none")),
                                    profile=profile, mode=Mode.VIRTUAL))
    calibration = fit_run(ResolvedTarget("http://x", True, profile, 1.0), Settings(files=5), result, "now", 0.0)

    def broken(*_: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("harness.calibrate.write.save_plot", broken)
    with pytest.raises(OSError):
        write_all(calibration, Outputs(tmp_path / "p.toml"), "best")
    assert list(tmp_path.iterdir()) == []


def test_error_kinds_map_to_the_mocks_fault_kinds_and_the_rest_is_named() -> None:
    assert fault_of(None, 200) is None
    assert fault_of("http_status", 500) is FaultKind.HTTP_500 and fault_of("http_status", 504) is FaultKind.HTTP_503
    assert fault_of("rate_limited", 429) is FaultKind.HTTP_429 and fault_of("timeout", None) is FaultKind.HANG
    assert fault_of("http_status", 403) == "http_status 403" and fault_of("refused", None) == "refused"
    # kind K is seen only where no kind before it fired: 5% http_500 and 4.75% reset are 5% each
    rates = fault_rates([FaultKind.HTTP_500] * 100 + [FaultKind.RESET] * 95 + [None] * 1805 + ["refused"])
    assert [(r.kind, r.probability) for r in rates] == [
        ("http_500", pytest.approx(100 / 2001)), ("reset", pytest.approx((95 / 2001) / (1 - 100 / 2001))),
        ("refused", None)]


def test_order_statistics_bound_a_p99_from_above_only_from_368_calls() -> None:
    assert calls_to_bound(0.99) == 368 and calls_to_bound(0.5) == 6
    rng = np.random.default_rng(0)
    assert order_statistic_interval(rng.random(367), 0.99).high is None
    assert order_statistic_interval(rng.random(368), 0.99).high is not None
    assert order_statistic_interval(rng.random(5), 0.5).high is None


def test_aic_tells_the_families_apart_and_fixed_wins_only_on_constant_data() -> None:
    rng = np.random.default_rng(2)
    sigma = math.log(TRUE_P99 / TRUE_MEDIAN) / Z99
    draws = {"lognormal": TRUE_MEDIAN * np.exp(sigma * rng.standard_normal(500)),
             "uniform": rng.uniform(15, 30, 500), "normal": rng.normal(20, 3, 500)}
    for family, x in draws.items():
        fits = fit_all(x)
        assert fits[0].family == family, [(f.family, f.aic) for f in fits]
        assert all(f.ks < 0.1 for f in fits if f.family == family)
    assert [f.spec for f in fit_all(np.full(10, 0.05))] == ["fixed(0.05)"]
    lognormal = next(f for f in fit_all(draws["lognormal"]) if f.family == "lognormal").distribution
    assert isinstance(lognormal, LogNormal) and lognormal.median == pytest.approx(TRUE_MEDIAN, rel=0.05)


def test_against_a_real_onyx_it_asks_first_then_times_each_call_on_the_wall_clock(
        servers: list[str], tmp_path: Path) -> None:
    url = servers[1]
    args = ["calibrate", "--target", url, "--files", "12", "--pause", "0.005", "--out", str(tmp_path / "real.toml")]
    wrong = CliRunner(env={**WITH_KEY, "ONYX_API_KEY": "on_wrong"}).invoke(main, [*args, "--yes"])
    assert wrong.exit_code == 2 and "refuses the credentials given" in wrong.stderr.strip().splitlines()[-1]
    refused = CliRunner(env=WITH_KEY).invoke(main, args)  # 12 chats, no terminal, no --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr.strip().splitlines()[-1]
    assert not list(tmp_path.iterdir())
    result = CliRunner(env=WITH_KEY).invoke(main, [*args, "--yes", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert not shown["is_mock"] and shown["time_scale"] == 1.0 and shown["source"] == "measured"
    assert "a real Onyx: real time" in (tmp_path / "real.toml").read_text().splitlines()[1]
    # the key it sent is in no output: not printed, not in the profile, the CSVs or the plot
    assert all(SECRET not in run.output for run in (wrong, refused, result))
    assert len(list(tmp_path.iterdir())) == 3 + len(shown["durations_csv"]) and not [
        path.name for path in tmp_path.iterdir() if SECRET.encode() in path.read_bytes()]
    # each chat measured on the wall clock: the mock's draw at its time scale, and the harness's
    # own time on top (it cannot end before the server's wait, less the 0.5 ms it wakes early)
    calls = np.genfromtxt(tmp_path / "real.calls.csv", delimiter=",", names=True, dtype=None, encoding="utf-8")
    chats = calls[calls["endpoint"] == "send_message"]
    scale = float(REAL_SCALE)
    assert len(chats) == 12 and (chats["measured_s"] >= chats["drawn_latency_s"] * scale - 0.0006).all()
    assert float(np.median(chats["measured_s"] - chats["drawn_latency_s"] * scale)) < 0.01
    # 12 calls of each endpoint: too few for a tail, said of every endpoint with a spread
    assert {w.split(":")[0] for w in shown["warnings"]} >= {"send_message"}
    assert shown["error_latency"]["calls"] == 12  # the simple API's 404s, timed as the profile's error_latency
    assert load_profile(tmp_path / "real.toml").error_latency is not None


def test_a_pause_waits_between_files_and_nowhere_else() -> None:
    profile = profile_from_mapping({"seed": 2, "latency": {"send_message": TRUE}}, "test")
    result = run_blocking(RunConfig(files=3, strategy=Sequential(retry=RetryPolicy.parse("none"), pause_s=7.0),
                                    profile=profile, mode=Mode.VIRTUAL))
    files = result.outcomes
    assert [round(b.start_s - a.end_s, 6) for a, b in zip(files, files[1:], strict=False)] == [7.0, 7.0]
    assert result.summary.makespan_s == pytest.approx(sum(f.duration_s for f in files) + 14.0, abs=1e-6)
    assert result.summary.expected_makespan_s == pytest.approx(result.summary.makespan_s, abs=1e-6)


def test_a_scenarios_server_profile_file_is_read_beside_the_scenario_and_its_csvs_beside_itself(
        tmp_path: Path) -> None:
    from scenarios import load_scenario

    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "chats.csv").write_text("duration_s\n10\n20\n30\n")
    (tmp_path / "profiles" / "p.toml").write_text(
        'error_latency = "fixed(0.02)"\n[latency]\nsend_message = "empirical(chats.csv)"\npersona = "fixed(1)"\n')
    scenario = tmp_path / "s.toml"
    scenario.write_text(SCENARIO.format(profile="profiles/p.toml") + '\n[server.latency]\npersona = "fixed(2)"\n')
    loaded = load_scenario(str(scenario))
    profile = loaded.scenario.profile(3, loaded.source, loaded.base_dir)
    assert profile.latency_of(Endpoint.SEND_MESSAGE).quantile(0.5) == 20.0  # the CSV beside the profile
    assert str(profile.latency_of(Endpoint.PERSONA)) == "fixed(2)"  # the scenario's [server] on top
    assert str(profile.error_latency) == "fixed(0.02)" and profile.seed == 5 * 1000 + 3
    (tmp_path / "profiles" / "p.toml").write_text("seed = 3\n")
    result = CliRunner().invoke(main, ["sweep", str(scenario), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "seed" in result.stderr and "is set per scenario" in result.stderr


def test_a_sweep_resumes_only_with_the_profile_files_it_started_with(tmp_path: Path) -> None:
    # the scenario's text stays the same when a file it reads changes: the manifest's fingerprint
    # of the resolved server profile is what tells
    (tmp_path / "chats.csv").write_text("duration_s\n10\n20\n")
    (tmp_path / "p.toml").write_text('[latency]\nsend_message = "empirical(chats.csv)"\n')
    scenario = tmp_path / "s.toml"
    scenario.write_text(SCENARIO.format(profile="p.toml"))
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["sweep", str(scenario), "--out", str(out), "--jobs", "1"]).exit_code == 0
    (tmp_path / "chats.csv").write_text("duration_s\n10\n21\n")
    changed = CliRunner().invoke(main, ["sweep", str(scenario), "--out", str(out), "--resume"])
    assert changed.exit_code == 2 and "different server profile" in changed.stderr
    (tmp_path / "chats.csv").write_text("duration_s\n10\n20\n")
    assert CliRunner().invoke(main, ["sweep", str(scenario), "--out", str(out), "--resume"]).exit_code == 0


def test_calls_a_cap_held_back_are_left_out_of_the_fit() -> None:
    import dataclasses

    from harness.calibrate.measure import sent_calls
    from harness.call_plan import NOT_SENT

    profile = profile_from_mapping({"seed": 1}, "test")
    result = run_blocking(RunConfig(files=3, strategy=Sequential(retry=RetryPolicy.parse("none")),
                                    profile=profile, mode=Mode.VIRTUAL))
    held = dataclasses.replace(result.outcomes[2], reason=f"send_message: transport: {NOT_SENT}: --max-calls 10")
    capped = dataclasses.replace(result, outcomes=(*result.outcomes[:2], held))
    calls, held_back = sent_calls(capped)
    assert held_back == 1 and len(calls) == len(result.calls_frame()) - 1
    assert calls.iloc[-1]["endpoint"] == "simple_api" and calls.iloc[-1]["id"] == 3  # its send-message dropped
