"""Each package's public face: everything in ``__all__`` exists, and the data flows one way
(mock_onyx imports no other package of the project; reports never imports the runner)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["mock_onyx", "harness", "scenarios", "reports"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__ and all(hasattr(module, attribute) for attribute in module.__all__)


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    return found


def test_the_mock_depends_on_no_other_package_of_the_project() -> None:
    assert not _imports("mock_onyx") & {"harness", "scenarios", "reports"}


def test_scenarios_do_not_run_anything() -> None:
    assert not _imports("scenarios") & {"harness", "reports"}
