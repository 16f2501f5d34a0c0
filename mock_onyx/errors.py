"""The one exception hierarchy of onyx-bench.

    OnyxBenchError              anything onyx-bench raises on purpose
    └── ConfigError             bad input: a profile, flag, scenario or value; the CLI prints it
                                as one line and exits with status 2

It lives in ``mock_onyx`` because that is the package every other one may import
(``mock_onyx`` imports none of them).
"""

from __future__ import annotations

# Every character str.splitlines breaks at, written as its escape: a key or value the user wrote
# (a TOML key may hold a newline) must not break the one line.
_LINE_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"})


class OnyxBenchError(Exception):
    """Base of every error onyx-bench raises on purpose."""


class ConfigError(OnyxBenchError, ValueError):
    """Bad input. The message is one line: where, what is wrong, and how to fix it."""

    def __init__(self, where: str, problem: str, fix: str) -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(f"{where}: {problem}; fix: {fix}".translate(_LINE_BREAKS))
