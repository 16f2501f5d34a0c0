"""Bad input, in numbers (issue 16): thousands of hypothesis examples per parser, and fuzzed
requests to every route of the real aiohttp mock.

- The distribution, profile (mapping and TOML file) and scenario parsers either accept or reject
  with ``ConfigError``, whose message is one line; never another exception (a traceback).
- A sample of rejected inputs through the CLI (``CliRunner``, in an empty working directory): exit
  status 2, one line on stderr, nothing written.
- Fuzzed methods, bodies, headers and query strings to every route: a 4xx with Onyx's error body
  (``{"detail": ...}``, or the 422 ``{"status_code": 422, "message": ..., "data": null}``), never
  a 5xx (the profile asks for no fault), and afterwards the server still serves ``/persona``.

The counts (examples, rejected, accepted; per status for the routes) close the run as a table.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from mock_onyx import profile_from_mapping, running_server
from mock_onyx.distributions import parse_distribution
from mock_onyx.profile import load_profile
from scenarios.loader import parse_scenario
from tests.fuzzing import (
    PROFILE_MAPPINGS,
    SCENARIO_MAPPINGS,
    Tally,
    assert_one_line,
    distribution_texts,
    mutated,
    toml_document,
)
from tests.fuzzing_http import FUZZ_PROFILE, HTTP_REQUESTS, check_reply, still_serves

MANY = settings(max_examples=3000, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
CLI_SAMPLE = settings(MANY, max_examples=150)
SEED_TEXT = (Path(__file__).parent.parent / "scenarios" / "builtin" / "seed-table.toml").read_text()

TALLIES: dict[str, Tally] = {}
ROUTE_STATUSES: Counter[str] = Counter()
TIMINGS: dict[str, float] = {}


def _tally(name: str) -> Tally:
    return TALLIES.setdefault(name, Tally())


@pytest.fixture(autouse=True)
def _timed(request: pytest.FixtureRequest) -> Iterator[None]:
    start = time.perf_counter()
    yield
    TIMINGS[request.node.name] = time.perf_counter() - start


@pytest.fixture(scope="module", autouse=True)
def _table(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        _write_table(reporter.write_line)


def _write_table(write: Callable[[str], None]) -> None:
    write("")
    write("onyx-bench bad input (hypothesis): every rejection one ConfigError line, never a traceback")
    write(f"{'property':<28} {'examples':>8} {'rejected':>8} {'accepted':>8}")
    for name, tally in TALLIES.items():
        c = tally.counts
        write(f"{name:<28} {c['examples']:>8} {c['rejected']:>8} {c['accepted']:>8}")
    if ROUTE_STATUSES:
        write("")
        write("fuzzed requests (no fault asked): 4xx with Onyx's error body; parser 400: a request line "
              "over 8,190 bytes, refused by aiohttp's HTTP parser")
        write(f"{'route':<32} {'requests':>8} {'2xx':>5} {'4xx':>5} {'parser 400':>10} {'5xx':>4}")
        routes = dict.fromkeys(key.rsplit(" ", 1)[0].removesuffix(" parser") for key in sorted(ROUTE_STATUSES))
        for route in routes:
            mine = {key.removeprefix(route + " "): n for key, n in ROUTE_STATUSES.items()
                    if key.startswith(route + " ")}
            by: Counter[str] = Counter()
            for status, n in mine.items():
                by["parser" if status == "parser 400" else status[0] + "xx"] += n
            write(f"{route:<32} {sum(mine.values()):>8} {by['2xx']:>5} {by['4xx']:>5} {by['parser']:>10} "
                  f"{by['5xx']:>4}")
    write("wall s: " + ", ".join(f"{name} {s:.1f}" for name, s in TIMINGS.items()))


# -- the parsers --------------------------------------------------------------------------------

@MANY
@given(distribution_texts())
def test_the_distribution_parser(text: str) -> None:
    _tally("distribution").check(lambda: parse_distribution(text, "latency.send_message", Path(".")))


@MANY
@given(PROFILE_MAPPINGS)
def test_the_profile_mapping_parser(table: dict[str, Any]) -> None:
    _tally("profile mapping").check(lambda: profile_from_mapping(table, "profile.toml", Path(".")))


@MANY
@given(st.one_of(PROFILE_MAPPINGS.map(toml_document), mutated('seed = 7\ntime_scale = 0.05\n[latency]\n'
                                                              'send_message = "uniform(15, 30)"\n'
                                                              '[faults.send_message]\nreset = 0.02\n')))
def test_the_profile_toml_loader(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "profile.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _tally("profile TOML file").check(lambda: load_profile(path))


@MANY
@given(SCENARIO_MAPPINGS.map(toml_document))
def test_the_scenario_parser_on_generated_tables(text: str) -> None:
    _tally("scenario (generated)").check(lambda: parse_scenario(text, "mine.toml", Path(".")))


@MANY
@given(mutated(SEED_TEXT))
def test_the_scenario_parser_on_mutated_builtins(text: str) -> None:
    _tally("scenario (mutated)").check(lambda: parse_scenario(text, "mine.toml", Path(".")))


# -- through the CLI: exit status 2, one line on stderr, nothing written -------------------------

def _listing(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*"))


def _cli_rejects(write: Callable[[Path], list[str]], name: str) -> None:
    """Run the CLI on what ``write`` puts in an empty folder; the library rejected it already."""
    with tempfile.TemporaryDirectory() as raw:
        folder = Path(raw)
        args = write(folder)
        before = _listing(folder)
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            result = CliRunner().invoke(main, args)
        finally:
            os.chdir(cwd)
        tally = _tally(name)
        tally.counts["examples"] += 1
        assert result.exit_code == 2, (args, result.exit_code, result.output, result.exception)
        assert_one_line(result.stderr.removesuffix("\n"))
        assert result.stdout == ""
        assert _listing(folder) == before
        tally.counts["rejected"] += 1


def _rejected(parse: Callable[[], Any]) -> bool:
    return Tally().check(parse) is not None


@CLI_SAMPLE
@given(mutated(SEED_TEXT))
def test_rejected_scenarios_through_sweep(text: str) -> None:
    if not _rejected(lambda: parse_scenario(text, "mine.toml", Path("."))):
        return

    def write(folder: Path) -> list[str]:
        (folder / "mine.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
        return ["sweep", "mine.toml"]
    _cli_rejects(write, "CLI sweep SCENARIO")


@CLI_SAMPLE
@given(PROFILE_MAPPINGS.map(toml_document))
def test_rejected_profiles_through_run(text: str) -> None:
    def write(folder: Path) -> list[str]:
        (folder / "p.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
        return ["run", "--files", "1", "--mode", "virtual", "--profile", "p.toml"]
    with tempfile.TemporaryDirectory() as raw:
        (Path(raw) / "p.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
        if not _rejected(lambda: load_profile(Path(raw) / "p.toml")):
            return
    _cli_rejects(write, "CLI run --profile")


@CLI_SAMPLE
@given(distribution_texts().filter(lambda t: "\x00" not in t))
def test_rejected_latencies_through_run(text: str) -> None:
    if not _rejected(lambda: parse_distribution(text, "latency.send_message", Path("."))):
        return
    _cli_rejects(lambda _: ["run", "--files", "1", "--mode", "virtual", "--latency", f"send_message={text}"],
                 "CLI run --latency")


# -- fuzzed requests to every route of the real mock ---------------------------------------------

@pytest.fixture
async def client() -> Any:
    async with running_server(profile_from_mapping(FUZZ_PROFILE, "fuzz")) as server, \
            httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client
        await still_serves(client)  # after the whole batch: the server keeps serving


@settings(MANY, max_examples=4000)
@given(request=HTTP_REQUESTS)
async def test_fuzzed_requests_to_every_route(client: httpx.AsyncClient, request: Any) -> None:
    route, status = await check_reply(client, request)
    ROUTE_STATUSES[f"{route} {status}"] += 1
