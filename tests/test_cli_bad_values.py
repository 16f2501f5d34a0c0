"""Every option and argument of every command, given one bad value, is one line on stderr and exit
status 2: no traceback, nothing printed on stdout, nothing written (issue 11).

The cases come from the click commands themselves (``harness.cli.main.commands``), so a new option is
checked as soon as it exists: its bad value is drawn from its click type (a range: just outside it;
a choice: "nope"; a float: nan; an int: "x"; a path: one that is wrong for it), or, for a string with
a grammar, from ``GRAMMAR``. Flags take no value and are skipped; any other parameter with no bad
value fails, naming itself, until one is added here.

Each case runs the console script's function (``harness.cli.main``, what the installed
``onyx-bench`` calls) in a process of its own, forked from this one: the group's ``main`` prints one
line and calls ``sys.exit``, which only a real process shows faithfully (its exit status, its own
stdout and stderr file descriptors, files it leaves in its working directory). Forking skips the
interpreter's start-up and imports, a third of a second of CPU per case: 80 cases took 13 s as
subprocesses of the installed script, and take about 3 s forked. The selected cases all run when the
first of them asks for its result, ``CONCURRENT_CALLS`` at a time, each in a fresh working directory
that holds the inputs it needs.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from harness.cli import main
from harness.store import ResultsStore
from harness.sweep import InlineExecutor, plan_sweep, run_sweep
from scenarios import parse_scenario
from tests.forked_cli import SCRIPT, run_cli_and_exit

CALL_TIMEOUT_S = 30.0  # a bad value fails in well under a second; a serve that listens would hang
CONCURRENT_CALLS = 2  # one per core: each call is mostly CPU
ERROR_PREFIX = "onyx-bench: error: "

TINY = """
name = "tiny"
seed = 1
repetitions = 1
mode = "virtual"
[workload]
files = [1]
[[strategies]]
kind = "sequential"
"""
SCENARIO_FILE = "tiny.toml"  # in each case's working directory
RESULTS_DIR = "results-of-tiny"  # a copy of the fixture's results directory, in each case's directory

# Otherwise-valid arguments and options of each command, so that only the bad value is at fault:
# a bad argument takes the place of the good one, a bad option replaces the base's value.
BASE_ARGUMENTS: dict[str, list[str]] = {
    "sweep": [SCENARIO_FILE],
    "report": [RESULTS_DIR],
    "compare": [RESULTS_DIR, RESULTS_DIR],
    "tune": [SCENARIO_FILE],
}
BASE_OPTIONS: dict[str, dict[str, str]] = {
    "run": {"--files": "1", "--mode": "virtual"},
    "sweep": {"--mode": "virtual"},
    "reproduce": {"--reps": "1"},  # should a bad value ever be ignored, the run is short
    # nothing listens on port 1: an ignored bad value would end in "cannot reach", naming no option
    "calibrate": {"--target": "http://127.0.0.1:1", "--files": "1", "--out": "profile.toml"},
}
# Options that only make sense in real mode (--target), or are refused in virtual mode: the base
# run of these is real, so that the bad value alone is wrong.
REAL_MODE_ONLY = {("run", "--target"), ("run", "--time-scale"), ("run", "--transport")}

# Strings with a grammar, by option (of any command) or by "command ARGUMENT".
GRAMMAR: dict[str, str] = {
    "--latency": "send_message=fixed(",  # NAME=DIST with a distribution that does not parse
    "--fault": "send_message:reset",  # NAME:KIND=P without =P
    "--target": "not-a-url",
    "--format": "html,pdf",  # one known format and one unknown
    "--host": "192.0.2.1",  # TEST-NET-1: a literal address no machine has (no DNS lookup)
    "--retry": "fixed(3)",  # a fixed retry without its wait
    "scenarios NAME": "nope",
    "sweep SCENARIO": "nope",
    "--sizes": "0-3",  # a size below 1
    "--scheduler": "tcp://dask-scheduler",  # no port: not tcp://HOST:PORT
    "tune SCENARIO": "nope",
}
# A file that names a path outside its own folder (issue: files are data): refused, one line, exit 2,
# and the file outside never read (its planted row is in no output). In each case's directory:
# inner/ holds the files given; secret.csv and p.toml beside it are outside.
OUTSIDE = "inner"
PLANTED = "PLANTED-ROW-9f3c1e"
OUTSIDE_INPUTS = {
    "secret.csv": f"seconds\n5\n{PLANTED}\n",
    "p.toml": '[latency]\nsend_message = "fixed(1)"\n',
    f"{OUTSIDE}/p.toml": '[latency]\nsend_message = "empirical(../secret.csv)"\n',
    f"{OUTSIDE}/{SCENARIO_FILE}": TINY + '[server.latency]\nsend_message = "empirical(../secret.csv)"\n',
    f"{OUTSIDE}/server.toml": TINY + '[server]\nprofile = "../p.toml"\n',
}
OUTPUT_PATHS = {"out"}  # path parameters that are written to; every other path is read
UNWRITABLE = "/proc/forbidden/x"


def _range_value(kind: click.types._NumberRangeBase) -> str:
    """Just outside the range: below its minimum (or above its maximum if it has none)."""
    if kind.min is not None:
        value = kind.min if kind.min_open else kind.min - 1
    elif kind.max is not None:
        value = kind.max if kind.max_open else kind.max + 1
    else:
        return "abc"
    return str(value) if isinstance(value, int) else f"{value:g}"


def _path_value(parameter: click.Parameter, kind: click.Path) -> str:
    if parameter.name in OUTPUT_PATHS:
        return UNWRITABLE
    # an input that is not there, in the case's (otherwise empty) working directory
    return "missing.toml" if not kind.dir_okay else "missing-dir"


def _label(parameter: click.Parameter) -> str:
    """``--files`` for an option, ``RESULTS`` for an argument."""
    return parameter.opts[0] if isinstance(parameter, click.Option) else parameter.human_readable_name


def bad_value(command: str, parameter: click.Parameter) -> str | None:
    """One bad value for ``parameter`` of ``command``, or None if none is known (the test then fails)."""
    kind = parameter.type
    label = _label(parameter) if isinstance(parameter, click.Option) else f"{command} {_label(parameter)}"
    if label in GRAMMAR:
        return GRAMMAR[label]
    if isinstance(kind, click.types._NumberRangeBase):
        return _range_value(kind)
    if isinstance(kind, click.Choice):
        return "nope"
    if isinstance(kind, click.Path):
        return _path_value(parameter, kind)
    if isinstance(kind, click.types.FloatParamType):
        return "nan"
    if isinstance(kind, click.types.IntParamType):
        return "x"
    if isinstance(kind, click.types.BoolParamType):
        return "maybe"
    return None


@dataclass(frozen=True)
class Case:
    command: str
    label: str  # "--files", or an argument's name ("RESULTS")
    value: str | None
    args: tuple[str, ...]  # after "onyx-bench"
    needs: tuple[str, ...]  # inputs to put in the working directory: SCENARIO_FILE, RESULTS_DIR
    kind: str  # the click type's name, for the message when no bad value is known
    reaches_command: bool  # only the command can refuse it (a path, a grammar): a slower call

    @property
    def id(self) -> str:
        return f"{self.command}:{self.label}"


def _args(command: str, parameter: click.Parameter, value: str) -> list[str]:
    arguments = list(BASE_ARGUMENTS.get(command, []))
    options = dict(BASE_OPTIONS.get(command, {}))
    if isinstance(parameter, click.Option):
        if (command, parameter.opts[0]) in REAL_MODE_ONLY:
            options.pop("--mode", None)
        for opt in parameter.opts:
            options.pop(opt, None)
        options[parameter.opts[0]] = value
    else:
        position = [p for p in main.commands[command].params if isinstance(p, click.Argument)].index(parameter)
        arguments[position:position + 1] = [value]
    return [command, *arguments, *(word for pair in options.items() for word in pair)]


def all_cases() -> Iterator[Case]:
    for command in sorted(main.commands):
        for parameter in main.commands[command].params:
            if isinstance(parameter, click.Option) and parameter.is_flag:
                continue  # a flag takes no value, so it has no bad one
            value = bad_value(command, parameter)
            args = tuple(_args(command, parameter, value)) if value is not None else ()
            needs = tuple(need for need in (SCENARIO_FILE, RESULTS_DIR) if need in args)
            reaches_command = isinstance(parameter.type, click.Path) or value in GRAMMAR.values()
            yield Case(command, _label(parameter), value, args, needs, type(parameter.type).__name__,
                       reaches_command)


CASES = list(all_cases())


def _outside_case(command: str, label: str, value: str, *args: str) -> Case:
    return Case(command, label, value, (command, *args), (OUTSIDE,), "outside", True)


SETTING = "latency.send_message"  # the label: the setting the line must name (the id stays unique)
OUTSIDE_CASES = [
    _outside_case("run", SETTING, f"{OUTSIDE}/p.toml", "--files", "1", "--mode", "virtual",
                  "--profile", f"{OUTSIDE}/p.toml"),
    _outside_case("serve", SETTING, f"{OUTSIDE}/p.toml", "--profile", f"{OUTSIDE}/p.toml"),
    _outside_case("sweep", SETTING, f"{OUTSIDE}/{SCENARIO_FILE}", f"{OUTSIDE}/{SCENARIO_FILE}", "--mode", "virtual"),
    _outside_case("sweep", "server.profile", "../p.toml", f"{OUTSIDE}/server.toml", "--mode", "virtual"),
    _outside_case("tune", SETTING, f"{OUTSIDE}/{SCENARIO_FILE}", f"{OUTSIDE}/{SCENARIO_FILE}"),
]


@dataclass(frozen=True)
class Outcome:
    returncode: int | None  # None: still running at the timeout (and killed)
    stdout: str
    stderr: str
    created: list[str]  # paths that appeared or changed in the working directory


def _listing(root: Path) -> dict[str, tuple[bool, int, int]]:
    return {str(p.relative_to(root)): (p.is_dir(), p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*")}


class _Call:
    """One case running in a forked process."""

    def __init__(self, case: Case, cwd: Path, results: Path) -> None:
        cwd.mkdir()
        if SCENARIO_FILE in case.needs:
            (cwd / SCENARIO_FILE).write_text(TINY)
        if RESULTS_DIR in case.needs:
            shutil.copytree(results, cwd / RESULTS_DIR)
        if OUTSIDE in case.needs:
            (cwd / OUTSIDE).mkdir()
            for name, text in OUTSIDE_INPUTS.items():
                (cwd / name).write_text(text)
        self.cwd = cwd
        self.before = _listing(cwd)
        self.stdout, self.stderr = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        self.deadline = time.monotonic() + CALL_TIMEOUT_S
        self.pid = os.fork()
        if self.pid == 0:
            run_cli_and_exit(case.args, self.stdout.fileno(), self.stderr.fileno(), cwd)

    def poll(self) -> Outcome | None:
        """The outcome once the process has ended (killed at its deadline), else None."""
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        returncode: int | None
        if pid == 0:
            if time.monotonic() < self.deadline:
                return None
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            returncode = None
        else:
            returncode = os.waitstatus_to_exitcode(status)
        texts = []
        for captured in (self.stdout, self.stderr):
            captured.seek(0)
            texts.append(captured.read().decode(errors="replace"))
            captured.close()
        after = _listing(self.cwd)
        created = sorted(path for path, entry in after.items() if self.before.get(path) != entry)
        return Outcome(returncode, texts[0], texts[1], created)


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results directory of a one-case virtual sweep (made in-process: a fraction of a second)."""
    loaded = parse_scenario(TINY, SCENARIO_FILE, None)
    store = ResultsStore(tmp_path_factory.mktemp("tiny") / RESULTS_DIR)
    run_sweep(plan_sweep(loaded, store, resume=False), store, InlineExecutor())
    return store.root


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tiny_results: Path,
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every selected case, run ``CONCURRENT_CALLS`` at a time when the first test asks."""
    params = [item.callspec.params for item in request.session.items
              if item.module is request.module and hasattr(item, "callspec")]
    selected = [p["case"] for p in params if "case" in p and p["case"].value is not None]
    root = tmp_path_factory.mktemp("cwd")
    waiting = list(enumerate(selected))[::-1]
    running: dict[str, _Call] = {}
    done: dict[str, Outcome] = {}
    try:
        while waiting or running:
            while waiting and len(running) < CONCURRENT_CALLS:
                i, case = waiting.pop()
                running[case.id] = _Call(case, root / f"{i:03d}", tiny_results)
            for case_id, call in list(running.items()):
                outcome = call.poll()
                if outcome is not None:
                    done[case_id] = outcome
                    del running[case_id]
            time.sleep(0.002)
    finally:
        for call in running.values():  # only if this fixture itself failed
            os.kill(call.pid, signal.SIGKILL)
            os.waitpid(call.pid, 0)
    return done


def test_there_are_cases_for_every_command() -> None:
    assert {case.command for case in CASES} == set(main.commands)
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_every_option_and_argument_has_a_bad_value(case: Case) -> None:
    # fast, so that a new option without one fails even with -m 'not slow'
    assert case.value is not None, f"add a bad value for {case.command} {case.label} (a {case.kind}) to {__file__}"


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES + OUTSIDE_CASES,
                         ids=[case.id for case in CASES] + [f"outside:{case.id}" for case in OUTSIDE_CASES])
def test_a_bad_value_is_one_line_and_exit_2_and_nothing_written(
        case: Case, outcomes: dict[str, Outcome]) -> None:
    if case.value is None:
        pytest.fail(f"add a bad value for {case.command} {case.label} (a {case.kind}) to {__file__}")
    result = outcomes[case.id]
    shown = f"onyx-bench {' '.join(case.args)}\nexit {result.returncode}\nstdout: {result.stdout!r}\n" \
            f"stderr: {result.stderr!r}"
    assert result.returncode is not None, f"still running after {CALL_TIMEOUT_S} s (killed)\n{shown}"
    assert "Traceback" not in result.stderr + result.stdout, shown
    assert result.returncode == 2, shown
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), f"not one line\n{shown}"
    line = result.stderr.rstrip("\n")
    assert line.startswith(ERROR_PREFIX) and len(line) > len(ERROR_PREFIX), shown
    # and it says which input is wrong: the option, or the value given
    assert any(name in line for name in (case.label, case.label.lstrip("-"), case.value)), shown
    assert result.stdout == "", shown
    assert result.created == [], f"wrote {result.created}\n{shown}"
    if OUTSIDE in case.needs:  # refused before the file outside is opened: its content nowhere
        assert "--allow-outside-paths" in line and PLANTED not in result.stderr, shown
    if case.label == "--out":
        assert not Path(case.value).exists(), shown


def test_every_number_type_gets_a_value_it_refuses() -> None:
    # the generators themselves: a range's bad value lies outside it, and nan is not a number
    for kind, value in [(click.IntRange(0, 10), "-1"), (click.IntRange(1), "0"),
                        (click.FloatRange(0, 1, min_open=True, max_open=True), "0"),
                        (click.FloatRange(max=5), "6"), (click.IntRange(), "abc")]:
        assert _range_value(kind) == value
    assert bad_value("run", click.Option(["--x"], type=float)) == "nan"
    assert bad_value("run", click.Option(["--y"], type=str)) is None  # a new string needs a GRAMMAR entry
