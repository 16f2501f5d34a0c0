"""Shared fixtures: the real mock server on an ephemeral loopback port, talked to with httpx; and
what lets the suite use its second core: a command in the background (``Background``), runs forked
two at a time (``ForkedRuns``), never beside a test that did not ask for them."""

from __future__ import annotations

import gc
import multiprocessing
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from concurrent import futures
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.runner import RunConfig, RunResult, run_blocking
from mock_onyx import Profile, RunningServer, profile_from_mapping, running_server

# Wall seconds per simulated second in tests: a 22 s call takes 88 ms, and the extractor's
# shortest timeout (10 s to create a chat session) is 40 ms of wall time, which a loaded 2-core
# machine does not overrun by accident (at 0.001 it did).
FAST_SCALE = 0.004


@pytest.fixture(scope="session", autouse=True)
def frozen_start_of_session() -> Iterator[None]:
    """Every real-mode run collects the garbage before it starts measuring (harness.runner.GC_PAUSE),
    and in this process a full collection walks everything the session has imported and collected:
    96 ms a run, 9.4 s a suite. What exists when the first test starts is moved out of the
    collector's sight (``gc.freeze``), after a collection, so only live objects are frozen and
    only ones no test made: whatever a test leaves behind is collected (and any leak it shows
    reported) as before."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def make_profile(**table: Any) -> Profile:
    table.setdefault("time_scale", FAST_SCALE)
    return profile_from_mapping(table, "test profile")


def listening_url(process: subprocess.Popen[str]) -> str:
    """The URL a server process (``onyx-bench serve``, or a stand-in) prints first: "listening on URL"."""
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line.startswith("listening on http://"), process.stderr.read() if process.stderr else line
    return line.removeprefix("listening on ")


@asynccontextmanager
async def mock_client(**table: Any) -> AsyncIterator[tuple[RunningServer, httpx.AsyncClient]]:
    """A running mock with ``table`` as its profile, and an httpx client pointed at it."""
    async with running_server(make_profile(**table)) as server, \
            httpx.AsyncClient(base_url=server.url, timeout=10.0) as client:
        yield server, client


@pytest.fixture
def mock() -> Callable[..., Any]:
    return mock_client


def send_message_body(session_id: str, file_ids: list[int] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "chat_session_id": session_id, "message": "Summarize this file.", "parent_message_id": None,
        "file_descriptors": [], "prompt_id": None, "search_doc_ids": None,
        "retrieval_options": {"run_search": "never", "real_time": False},
        "user_file_ids": file_ids if file_ids is not None else [12],
    }
    body.update(extra)
    return body


async def new_session(client: httpx.AsyncClient, description: str = "file 12") -> str:
    response = await client.post("/chat/create-chat-session",
                                 json={"persona_id": 0, "description": description})
    assert response.status_code == 200, response.text
    return str(response.json()["chat_session_id"])


SCRIPT = Path(sys.executable).with_name("onyx-bench")
# The suite is timed on 2 cores and runs in one process: a process more runs on the other core.
CORES = 2

# What runs beside the tests (Background commands, ForkedRuns), each started by a fixture: while
# it runs, only the tests that ask for that fixture run; any other test first waits for it to end
# (alone_unless_beside_what_runs_for_it).
BESIDE: list[Background | ForkedRuns] = []


class Background:
    """``onyx-bench ARGS``, the installed script in a process of its own, started by the fixture
    named ``fixture`` (when a test first asks for it) and collected by the test that checks it;
    ``folder`` holds its stdout and stderr. A command goes to the background only beside tests
    that it cannot change and that cannot change it: exact ones on virtual time, a check that load
    cannot turn, or one that runs as another mostly idle process does (a few percent of a core)."""

    def __init__(self, fixture: str, args: list[str], folder: Path) -> None:
        self.fixture = fixture
        self.folder = folder
        # files, not pipes: nothing reads them while the command runs
        self._stdout, self._stderr = (folder / "stdout").open("w+"), (folder / "stderr").open("w+")
        self.process = subprocess.Popen([str(SCRIPT), *args], stdout=self._stdout, stderr=self._stderr, text=True)
        BESIDE.append(self)

    def wait(self, timeout_s: float = 120.0) -> None:
        self.process.wait(timeout=timeout_s)

    def result(self, timeout_s: float = 120.0) -> tuple[int, str, str]:
        """Its exit status, stdout and stderr, once it has ended."""
        returncode = self.process.wait(timeout=timeout_s)
        texts = []
        for captured in (self._stdout, self._stderr):
            captured.seek(0)
            texts.append(captured.read())
        return returncode, texts[0], texts[1]

    def stop(self) -> None:
        if self.process.poll() is None:  # only if the test that collects it did not run
            self.process.kill()
        self.process.wait()
        self._stdout.close()
        self._stderr.close()
        BESIDE.remove(self)


class ForkedRuns:
    """The runs that the selected cases of one parametrized test check, each run alone in a process
    forked from this one as ``run_blocking`` runs it (its own event loop, its own embedded mock),
    ``CORES`` at a time, all started when the first case asks (fixture ``fixture``); each case then
    checks its own run's result here, in its own test. For runs that mostly wait (on sockets, at a
    small time scale): the suite is one process, and the other core would idle through them."""

    def __init__(self, fixture: str, configs: dict[Hashable, RunConfig]) -> None:
        self.fixture = fixture
        self._pool = ProcessPoolExecutor(CORES, mp_context=multiprocessing.get_context("fork"))
        self._runs = {key: self._pool.submit(run_blocking, config) for key, config in configs.items()}
        BESIDE.append(self)

    def __getitem__(self, key: Hashable) -> RunResult:
        return self._runs[key].result(timeout=120)

    def wait(self, timeout_s: float = 120.0) -> None:
        futures.wait(self._runs.values(), timeout=timeout_s)

    def stop(self) -> None:
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():  # a run that never ended (its test failed on it already)
                process.kill()
                process.join()
        BESIDE.remove(self)


def selected_params(request: pytest.FixtureRequest, test: str) -> list[dict[str, Any]]:
    """The parameters of each selected case of ``test``, a test function in the asking module."""
    return [item.callspec.params for item in request.session.items
            if item.module is request.module and getattr(item, "originalname", None) == test]


@pytest.fixture(autouse=True)
def alone_unless_beside_what_runs_for_it(request: pytest.FixtureRequest) -> None:
    for beside in BESIDE:
        if beside.fixture not in request.fixturenames:
            beside.wait()
