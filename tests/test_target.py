"""A real Onyx as ``--target``, safely (issue 14): tested against the mock started apart with
``onyx-bench serve``, posing as a real Onyx behind its web proxy (``--as-real-onyx
--behind-proxy``) and demanding one key (``--require-auth`` with ONYX_MOCK_API_KEY), so that the
harness takes exactly the path a real server gets: /api found, real time, confirmation, caps.

The servers run at time scale 1 with latencies of 1-10 ms, so a run of a few files takes tens of
milliseconds; the commands run in this process (click's CliRunner, whose stdin is no terminal).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

import harness.cli_target
import harness.target
from harness.call_plan import CappedTransport, CapReached
from harness.cli import main
from harness.store import load_runs
from harness.sweep import failure_of
from harness.target import (
    CONFIRM_ABOVE,
    ResolvedTarget,
    confirm_send_messages,
    load_credentials,
    resolve_target,
)
from harness.transports import Credentials
from mock_onyx.errors import ConfigError
from tests.conftest import listening_url

SCRIPT = Path(sys.executable).with_name("onyx-bench")
SECRET = f"on_PLANTED_SECRET_{uuid.uuid4().hex}"  # the one key the servers accept
PROFILE = """
time_scale = 1.0
error_latency = "fixed(0.001)"
[latency]
default = "fixed(0.001)"
send_message = "fixed(0.01)"
[faults.folder]
http_500 = 1.0  # only the caps' test asks for folders: every attempt fails, so retries pile up
"""
TINY = """
name = "tiny"
seed = 1
repetitions = 1
mode = "virtual"
[workload]
files = [2]
[[strategies]]
kind = "window"
size = 2
"""
NO_CREDENTIALS = {"ONYX_API_KEY": None, "ONYX_SESSION_COOKIE": None}
WITH_KEY = {"ONYX_API_KEY": SECRET, "ONYX_SESSION_COOKIE": None}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Two ``onyx-bench serve`` processes, started together: ``real`` poses as a real Onyx behind
    its proxy, ``mock`` is a plain mock (its /_mock/stats count every call); both want SECRET."""
    profile = tmp_path_factory.mktemp("profile") / "fast.toml"
    profile.write_text(PROFILE)
    flags = {"real": ["--as-real-onyx", "--behind-proxy"], "mock": []}
    processes = {name: subprocess.Popen(
        [str(SCRIPT), "serve", "--profile", str(profile), "--require-auth", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PATH": "/usr/bin:/bin", "ONYX_MOCK_API_KEY": SECRET}) for name, extra in flags.items()}
    try:
        yield {name: listening_url(process) for name, process in processes.items()}
    finally:
        for process in processes.values():
            process.terminate()
            process.communicate(timeout=10)


def invoke(args: list[str], env: dict[str, str | None], cwd: Path, **kwargs: object) -> Result:
    """``onyx-bench ARGS`` in this process, in ``cwd`` (where a default results folder would go)."""
    with contextlib.chdir(cwd):
        return CliRunner(env=env).invoke(main, args, **kwargs)  # type: ignore[arg-type]


def one_error_line(result: Result) -> str:
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("onyx-bench: error: "), result.output
    return lines[-1]


def total_requests(url: str) -> int:
    stats = httpx.get(f"{url}/_mock/stats", timeout=5).json()
    return sum(sum(by_status.values()) for by_status in stats["requests"].values())


def written(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def _stored_bytes(path: Path) -> bytes:
    """A file's bytes; a Parquet part's rows as CSV (its pages are compressed)."""
    if path.suffix != ".parquet":
        return path.read_bytes()
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas().to_csv().encode()


@pytest.mark.parametrize("command", ["run", "sweep"])
@pytest.mark.parametrize(("env", "words"), [
    (NO_CREDENTIALS, "refuses requests without credentials (HTTP 403"),
    ({"ONYX_API_KEY": "on_a_wrong_key", "ONYX_SESSION_COOKIE": None}, "refuses the credentials given (ONYX_API_KEY) (HTTP 403"),
])
def test_a_missing_or_wrong_key_is_one_line_and_exit_2_with_nothing_written(
        servers: dict[str, str], tmp_path: Path, command: str, env: dict[str, str | None], words: str) -> None:
    (tmp_path / "tiny.toml").write_text(TINY)
    args = (["run", "--files", "3"] if command == "run"
            else ["sweep", str(tmp_path / "tiny.toml"), "--out", str(tmp_path / "out")])
    result = invoke([*args, "--target", servers["real"]], env, tmp_path)
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert len(result.stderr.strip().splitlines()) == 1
    assert words in line and f"{servers['real']}/api" in line and "on_a_wrong_key" not in line
    assert result.stdout == "" and written(tmp_path) == [tmp_path / "tiny.toml"]


def test_a_planted_secret_reaches_no_output_file_stdout_or_stderr(servers: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "tiny.toml").write_text(TINY)
    (tmp_path / "credentials").write_text(f"# the tune's key comes from a file\nexport ONYX_API_KEY='{SECRET}'\n")
    url = servers["real"]
    results = [
        invoke(["run", "--files", "3", "--target", url, "--json"], WITH_KEY, tmp_path),
        invoke(["sweep", str(tmp_path / "tiny.toml"), "--target", url, "--out", str(tmp_path / "sweep")],
               WITH_KEY, tmp_path),
        invoke(["tune", str(tmp_path / "tiny.toml"), "--target", url, "--credentials-file",
                str(tmp_path / "credentials"), "--sizes", "1-2", "--screen-reps", "2", "--reps", "2",
                "--confirm-reps", "1", "--out", str(tmp_path / "tune")], NO_CREDENTIALS, tmp_path),
    ]
    for result in results:  # each got in with the key: it was sent, and accepted
        assert result.exit_code == 0, result.output
        assert SECRET not in result.stdout + result.stderr
        # the real-posing server was found under /api and run in real time, and each says so
        assert f"target {url}/api: a real Onyx (it serves no /_mock/profile): real time, time scale 1" in result.stderr
    # the report of the sweep (its HTML, Markdown, CSV tables and plots), built with the key in the
    # environment, joins the files searched
    report = invoke(["report", str(tmp_path / "sweep")], WITH_KEY, tmp_path)
    assert report.exit_code == 0, report.output
    assert SECRET not in report.stdout + report.stderr
    run = json.loads(results[0].stdout)
    assert run["files_ok"] == 3 and run["time_scale"] == 1.0 and run["model_makespan_s"] is None
    files = [path for path in written(tmp_path) if path.name != "credentials"]
    assert len(files) >= 10 and {"manifest.json", "tune.json"} <= {p.name for p in files}
    assert {p.parent.name for p in files if p.suffix == ".parquet"} == {"runs", "files", "events", "calls"}
    assert {".html", ".md", ".csv", ".png"} <= {p.suffix for p in files if "report" in p.parts}
    assert [p for p in files if p.parent == tmp_path / "tune" / "report" and p.suffix == ".html"]  # the tune's own
    assert not [path for path in files if SECRET.encode() in _stored_bytes(path)]
    manifest = json.loads((tmp_path / "sweep" / "manifest.json").read_text())
    assert manifest["overrides"] == {"mode": "real", "target": f"{url}/api"}
    assert json.loads((tmp_path / "tune" / "tune.json").read_text())["confirmation"]["target"] == f"{url}/api"


def test_an_error_that_quotes_a_credential_is_printed_and_stored_redacted(
        servers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def leaks(url: str, credentials: Credentials, allow_files: bool) -> None:
        raise RuntimeError(f"Invalid header value b'Bearer {credentials.api_key}'")

    monkeypatch.setattr(harness.cli_target, "resolve_target", leaks)
    result = invoke(["run", "--files", "1", "--target", servers["real"]], WITH_KEY, tmp_path)
    assert result.exit_code == 1 and "Traceback" in result.stderr  # a bug still shows where it is
    assert SECRET not in result.output and "Bearer [redacted]" in result.stderr
    with monkeypatch.context() as patched:  # a value set in the environment, also URL-quoted
        patched.setenv("ONYX_API_KEY", SECRET)
        patched.setenv("ONYX_SESSION_COOKIE", "a/b+c=d")
        failure = failure_of(RuntimeError(f"sent {SECRET} in ?session=a%2Fb%2Bc%3Dd"))
        assert failure.message == "sent [redacted] in ?session=[redacted]"
        assert SECRET not in failure.traceback and "a%2Fb" not in failure.traceback


def test_more_than_10_send_messages_against_a_real_onyx_are_refused_off_a_terminal_and_run_with_yes(
        servers: dict[str, str], tmp_path: Path) -> None:
    args = ["run", "--files", "11", "--strategy", "window", "--size", "4", "--target", servers["real"]]
    refused = invoke(args, WITH_KEY, tmp_path)
    assert refused.exit_code == 2 and refused.stdout == ""
    assert "11 send-message calls (each an LLM answer) against" in refused.stderr
    assert "--yes: 11 send-message calls against a real Onyx need a yes, and there is no terminal" in \
        one_error_line(refused)
    agreed = invoke([*args, "--yes", "--json"], WITH_KEY, tmp_path)
    assert agreed.exit_code == 0, agreed.output
    assert json.loads(agreed.stdout)["files_ok"] == 11
    # any number against a mock, and 10 or fewer against a real Onyx, are not asked about
    assert invoke(args[:-1] + [servers["mock"]], WITH_KEY, tmp_path).exit_code == 0
    real = ResolvedTarget(f"{servers['real']}/api", is_mock=False, profile=None, time_scale=1.0)
    confirm_send_messages(real, CONFIRM_ABOVE, None, yes=False)  # no terminal, and no question either
    with pytest.raises(ConfigError, match="--yes"):
        confirm_send_messages(real, CONFIRM_ABOVE + 1, None, yes=False)


@pytest.mark.parametrize(("answer", "status"), [("n\n", 1), ("y\n", 0)])
def test_on_a_terminal_the_question_is_asked_and_no_writes_nothing(
        servers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str, status: int) -> None:
    monkeypatch.setattr(harness.target, "stdin_is_terminal", lambda: True)
    (tmp_path / "tiny.toml").write_text(TINY.replace("files = [2]", "files = [11]"))
    result = invoke(["sweep", str(tmp_path / "tiny.toml"), "--target", servers["real"], "--out",
                     str(tmp_path / "out")], WITH_KEY, tmp_path, input=answer)
    assert result.exit_code == status, result.output
    assert "Send them? [y/N]" in result.stderr
    if status:
        assert "declined: nothing was sent and nothing written" in one_error_line(result)
        assert not (tmp_path / "out").exists()
    else:
        assert len(load_runs(tmp_path / "out")) == 1


def test_a_dry_run_prints_the_plan_and_makes_no_call(servers: dict[str, str], tmp_path: Path) -> None:
    before = total_requests(servers["mock"])
    result = invoke(["run", "--files", "12", "--strategy", "window", "--size", "4", "--target", servers["mock"],
                     "--dry-run"], WITH_KEY, tmp_path)
    assert result.exit_code == 0, result.output
    assert total_requests(servers["mock"]) == before  # not even the check of what it is
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"dry run: no call made to {servers['mock']}")
    assert "GET /user/file/indexing-status?file_ids=ID, GET /persona" in lines[1]
    assert "POST /chat/send-message (streamed" in lines[1]
    # 4 calls per file, and the persona list for each file of the first window of 4
    assert "window=4 over 12 files: 52 calls per run, 12 of them send-message; at most 84 calls" in lines[2]
    assert "wall time against a real Onyx (real time): about" in result.stdout
    assert "credentials: ONYX_API_KEY from the environment" in result.stdout and SECRET not in result.output
    tune = invoke(["tune", "seed-table", "--target", servers["mock"], "--dry-run", "--out", "t"], WITH_KEY, tmp_path)
    assert tune.exit_code == 0 and "the winner (any of " in tune.stdout and not written(tmp_path)
    assert total_requests(servers["mock"]) == before


def test_the_caps_refuse_a_plan_over_them_and_stop_retries_at_max_calls(servers: dict[str, str], tmp_path: Path) -> None:
    url = servers["mock"]
    before = total_requests(url)
    wide = invoke(["run", "--files", "8", "--strategy", "window", "--size", "8", "--max-in-flight", "4",
                   "--target", url], WITH_KEY, tmp_path)
    assert wide.exit_code == 2 and "--max-in-flight: window=8 over 8 files runs up to 8 files at once, over " \
        "the cap of 4" in one_error_line(wide)
    many = invoke(["run", "--files", "5", "--max-calls", "20", "--target", url], WITH_KEY, tmp_path)
    assert many.exit_code == 2 and "--max-calls: batch=8 over 5 files makes 25 calls" in one_error_line(many)
    assert total_requests(url) == before  # both refused before any call
    # every folder fails (500), and 20 attempts each would make 40 calls: the 12th is the last sent
    capped = invoke(["run", "--files", "0", "--folders", "2", "--strategy", "window", "--size", "2", "--retry",
                     "fixed(20, 0.001)", "--max-calls", "12", "--max-in-flight", "2", "--target", url, "--json"],
                    WITH_KEY, tmp_path)
    assert capped.exit_code == 1
    run = json.loads(capped.stdout)
    assert total_requests(url) - before == 12 + 1  # and the probe's persona list
    assert [f["attempts"] for f in run["files"]] == [20, 20]  # the rest were tried, and held back
    assert run["server_peak_inflight"] <= 2 and run["client_peak_inflight"] <= 2
    assert all("not sent: the run reached --max-calls 12" in f["reason"] for f in run["files"])
    assert "caps: 2 item(s) failed on a call that --max-calls or --max-in-flight held back" in capped.stderr


class Answers(httpx.AsyncBaseTransport):
    """Answers every request at once, its body unread until the client reads or closes it (as
    a socket's would be: httpx's MockTransport reads it first, and so closes it before the client)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(b"ok"))


async def test_the_capped_transport_holds_calls_past_either_cap() -> None:
    transport = CappedTransport(Answers(), max_in_flight=2, max_calls=3)
    async with httpx.AsyncClient(transport=transport, base_url="http://onyx") as client:
        open_one = await client.send(client.build_request("GET", "/persona"), stream=True)
        open_two = await client.send(client.build_request("GET", "/persona"), stream=True)
        with pytest.raises(CapReached, match="2 calls were in flight"):
            await client.get("/persona")
        await open_one.aclose()
        await open_two.aclose()
        assert (await client.get("/persona")).status_code == 200
        with pytest.raises(CapReached, match="--max-calls 3"):
            await client.get("/persona")
        assert (await client.get("/_mock/stats")).status_code == 200  # the harness's own: not counted
    assert transport.sent == 3 and transport.not_sent == 2


def test_the_api_is_found_bare_under_api_or_not_at_all(servers: dict[str, str]) -> None:
    key = Credentials(api_key=SECRET)
    behind_proxy = asyncio.run(resolve_target(servers["real"] + "/", key))
    assert (behind_proxy.url, behind_proxy.is_mock, behind_proxy.time_scale) == (servers["real"] + "/api", False, 1.0)
    bare = asyncio.run(resolve_target(servers["mock"], key))
    assert (bare.url, bare.is_mock, bare.time_scale) == (servers["mock"], True, 1.0) and bare.profile is not None
    given = asyncio.run(resolve_target(servers["mock"] + "/api", key))  # as given, and still known as a mock
    assert (given.url, given.is_mock, given.root) == (servers["mock"] + "/api", True, servers["mock"])
    with pytest.raises(ConfigError, match=r"no Onyx API there \(.*/web/persona: HTTP 404 text/html; "
                                          r".*/web/api/persona: HTTP 404 text/html\)"):
        asyncio.run(resolve_target(servers["real"] + "/web", key))
    with pytest.raises(ConfigError, match="cannot reach http://127.0.0.1:1"):
        asyncio.run(resolve_target("http://127.0.0.1:1", key))


@pytest.mark.parametrize(("args", "flag"), [
    (["--yes"], "--yes"),
    (["--dry-run"], "--dry-run"),
    (["--max-calls", "5"], "--max-calls"),
    (["--target", f"http://user:{SECRET}@127.0.0.1:1"], "--target"),
    (["--target", "http://127.0.0.1:1/?token=abc"], "--target"),
])
def test_a_flag_that_needs_a_target_or_a_url_that_carries_a_secret_is_refused(
        tmp_path: Path, args: list[str], flag: str) -> None:
    result = invoke(["run", "--files", "1", *args], NO_CREDENTIALS, tmp_path)
    assert result.exit_code == 2
    line = one_error_line(result)
    assert line.startswith(f"onyx-bench: error: {flag}: ") and SECRET not in result.output


def test_credentials_come_from_the_environment_or_a_file_never_both(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONYX_API_KEY", raising=False)
    monkeypatch.delenv("ONYX_SESSION_COOKIE", raising=False)
    good = tmp_path / "good"
    good.write_text(f'\n# comment\nONYX_SESSION_COOKIE = "{SECRET}"\n')
    assert load_credentials(good).session_cookie == SECRET and load_credentials(good).api_key is None
    assert SECRET not in repr(load_credentials(good))
    for text, words in [(f"{SECRET}\n", "line 1 is not ONYX_API_KEY=... or ONYX_SESSION_COOKIE=..."),
                        (f"OTHER_KEY={SECRET}\n", "(OTHER_KEY)"),
                        (f"ONYX_API_KEY=a\nONYX_API_KEY={SECRET}\n", "line 2 sets ONYX_API_KEY again"),
                        ("# nothing\n", "sets neither"),
                        (f"ONYX_API_KEY=on_{SECRET} x\n", "holds spaces")]:
        bad = tmp_path / "bad"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")) as error:
            load_credentials(bad)
        assert SECRET not in str(error.value)
    monkeypatch.setenv("ONYX_API_KEY", "on_from_the_environment")
    assert load_credentials(None).api_key == "on_from_the_environment"
    with pytest.raises(ConfigError, match="the environment already sets ONYX_API_KEY"):
        load_credentials(good)
