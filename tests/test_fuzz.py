"""A fast, derandomized subset of ``reliability/test_bad_input.py`` (``make reliability`` runs
thousands of examples): bad profiles, scenarios and distributions end as one ``ConfigError`` line,
one through the CLI with exit status 2, and fuzzed requests to the mock's routes get a 4xx with
Onyx's error body, never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from harness.cli import main
from mock_onyx import profile_from_mapping, running_server
from mock_onyx.distributions import parse_distribution
from scenarios.loader import parse_scenario
from tests.fuzzing import PROFILE_MAPPINGS, Tally, assert_one_line, distribution_texts, mutated
from tests.fuzzing_http import FUZZ_PROFILE, HTTP_REQUESTS, check_reply, still_serves

FEW = settings(max_examples=150, derandomize=True, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.function_scoped_fixture])
SEED_TEXT = (Path(__file__).parent.parent / "scenarios" / "builtin" / "seed-table.toml").read_text()


@FEW
@given(distribution_texts())
def test_bad_distributions_are_one_config_error_line(text: str) -> None:
    Tally().check(lambda: parse_distribution(text, "latency.send_message", Path(".")))


@settings(FEW, max_examples=100)
@given(PROFILE_MAPPINGS)
def test_bad_profiles_are_one_config_error_line(table: dict[str, Any]) -> None:
    Tally().check(lambda: profile_from_mapping(table, "profile.toml", Path(".")))


@FEW
@given(mutated(SEED_TEXT))
def test_bad_scenarios_are_one_config_error_line(text: str) -> None:
    Tally().check(lambda: parse_scenario(text, "mine.toml", Path(".")))


def test_a_bad_scenario_through_the_cli_is_one_line_status_2_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.toml").write_text('name = "x\n[[strategies]]\nkind = "batch"\n"a\\nb" = 1\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["sweep", "mine.toml"])
    assert result.exit_code == 2 and result.stdout == ""
    assert_one_line(result.stderr.removesuffix("\n"))
    assert [p.name for p in tmp_path.iterdir()] == ["mine.toml"]


@pytest.fixture
async def client() -> Any:
    async with running_server(profile_from_mapping(FUZZ_PROFILE, "fuzz")) as server, \
            httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client
        await still_serves(client)  # after the whole batch


@settings(FEW, max_examples=120)
@given(request=HTTP_REQUESTS)
async def test_fuzzed_requests_get_onyx_4xx_never_500(client: httpx.AsyncClient, request: Any) -> None:
    await check_reply(client, request)
