"""The fault matrix (issue 16): every fault kind x every strategy, with and without a retry policy,
x both modes, each cell a run checked for the harness's promises.

A cell runs ``harness.runner.run_once`` on a loop of its own (virtual: a looptime loop, as
``run_blocking`` builds; real: an ordinary one, the mock embedded on loopback) so that what the
run leaves on that loop can be inspected before it closes. The checks, in ``CHECKS`` order:

    accounted     every input item has one outcome, the ids exactly the inputs', each ok, failed
                  or skipped, every failed or skipped one with an error kind and a reason
    deadline      the run ends before its deadline: simulated, the worst case of its policy
                  (every attempt of every file timing out); wall, that times the scale plus 1 s
    no_exception  run_once raised nothing and the loop's exception handler was never called
    no_pending    no task but the cell's own left on the run's loop at its end
    no_warning    no warning of any kind (ResourceWarning included: unclosed sockets, transports,
                  loops), recorded with "always" across the run, the loop's close and a collection
    no_fd_leak    this process's open file descriptors (/proc/self/fd) as many after as before
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
import warnings
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import looptime

from harness.extractor import Timeouts
from harness.outcomes import Status
from harness.runner import VIRTUAL_NOOP_CYCLES, Mode, RunConfig, RunResult, run_once
from harness.strategies import make_strategy
from mock_onyx import profile_from_mapping

FAULTS = ("http_500", "http_503", "http_429", "reset", "hang", "error_packet", "empty_answer", "malformed")
KINDS = (*FAULTS, "crash")  # crash: the [capacity] profile's crash_inflight (refusals, cut streams)
STRATEGIES = ("sequential", "batch", "window", "adaptive")
RETRIES = ("none", "fixed(2, 1)")
MODES = (Mode.VIRTUAL, Mode.REAL)
CHECKS = ("accounted", "deadline", "no_exception", "no_pending", "no_warning", "no_fd_leak")

FILES = 6
NOT_INDEXED = 2  # skipped, not-indexed, in every cell: the third way an item is accounted for
SIZE = 4  # batch and window size, adaptive's largest limit: above crash_inflight
TIME_SCALE = 0.004  # real mode: a 4 s chat is 16 ms of wall time, its 20 s timeout 80 ms
FAULT_SHARE = 0.4
RETRY_AFTER_S = 2
CRASH_INFLIGHT = 2
RESTART_S = 5.0
# Short calls and chats: a cell on sockets takes well under a second, even where every chat hangs.
LATENCY = {"default": "uniform(0.05, 0.2)", "send_message": "uniform(2, 4)"}
TIMEOUTS = Timeouts(chat_s=20.0)
# Per attempt, at worst: the short calls' timeouts, the chat's, and the longest wait before the
# next attempt (the retry's 1 s, a Retry-After, a restart).
ATTEMPT_BOUND_S = (TIMEOUTS.indexing_status_s + TIMEOUTS.persona_s + TIMEOUTS.create_session_s
                   + TIMEOUTS.chat_s + 1.0 + RETRY_AFTER_S + RESTART_S)
WALL_SLACK_S = 1.0
VIRTUAL_WALL_BOUND_S = 5.0  # a virtual cell waits for nothing


@dataclass(frozen=True)
class Cell:
    kind: str
    strategy: str
    retry: str
    mode: Mode

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.strategy}-{self.retry.replace(' ', '')}-{self.mode}"

    def config(self) -> RunConfig:
        table: dict[str, Any] = {"seed": 16, "time_scale": TIME_SCALE, "latency": LATENCY,
                                 "error_latency": "fixed(0.05)", "retry_after_s": RETRY_AFTER_S,
                                 "hang_limit_s": 60.0, "files": {"not_indexed": [NOT_INDEXED]}}
        if self.kind == "crash":
            table["capacity"] = {"crash_inflight": CRASH_INFLIGHT, "restart_s": RESTART_S}
        else:
            table["faults"] = {"send_message": {self.kind: FAULT_SHARE}}
        size = None if self.strategy == "sequential" else SIZE
        return RunConfig(files=FILES, strategy=make_strategy(self.strategy, size, retry=self.retry),
                         profile=profile_from_mapping(table, f"fault matrix {self.id}"),
                         mode=self.mode, timeouts=TIMEOUTS)

    def deadline_s(self) -> float:
        """Simulated: every attempt of every file at its worst, one after another."""
        attempts = 1 if self.retry == "none" else int(self.retry.split("(")[1].split(",")[0])
        return FILES * attempts * ATTEMPT_BOUND_S


@dataclass
class CellResult:
    cell: Cell
    passed: dict[str, bool] = field(default_factory=dict)
    detail: dict[str, str] = field(default_factory=dict)
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    makespan_s: float = float("nan")
    wall_s: float = float("nan")

    @property
    def failures(self) -> list[str]:
        return [f"{name}: {self.detail.get(name, '')}" for name in CHECKS if not self.passed.get(name)]


def cells(modes: tuple[Mode, ...] = MODES) -> list[Cell]:
    return [Cell(kind, strategy, retry, mode) for mode in modes for kind in KINDS
            for strategy in STRATEGIES for retry in RETRIES]


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def _run_on_own_loop(config: RunConfig, deadline_s: float, handled: list[dict[str, Any]]
                           ) -> tuple[RunResult, list[asyncio.Task[Any]]]:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: handled.append(context))
    # virtual: the loop's clock is the simulated one; real: wall seconds
    async with asyncio.timeout(deadline_s):
        result = await run_once(config)
    await asyncio.sleep(0)  # let what the run ended finish ending
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    return result, pending


def run_cell(cell: Cell) -> CellResult:
    """Run one cell and check it (``CHECKS``)."""
    config = cell.config()
    out = CellResult(cell)
    deadline = cell.deadline_s() if cell.mode is Mode.VIRTUAL else cell.deadline_s() * TIME_SCALE + WALL_SLACK_S
    handled: list[dict[str, Any]] = []
    result: RunResult | None = None
    pending: list[asyncio.Task[Any]] = []
    error: BaseException | None = None
    gc.collect()
    fds_before = _open_fds()
    factory = (partial(looptime.new_event_loop, start=0.0, noop_cycles=VIRTUAL_NOOP_CYCLES)
               if cell.mode is Mode.VIRTUAL else None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.perf_counter()
        try:
            with asyncio.Runner(loop_factory=factory) as runner:
                result, pending = runner.run(_run_on_own_loop(config, deadline, handled))
        except BaseException as exc:  # noqa: BLE001 - the check reports any
            error = exc
        out.wall_s = time.perf_counter() - started
        gc.collect()
    fds_after = _open_fds()
    _check(out, cell, config, result, error, handled, pending, list(caught), fds_before, fds_after)
    return out


def _check(out: CellResult, cell: Cell, config: RunConfig, result: RunResult | None,
           error: BaseException | None, handled: list[dict[str, Any]], pending: list[asyncio.Task[Any]],
           caught: list[warnings.WarningMessage], fds_before: set[str], fds_after: set[str]) -> None:
    def check(name: str, passed: bool, detail: str = "") -> None:
        out.passed[name] = passed
        if not passed:
            out.detail[name] = detail

    check("no_exception", error is None and not handled,
          f"{error!r}" if error is not None else "; ".join(str(c.get("message")) for c in handled))
    check("no_pending", not pending, ", ".join(repr(t.get_coro()) for t in pending))
    check("no_warning", not caught, "; ".join(f"{w.category.__name__}: {w.message}" for w in caught[:3]))
    leaked = fds_after - fds_before
    check("no_fd_leak", not leaked, f"{len(fds_before)} fds before, {len(fds_after)} after")
    if result is None:
        check("accounted", False, "no result")
        check("deadline", False, "no result")
        return
    s = result.summary
    out.ok, out.failed, out.skipped, out.makespan_s = s.files_ok, s.files_failed, s.files_skipped, s.makespan_s
    inputs = [(i.kind, i.id) for i in config.items()]
    got = [(o.item.kind, o.item.id) for o in result.outcomes]
    unexplained = [o.item.id for o in result.outcomes
                   if o.status is not Status.OK and (o.error_kind is None or not o.reason)]
    counted = s.files_ok + s.files_failed + s.files_skipped == len(inputs)
    check("accounted", sorted(got) == sorted(inputs) and len(got) == len(set(got)) and not unexplained
          and counted and all(o.status in Status for o in result.outcomes),
          f"ids {sorted(i for _, i in got)}; without a reason: {unexplained}; counts ok")
    sim_deadline = cell.deadline_s()
    wall_deadline = sim_deadline * TIME_SCALE + WALL_SLACK_S if cell.mode is Mode.REAL else VIRTUAL_WALL_BOUND_S
    check("deadline", s.makespan_s <= sim_deadline and out.wall_s <= wall_deadline,
          f"makespan {s.makespan_s:.1f} s (bound {sim_deadline:.0f}), wall {out.wall_s:.2f} s "
          f"(bound {wall_deadline:.2f})")


# Filled by the tests; reliability/conftest.py prints them at the end of the run.
ROWS: list[CellResult] = []
