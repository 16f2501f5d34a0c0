"""The README's commands stay true: the two set-up commands exist, and every onyx-bench command
line it shows names a real command with options the command accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
from click.testing import CliRunner
import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SHOWN = [line.split("#")[0].strip() for line in README.splitlines()
         if line.strip().startswith(".venv/bin/onyx-bench ")]


def test_the_two_set_up_commands_are_make_targets_and_ci_runs_the_test_one() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "make run " in README and "make test " in README
    assert re.search(r"^run: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("line", SHOWN)
def test_every_command_line_shown_parses(line: str) -> None:
    args = [token for token in shlex.split(line)[1:] if not token.startswith("[")
            and not token.endswith("]")]
    name, rest = args[0], args[1:]
    command = main.get_command(click.Context(main), name)
    assert command is not None, f"README shows an unknown command: {name}"
    command.make_context(name, rest)  # raises on an unknown option or a bad value


def test_the_readme_shows_enough_commands() -> None:
    assert len(SHOWN) >= 6


def test_the_scenario_example_is_what_the_tool_prints() -> None:
    printed = CliRunner().invoke(main, ["scenarios", "seed-table"])
    assert printed.exit_code == 0
    assert f"```toml\n{printed.stdout}```" in README
