"""Latency distributions: parsing, bad input, and the statistics of what they sample."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from mock_onyx import Behaviour, ConfigError, Endpoint, parse_distribution, profile_from_mapping
from mock_onyx.draws import draw_prefix, prefixed_draw, unit_draw
from tests.conftest import make_profile


def samples(text: str, n: int = 2000, base_dir: Path | None = None) -> list[float]:
    dist = parse_distribution(text, "test", base_dir)
    return [dist.quantile(unit_draw(1, "t", i)) for i in range(n)]


def test_uniform_15_30_through_the_behaviour_model_has_mean_22_5() -> None:
    behaviour = Behaviour(make_profile(seed=3, latency={"send_message": "uniform(15, 30)"}))
    values = [behaviour.latency_s(Endpoint.SEND_MESSAGE, f"file:{i}") for i in range(1, 2001)]
    assert statistics.fmean(values) == pytest.approx(22.5, abs=0.5)
    assert 15 <= min(values) and max(values) <= 30


def test_fixed_is_constant() -> None:
    assert set(samples("fixed(0.05)", 50)) == {0.05}


def test_normal_is_truncated_at_zero_and_keeps_its_mean_when_far_from_zero() -> None:
    near_zero = samples("normal(1, 2)")
    assert min(near_zero) >= 0
    far = samples("normal(20, 2)")
    assert statistics.fmean(far) == pytest.approx(20, abs=0.2)
    assert statistics.stdev(far) == pytest.approx(2, rel=0.1)


def test_lognormal_hits_its_median_and_p99() -> None:
    values = sorted(samples("lognormal(20, 45)", 4000))
    assert values[len(values) // 2] == pytest.approx(20, rel=0.05)
    assert values[int(len(values) * 0.99)] == pytest.approx(45, rel=0.1)
    assert statistics.fmean(values) == pytest.approx(parse_distribution("lognormal(20, 45)", "t").mean,
                                                     rel=0.03)


def test_empirical_reads_observed_durations_relative_to_the_profile(tmp_path: Path) -> None:
    (tmp_path / "observed.csv").write_text("duration_s\n12\n18\n20\n25\n31\n")
    values = samples("empirical(observed.csv)", base_dir=tmp_path)
    assert min(values) >= 12 and max(values) <= 31
    assert statistics.fmean(values) == pytest.approx(21.2, abs=1.0)


@pytest.mark.parametrize(("text", "words"), [
    ("uniform(30, 15)", "0 <= a <= b"),
    ("lognormal(-1, 2)", "0 < median < p99"),
    ("lognormal(5, 5)", "0 < median < p99"),
    ("gamma(1, 2)", "unknown distribution"),
    ("uniform(1)", "takes 2 number"),
    ("fixed(-1)", "negative"),
    ("fixed(abc)", "not a number"),
    ("normal(5, -1)", "negative standard deviation"),
    ("15-30", "is not a distribution"),
    ("empirical(nowhere.csv)", "cannot read"),
    # finite arguments whose mean or draws are not: these were tracebacks (issue 11)
    ("normal(-100, 1)", "almost never positive"),  # its mass above 0 rounds to nothing: 0 division
    ("normal(-8, 1)", "almost never positive"),
    ("normal(1e308, 1e308)", "overflows"),  # its top draw is inf: every file failed, 'internal'
    ("lognormal(1, 1e308)", "overflows"),  # math.exp overflows in its mean
    ("lognormal(1e-320, 1)", "overflows"),
])
def test_bad_distributions_name_the_problem_and_the_fix(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_distribution(text, "latency.send_message")
    message = str(caught.value)
    assert words in message and "latency.send_message" in message and "fix:" in message
    assert "\n" not in message


def test_an_empirical_profile_reads_back_the_same_file_from_any_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A sweep hands each worker the profile as a document; a --target run reads it back from the
    # server. Both parse it again elsewhere: a relative path must not be read against the cwd.
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "lat.csv").write_text("duration_s\n21\n22\n23\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "lat.csv").write_text("100\n100\n")  # a different file, same name
    profile = profile_from_mapping({"latency": {"send_message": "empirical(lat.csv)"}}, "p",
                                   tmp_path / "profiles")
    monkeypatch.chdir(tmp_path / "elsewhere")
    again = profile_from_mapping(profile.to_document(), "document")
    assert again.latency_of(Endpoint.SEND_MESSAGE).mean == pytest.approx(22.0)


def test_an_empirical_csv_with_a_negative_row_names_the_row(tmp_path: Path) -> None:
    (tmp_path / "lat.csv").write_text("duration_s\n21\n-3\n22\n")
    with pytest.raises(ConfigError, match="row 3 is -3.0, not a duration"):
        parse_distribution("empirical(lat.csv)", "latency.send_message", tmp_path)


def test_a_normal_at_the_edge_of_what_is_allowed_still_samples_above_zero() -> None:
    assert min(samples("normal(-6, 1)", 200)) >= 0
    # E[X | X > 0] for X ~ N(-6, 1): -6 + pdf(6) / P(X > 0), the tail mass from erfc (exact there)
    tail = 0.5 * math.erfc(6 / math.sqrt(2))
    expected = -6 + math.exp(-18) / math.sqrt(2 * math.pi) / tail
    assert parse_distribution("normal(-6, 1)", "t").mean == pytest.approx(expected, rel=1e-4)


def test_an_empirical_csv_that_is_not_text_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "lat.csv").write_bytes(b"\xff\xfe1\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        parse_distribution("empirical(lat.csv)", "latency.send_message", tmp_path)


def test_a_prefixed_draw_is_the_unit_draw_of_all_its_parts() -> None:
    # the mock's hot path joins a draw's fixed leading parts once; the number must not change
    for seed, endpoint, key, attempt in ((1, Endpoint.SEND_MESSAGE, "file:7", 1), (0, Endpoint.PERSONA, "-", 12),
                                         (2**40, Endpoint.INDEXING_STATUS, "file:1,2", 3)):
        prefix = draw_prefix(seed, "latency", endpoint)
        assert prefixed_draw(prefix, key, attempt) == unit_draw(seed, "latency", endpoint, key, attempt)
