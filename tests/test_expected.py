"""Closed forms: exact where they apply, absent where they cannot."""

from __future__ import annotations

import pytest

from harness.expected import expected_max_s
from harness.runner import Mode, RunConfig, run_blocking
from harness.strategies import make_strategy
from mock_onyx import parse_distribution
from tests.conftest import make_profile


@pytest.mark.parametrize("k", [1, 2, 8, 100, 5_000, 10_000, 100_000])
def test_the_expected_longest_of_k_uniform_draws_is_exact_for_any_k_the_cli_accepts(k: int) -> None:
    # E[max of k uniform(a, b)] = b - (b - a) / (k + 1); the old integral gave 23.7 s at k = 10,000
    assert expected_max_s(parse_distribution("uniform(15, 30)", "t"), k) == pytest.approx(
        30 - 15 / (k + 1), abs=1e-5)


def test_the_expected_longest_of_fixed_draws_is_the_fixed_value() -> None:
    assert expected_max_s(parse_distribution("fixed(20)", "t"), 10_000) == pytest.approx(20, abs=1e-9)


@pytest.mark.parametrize(("profile", "applies"), [
    ({}, True),
    ({"require_auth": True}, False),  # the embedded mock gets no credentials: every file fails fast
    ({"files": {"missing": [2]}}, False),
    ({"files": {"not_indexed": [3]}}, False),
    ({"files": {"missing": [40]}}, True),  # not a file of this run
])
def test_no_closed_form_where_files_cannot_run_their_full_sequence(profile: dict, applies: bool) -> None:
    result = run_blocking(RunConfig(files=3, strategy=make_strategy("batch", 8), mode=Mode.VIRTUAL,
                                    profile=make_profile(**profile)))
    assert (result.summary.expected_makespan_s is not None) is applies
    assert (result.summary.expected_mean_makespan_s is not None) is applies
    if applies:
        assert result.summary.expected_makespan_s == pytest.approx(result.summary.makespan_s, abs=1e-3)
    else:  # the model's makespan is still known: the run itself, on virtual time
        assert result.summary.model_makespan_s == result.summary.makespan_s
