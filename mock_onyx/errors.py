"""The one exception hierarchy of onyx-bench.

    OnyxBenchError              anything onyx-bench raises on purpose
    └── ConfigError             bad input: a profile, flag, scenario or value; the CLI prints it
                                as one line and exits with status 2

It lives in ``mock_onyx`` because that is the package every other one may import
(``mock_onyx`` imports none of them).
"""

from __future__ import annotations


class OnyxBenchError(Exception):
    """Base of every error onyx-bench raises on purpose."""


class ConfigError(OnyxBenchError, ValueError):
    """Bad input. The message is one line: where, what is wrong, and how to fix it."""

    def __init__(self, where: str, problem: str, fix: str) -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(f"{where}: {problem}; fix: {fix}")
