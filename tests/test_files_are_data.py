"""Scenario and profile files are data, never executed (issue 16's security promise).

Two halves: what the code can do, and what a hostile file does. The source of every package the
commands run (``harness``, ``mock_onyx``, ``scenarios``, ``reports``) holds no call that turns text
into code or objects (``eval``, ``exec``, ``compile``, ``__import__``, pickle, marshal or YAML
loaders): read with ``ast``, so a comment or a string naming them does not count. And a scenario
or a profile whose every string is Python that would create a file if it ran is refused in one
line with exit 2, and the file is never created.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "mock_onyx", "scenarios", "reports")
# Calls that run text as code, or build arbitrary objects from bytes.
NAMES = {"eval", "exec", "compile", "__import__"}
ATTRIBUTES = {("pickle", "load"), ("pickle", "loads"), ("marshal", "load"), ("marshal", "loads"),
              ("yaml", "load"), ("yaml", "unsafe_load"), ("dill", "load"), ("dill", "loads")}


def _code_calls(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in NAMES:
            found.append(f"{path.relative_to(root)}:{node.lineno} {func.id}(...)")
        elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
              and (func.value.id, func.attr) in ATTRIBUTES):
            found.append(f"{path.relative_to(root)}:{node.lineno} {func.value.id}.{func.attr}(...)")
    return found


def test_no_package_the_commands_run_turns_text_into_code() -> None:
    sources = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    assert len(sources) > 50  # the packages were found
    assert [call for path in sources for call in _code_calls(path)] == []


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("import pickle\n# eval(x) in a comment\nx = 'exec(y)'\neval(x)\npickle.loads(b'')\n")
    assert _code_calls(planted, tmp_path) == ["planted.py:4 eval(...)", "planted.py:5 pickle.loads(...)"]


PAYLOAD = "__import__('pathlib').Path('{marker}').touch()"


@pytest.mark.parametrize(("command", "text"), [
    ("sweep", 'name = "x"\nseed = 1\nrepetitions = 1\nmode = "virtual"\n[server.latency]\n'
              'send_message = "{payload}"\n[workload]\nfiles = [1]\n[[strategies]]\nkind = "sequential"\n'),
    ("sweep", 'name = "x"\nseed = 1\nrepetitions = 1\nmode = "virtual"\n[workload]\nfiles = [1]\n'
              '[[strategies]]\nkind = "{payload}"\n'),
    ("sweep", 'name = "{payload}"\nseed = 1\nrepetitions = 1\nmode = "{payload}"\n[workload]\nfiles = [1]\n'
              '[[strategies]]\nkind = "sequential"\n'),
    ("run", '[latency]\nsend_message = "fixed({payload})"\n'),
    ("run", '[faults.send_message]\n"{payload}" = 0.5\n'),
    ("run", 'seed = "{payload}"\n'),
], ids=["sweep-distribution", "sweep-strategy", "sweep-name-and-mode", "run-distribution-argument",
        "run-fault-kind", "run-seed"])
def test_python_in_a_file_is_refused_as_data_and_never_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          command: str, text: str) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "ran"
    path = tmp_path / "hostile.toml"
    path.write_text(text.replace("{payload}", PAYLOAD.format(marker=marker).replace("'", "\\u0027")))
    args = (["sweep", str(path), "--out", str(tmp_path / "out")] if command == "sweep"
            else ["run", "--profile", str(path), "--files", "1", "--mode", "virtual"])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("onyx-bench: error: "), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.toml"]  # nothing written
