"""Hypothesis strategies and checks shared by the fuzz tests: ``tests/test_fuzz.py`` (a fast,
derandomized subset in the suite) and ``reliability/test_bad_input.py`` (thousands of examples,
``make reliability``). Bad input must end as one ``ConfigError`` line, never a traceback."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from mock_onyx.errors import ConfigError

ENDPOINTS = ["indexing_status", "persona", "create_chat_session", "simple_api", "send_message",
             "folder", "folders", "default"]
FAULTS = ["http_500", "http_503", "http_429", "reset", "hang", "error_packet", "empty_answer", "malformed"]
PROFILE_KEYS = ["seed", "time_scale", "latency", "faults", "error_latency", "retry_after_s",
                "piece_interval_s", "hang_limit_s", "enterprise", "require_auth", "files", "folders",
                "capacity"]
SCENARIO_KEYS = ["name", "description", "seed", "repetitions", "time_scale", "mode", "idle_timeout_s",
                 "server", "workload", "strategies"]
NUMBERS = st.one_of(st.integers(), st.integers(min_value=-10**30, max_value=10**30),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, -1, 1, 2**63, 1e308]))
TEXTS = st.one_of(st.text(max_size=30), st.text(alphabet="\n\r\t\x00\u2028\x85 ;#=[]{}\"'\\", max_size=10),
                  st.just("x" * 100_000))
DIST_NAMES = st.sampled_from(["fixed", "uniform", "normal", "lognormal", "empirical", "beta", "", "FIXED"])


@st.composite
def distribution_texts(draw: st.DrawFn) -> str:
    """Mostly the distribution form with wrong arguments; sometimes any text."""
    arg = st.one_of(NUMBERS.map(repr), st.sampled_from(["nan", "inf", "-inf", "1e999", "", " ", "a",
                                                        "0x10", "1_0", "\x00", "../x.csv", "'/etc/passwd'"]),
                    st.text(max_size=8))
    args = draw(st.lists(arg, max_size=4))
    form = f"{draw(DIST_NAMES)}({', '.join(args)})"
    return draw(st.one_of(st.just(form), TEXTS, st.just(form + draw(TEXTS))))


SCALARS = st.one_of(NUMBERS, TEXTS, st.booleans(), distribution_texts())
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(TEXTS, st.sampled_from(ENDPOINTS + FAULTS)),
                                                 inner, max_size=4)), max_leaves=12)


def _table(keys: list[str], known: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Tables of known keys (with plausible or wrong values) and, sometimes, unknown ones."""
    key = st.one_of(st.sampled_from(keys), TEXTS)
    value_of: Callable[[str], st.SearchStrategy[Any]] = lambda k: st.one_of(known.get(k, VALUES), VALUES)
    return st.lists(key, max_size=5).flatmap(
        lambda ks: st.fixed_dictionaries({k: value_of(k) for k in ks}))


LATENCY_TABLES = st.dictionaries(st.one_of(st.sampled_from(ENDPOINTS), TEXTS),
                                 st.one_of(distribution_texts(), VALUES), max_size=3)
FAULT_TABLES = st.dictionaries(st.one_of(st.sampled_from(ENDPOINTS), TEXTS), st.dictionaries(
    st.one_of(st.sampled_from(FAULTS), TEXTS), st.one_of(st.floats(-1, 2), NUMBERS, VALUES), max_size=3),
    max_size=3)
PROFILE_MAPPINGS = _table(PROFILE_KEYS, {"latency": LATENCY_TABLES, "faults": FAULT_TABLES,
                                         "error_latency": distribution_texts()})
STRATEGY_TABLES = st.lists(_table(["kind", "size", "heartbeat_s", "retry", "window"],
                                  {"kind": st.sampled_from(["sequential", "batch", "window", "x"])}),
                           max_size=3)
SCENARIO_MAPPINGS = _table(SCENARIO_KEYS, {
    "server": PROFILE_MAPPINGS, "strategies": STRATEGY_TABLES,
    "workload": _table(["files", "folders"], {"files": st.lists(NUMBERS, max_size=3)}),
    "mode": st.sampled_from(["real", "virtual", "x"])})


def toml_value(value: Any) -> str:
    """``value`` in TOML (inline tables; JSON's string escapes are TOML's basic-string escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(table: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(key)} = {toml_value(value)}\n" for key, value in table.items())


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """``text`` with a few spans deleted, replaced or inserted: mostly malformed TOML."""
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 20)))
        text = text[:start] + draw(st.one_of(st.text(max_size=6), st.sampled_from(
            ["[", "]", "=", "\"", "\n", "[[strategies]]\n", "nan", "-1", "1e400", "\x00", "\u00e9"]))) + text[end:]
    return text


class Tally:
    """Counts of what a property saw: accepted, rejected (ConfigError), and the first problem lines."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def check(self, parse: Callable[[], Any]) -> ConfigError | None:
        """Run ``parse``: it may accept, or reject with a one-line ConfigError; anything else fails."""
        self.counts["examples"] += 1
        try:
            parse()
        except ConfigError as error:
            self.counts["rejected"] += 1
            assert_one_line(str(error))
            return error
        self.counts["accepted"] += 1
        return None


def assert_one_line(message: str) -> None:
    assert message and len(message.splitlines()) == 1, f"not one line: {message!r}"
