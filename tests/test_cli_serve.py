"""``onyx-bench serve`` from the installed console script, and bad flags as one line with exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner

from harness.cli import main

SCRIPT = Path(sys.executable).with_name("onyx-bench")


def start_serve(*flags: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([str(SCRIPT), "serve", "--time-scale", "0.001", *flags],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    return process, first


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_announces_its_address_serves_and_stops_cleanly(signum: int) -> None:
    process, first = start_serve("--latency", "persona=fixed(1)", "--seed", "3")
    try:
        assert first.startswith("listening on http://127.0.0.1:"), first
        url = first.removeprefix("listening on ")
        response = httpx.get(url + "/api/persona", timeout=5)
        assert response.status_code == 200 and response.headers["x-mock-latency-s"] == "1.000000"
        assert httpx.get(url + "/_mock/profile", timeout=5).json()["seed"] == 3
    finally:
        process.send_signal(signum)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "Traceback" not in err


@pytest.mark.parametrize(("args", "words"), [
    (["serve", "--bogus"], "No such option"),
    (["serve", "--latency", "send_message=uniform(30, 15)"], "latency.send_message"),
    (["serve", "--latency", "chat=fixed(1)"], "unknown endpoint 'chat'"),
    (["serve", "--fault", "send_message:explode=0.1"], "explode"),
    (["serve", "--fault", "send_message:reset=2"], "less than or equal to 1"),
    (["serve", "--time-scale", "-1"], "--time-scale"),
    (["serve", "--port", "70000"], "--port"),
    (["serve", "--profile", "/does/not/exist.toml"], "cannot read it"),
])
def test_bad_flags_exit_2_with_one_line(args: list[str], words: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and lines[0].startswith("onyx-bench: error: ")
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_a_busy_port_is_one_line_and_exit_2() -> None:
    process, first = start_serve()
    try:
        port = first.rsplit(":", 1)[1]
        busy = subprocess.run([str(SCRIPT), "serve", "--port", port], capture_output=True, text=True,
                              timeout=20, env={**os.environ})
        assert busy.returncode == 2 and "cannot listen there" in busy.stderr
        assert len(busy.stderr.strip().splitlines()) == 1
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.mark.slow
def test_two_runs_against_one_serve_draw_identical_per_file_latencies() -> None:
    # The mock counts attempts per run, not for its whole life: the second run of the same
    # command draws what the first drew, faults included, and reports its own stats.
    # time scale 0.01: the 10 s session timeout is 100 ms of wall time, which no stall reaches
    process, first = start_serve("--seed", "7", "--fault", "send_message:http_500=0.3",
                                 "--time-scale", "0.01")
    try:
        url = first.removeprefix("listening on ")
        runs = []
        for _ in range(2):
            result = CliRunner().invoke(main, ["run", "--files", "5", "--size", "5", "--target", url, "--json"])
            assert result.exit_code == 0, result.output
            runs.append(json.loads(result.stdout))
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    latencies = [[(c["id"], c["endpoint"], c["status_code"], c["drawn_latency_s"]) for c in run["calls"]]
                 for run in runs]
    assert latencies[0] == latencies[1] and len(latencies[0]) >= 5 * 4
    assert [f["status"] for f in runs[0]["files"]] == [f["status"] for f in runs[1]["files"]]
    assert all(1 <= run["server_peak_inflight"] <= 5 for run in runs)  # each run's own, not the server's


@pytest.mark.parametrize(("target", "words"), [
    ("http://127.0.0.1:1", "cannot reach http://127.0.0.1:1"),  # nothing listens on port 1
    ("not-a-url", "is not an http(s) URL"),
])
def test_a_target_that_cannot_be_reached_is_one_line_and_exit_2_before_any_file(
        target: str, words: str) -> None:
    result = CliRunner().invoke(main, ["run", "--files", "2", "--target", target])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "fix:" in lines[0]
    assert result.stdout == ""  # no table: no file was attempted


@pytest.mark.slow
def test_a_target_that_refuses_the_credentials_names_the_variables_to_set(tmp_path: Path) -> None:
    (tmp_path / "auth.toml").write_text("require_auth = true\n")
    process, first = start_serve("--profile", str(tmp_path / "auth.toml"))
    try:
        url = first.removeprefix("listening on ")
        result = CliRunner(env={"ONYX_API_KEY": "", "ONYX_SESSION_COOKIE": ""}).invoke(
            main, ["run", "--files", "2", "--target", url])
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "HTTP 403" in lines[0] and "ONYX_API_KEY" in lines[0]


def test_a_run_whose_every_file_failed_exits_1_and_says_why() -> None:
    result = CliRunner().invoke(main, ["run", "--files", "3", "--mode", "virtual",
                                       "--fault", "send_message:http_500=1.0"])
    assert result.exit_code == 1
    assert "failed" in result.stdout  # the table still shows each file and its reason
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "every item failed" in lines[0] and "http_status: 3" in lines[0]


@pytest.mark.parametrize("command", [["run", "--files", "1"], ["serve"], ["reproduce"]])
@pytest.mark.parametrize("value", ["nan", "inf", "0", "101"])
def test_a_time_scale_out_of_range_says_so(command: list[str], value: str) -> None:
    # nan used to read "should be less than or equal to 100"
    result = CliRunner().invoke(main, [*command, "--time-scale", value])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not a number above 0 and at most 100" in lines[0]


@pytest.mark.parametrize(("args", "flag"), [
    (["--strategy", "sequential", "--size", "4"], "--size"),
    (["--target", "http://127.0.0.1:1", "--seed", "3"], "--seed"),
    (["--target", "http://127.0.0.1:1", "--latency", "send_message=fixed(1)"], "--latency"),
    (["--target", "http://127.0.0.1:1", "--time-scale", "0.1"], "--time-scale"),
    (["--mode", "virtual", "--time-scale", "0.1"], "--time-scale"),
    (["--mode", "virtual", "--transport", "httpx"], "--transport"),
])
def test_a_flag_that_would_be_ignored_is_one_line_and_exit_2(args: list[str], flag: str) -> None:
    result = CliRunner().invoke(main, ["run", "--files", "1", *args])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"onyx-bench: error: {flag}:") and result.stdout == ""


def test_reproduce_refuses_a_time_scale_that_nothing_would_use(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["reproduce", "--no-cross-check", "--time-scale", "0.1",
                                       "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "--time-scale" in result.stderr and not (tmp_path / "r").exists()


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help_and_every_option_says_what_it_does(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and result.stdout.startswith("Usage: ")
    for parameter in main.commands[command].params:
        if isinstance(parameter, click.Option) and parameter.name != "help":
            assert parameter.help, f"{command} {parameter.opts[0]} has no help text"
