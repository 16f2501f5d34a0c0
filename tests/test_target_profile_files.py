"""A ``--target``'s profile names no file this machine reads, unless ``--allow-outside-paths``.

A mock's ``/_mock/profile`` writes an ``empirical`` distribution as ``empirical(<path on the
server>)``: read as it stands, any server answering that route (possibly hostile, possibly on
another machine) could make onyx-bench open a local file and quote its first non-number cell. Two
servers, each its own process: ``onyx-bench serve --profile P`` whose P names a valid CSV beside
it (the target that is ours, on this machine), and a few lines of ``http.server`` that pose as a
mock naming a file holding a planted string (the hostile one). Without the flag every ``--target``
command (run, sweep, tune, calibrate) refuses either in one line, exit 2, stdout empty, nothing
written; with it, ours runs. The serve runs at time scale 0.001 on 1-3 simulated ms.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_onyx.distributions import ServerFileRefused
from mock_onyx.errors import ConfigError
from mock_onyx.profile import profile_from_server
from tests.conftest import listening_url
from tests.test_target import NO_CREDENTIALS, TINY, invoke, one_error_line, written

SCRIPT = Path(sys.executable).with_name("onyx-bench")
PLANTED = f"PLANTED_{uuid.uuid4().hex}"  # the first cell of a non-number row: quoted if the file is read
PROFILE = """
time_scale = 0.001
error_latency = "fixed(0.001)"
[latency]
default = "fixed(0.001)"
send_message = "empirical(durations.csv)"
"""
HOSTILE = """
import http.server, json, sys

DOCUMENT = json.dumps({"latency": {"send_message": "empirical(%s)" % sys.argv[1]}}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = {"/persona": b"[]", "/_mock/profile": DOCUMENT}.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
server.serve_forever()
"""
FIX = ("fix: pass --allow-outside-paths if the target runs on this machine and you trust it, or give the server "
       "a distribution without a file")


def _started(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={"PATH": "/usr/bin:/bin"})
    return process, listening_url(process)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``ours``: a serve whose profile names its own valid CSV; ``hostile``: a fake mock naming
    ``planted.csv``. Their URLs, and the two CSVs' resolved paths (``csv``, ``planted``)."""
    folder = tmp_path_factory.mktemp("served")
    (folder / "durations.csv").write_text("seconds\n1\n2\n3\n")
    (folder / "planted.csv").write_text(f"seconds\n{PLANTED}\n1\n")
    (folder / "profile.toml").write_text(PROFILE)
    (folder / "hostile.py").write_text(HOSTILE)
    planted = str((folder / "planted.csv").resolve())
    processes = [_started([str(SCRIPT), "serve", "--profile", str(folder / "profile.toml")]),
                 _started([sys.executable, str(folder / "hostile.py"), planted])]
    try:
        yield {"ours": processes[0][1], "hostile": processes[1][1],
               "csv": str((folder / "durations.csv").resolve()), "planted": planted}
    finally:
        for process, _ in processes:
            process.terminate()
            process.communicate(timeout=10)


def _args(command: str, url: str, folder: Path) -> list[str]:
    (folder / "tiny.toml").write_text(TINY)
    return {"run": ["run", "--files", "2", "--json"],
            "sweep": ["sweep", str(folder / "tiny.toml"), "--out", str(folder / "out")],
            "tune": ["tune", str(folder / "tiny.toml"), "--sizes", "1-2", "--screen-reps", "2", "--reps", "2",
                     "--confirm-reps", "1", "--no-report", "--out", str(folder / "out")],
            "calibrate": ["calibrate", "--files", "2", "--pause", "0", "--out", str(folder / "fitted.toml")],
            }[command] + ["--target", url]


@pytest.mark.parametrize("server", ["ours", "hostile"])
@pytest.mark.parametrize("command", ["run", "sweep", "tune", "calibrate"])
def test_without_the_flag_a_target_naming_a_file_is_one_line_exit_2_and_nothing_written(
        servers: dict[str, str], tmp_path: Path, command: str, server: str) -> None:
    result = invoke(_args(command, servers[server], tmp_path), NO_CREDENTIALS, tmp_path)
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    path = servers["csv" if server == "ours" else "planted"]
    assert line == (f"onyx-bench: error: {servers[server]}/_mock/profile: latency.send_message: the target's "
                    f"profile names empirical({path!r}), a file path: onyx-bench reads files a server names only "
                    f"with --allow-outside-paths; {FIX}")
    assert result.stdout == "" and PLANTED not in result.stderr
    assert written(tmp_path) == [tmp_path / "tiny.toml"]


def test_with_the_flag_run_sweep_and_calibrate_read_our_own_servers_csv(servers: dict[str, str],
                                                                         tmp_path: Path) -> None:
    url = servers["ours"]
    run = invoke([*_args("run", url, tmp_path), "--allow-outside-paths"], NO_CREDENTIALS, tmp_path)
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["files_ok"] == 2
    assert f"target {url}: an onyx-bench mock; its own profile applies, at its time scale 0.001" in run.stderr
    for command, output in (("sweep", "out/manifest.json"), ("calibrate", "fitted.toml")):
        (tmp_path / command).mkdir()
        result = invoke([*_args(command, url, tmp_path / command), "--allow-outside-paths"], NO_CREDENTIALS,
                        tmp_path)
        assert result.exit_code == 0, result.output
        assert (tmp_path / command / output).is_file()


def test_a_servers_file_is_refused_before_it_is_opened_and_read_only_when_allowed(servers: dict[str, str]) -> None:
    document = {"latency": {"send_message": f"empirical({servers['planted']})"}}
    with pytest.raises(ServerFileRefused) as refused:
        profile_from_server(document, "http://x/_mock/profile")
    assert PLANTED not in str(refused.value)
    # allowed, the same path is read as a flag's would be: the planted row is what a read would quote
    with pytest.raises(ConfigError, match=PLANTED) as read:
        profile_from_server(document, "http://x/_mock/profile", allow_files=True)
    assert not isinstance(read.value, ServerFileRefused)
