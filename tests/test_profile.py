"""Profiles: TOML and flags in, a validated frozen profile out, or one line that says what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_onyx import (
    ConfigError,
    Endpoint,
    FaultKind,
    flag_overrides,
    load_profile,
    profile_from_mapping,
)
from mock_onyx.distributions import parse_distribution


def test_the_default_profile_is_the_seeds() -> None:
    profile = load_profile()
    assert str(profile.latency_of(Endpoint.SEND_MESSAGE)) == "uniform(15, 30)"
    for endpoint in Endpoint:
        if endpoint is not Endpoint.SEND_MESSAGE:
            assert str(profile.latency_of(endpoint)) == "fixed(0.05)"
        assert profile.faults_of(endpoint) == {}


def test_toml_profile_with_flags_on_top(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('seed = 7\ntime_scale = 0.01\n[latency]\ndefault = "fixed(0.1)"\n'
                    'send_message = "uniform(15, 30)"\n[faults.send_message]\nhttp_500 = 0.05\n'
                    'reset = 0.02\n')
    profile = load_profile(path, flag_overrides(["persona=fixed(1)"], ["send_message:hang=0.01"],
                                                seed=9))
    assert profile.seed == 9 and profile.time_scale == 0.01
    assert str(profile.latency_of(Endpoint.PERSONA)) == "fixed(1)"
    assert str(profile.latency_of(Endpoint.FOLDER)) == "fixed(0.1)"
    assert profile.faults_of(Endpoint.SEND_MESSAGE) == {
        FaultKind.HTTP_500: 0.05, FaultKind.RESET: 0.02, FaultKind.HANG: 0.01}


def test_a_profile_round_trips_through_its_document() -> None:
    profile = load_profile(None, flag_overrides(["send_message=lognormal(20, 45)"],
                                                ["send_message:reset=0.1"], seed=4))
    assert profile_from_mapping(profile.to_document(), "doc") == profile


@pytest.mark.parametrize(("table", "words"), [
    ({"latency": {"send_message": "uniform(30, 15)"}}, "latency.send_message"),
    ({"latency": {"sendmessage": "fixed(1)"}}, "unknown endpoint 'sendmessage'"),
    ({"faults": {"send_message": {"reset": 1.5}}}, "faults.send_message.reset"),
    ({"faults": {"send_message": {"reset": -0.1}}}, "faults.send_message.reset"),
    ({"faults": {"send_message": {"reset": 0.6, "hang": 0.5}}}, "sum to 1.1"),
    ({"faults": {"send_message": {"explode": 0.1}}}, "explode"),
    ({"faults": {"chat": {"reset": 0.1}}}, "faults.chat"),
    ({"faults": {"persona": {"error_packet": 0.1}}}, "only inside send-message"),
    ({"seeed": 1}, "seeed"),
    ({"seed": "7"}, "seed"),
    ({"time_scale": 0}, "time_scale"),
    ({"folders": {"not_indexed_share": 2}}, "folders.not_indexed_share"),
    # nan used to read "should be less than or equal to 1; fix: give a smaller value"
    ({"faults": {"send_message": {"reset": float("nan")}}}, "nan: Input should be a finite number"),
    ({"time_scale": float("nan")}, "time_scale: nan: Input should be a finite number"),
])
def test_bad_profiles_give_one_line_naming_key_value_and_fix(table: dict, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        profile_from_mapping(table, "bad.toml")
    message = str(caught.value)
    assert message.startswith("bad.toml: ") and words in message and "fix:" in message
    assert "\n" not in message


# Found by hypothesis (reliability/test_bad_input.py): a key with a line break in it, which TOML
# allows quoted, used to break the one line; a NUL in an empirical path was a traceback.
@pytest.mark.parametrize("table", [{"a\nb": 1}, {"latency": {"x\r\ny": "fixed(1)"}},
                                   {"faults": {"\u2028": {}}}, {"latency": {"send_message": "empirical(a\x00b)"}}])
def test_keys_and_values_with_line_breaks_or_nul_stay_one_config_error_line(table: dict) -> None:
    with pytest.raises(ConfigError) as caught:
        profile_from_mapping(table, "bad.toml")
    assert len(str(caught.value).splitlines()) == 1


def test_an_empirical_path_with_nul_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        parse_distribution("empirical(a\x00b)", "latency.send_message", Path("."))


@pytest.mark.parametrize("flag", ["send_message", "send_message:reset", "send_message:reset=lots"])
def test_bad_fault_flags(flag: str) -> None:
    with pytest.raises(ConfigError, match="--fault"):
        flag_overrides(faults=[flag])


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("seed = = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_profile(path)
