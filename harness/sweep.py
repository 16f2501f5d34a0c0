"""Run a scenario's cases and store each as it finishes, behind an executor seam.

An executor takes picklable ``CaseTask``s and yields ``(task, result)`` pairs as cases finish:
``InlineExecutor`` runs them one after another in this process; ``ProcessExecutor`` runs up to
``jobs`` at once, each in its own process with its own embedded mock (so cases do not share a
core's event loop and distort each other's timing); ``harness.dask_executor.DaskExecutor`` runs them
on a Dask cluster (``dask_executor``: imported only when chosen, for all of a command's sweeps).
A task carries its profile resolved (``CaseTask.profile``): a worker reads no profile or CSV file.

A case that raises does not stop the sweep: its executor yields a ``CaseFailure`` (the exception's
type, message and traceback) instead of a ``RunResult``, the store records it, and the sweep goes on.
SIGTERM during a sweep (``sigterm_interrupts``) is handled as Ctrl-C is: ``SweepTerminated``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.results import RunResult
from harness.runner import Mode, RunConfig, run_blocking
from harness.store import CaseFailure, ResultsStore
from harness.strategies import make_strategy
from harness.target import TargetSession, redact
from harness.transports import TransportKind
from mock_onyx import Profile, profile_from_mapping
from mock_onyx.errors import ConfigError
from scenarios import Case, LoadedScenario

if TYPE_CHECKING:  # Dask is an optional extra: imported only when --executor dask is chosen
    from harness.dask_executor import DaskExecutor


@dataclass(frozen=True)
class CaseTask:
    case: Case
    profile_document: dict[str, Any]  # the validated profile, as plain data (picklable)
    transport: str = TransportKind.AIOHTTP.value
    mode: str = Mode.REAL.value
    idle_timeout_s: float | None = None  # the scenario's frontend idle timeout
    # A running server instead of an embedded mock (``--target``): its cases run one at a time, in
    # this process (``executor_for``), so its credentials never leave it and its caps hold.
    session: TargetSession | None = None
    # The profile as the planning process resolved it (an empirical CSV's durations included), so
    # that a worker, here or on another machine, reads no file; None: ``profile_document`` is read.
    profile: Profile | None = None


def run_case(task: CaseTask) -> RunResult:
    """Run one case to completion in this process (an executor calls this)."""
    case = task.case
    config = RunConfig(files=case.files, folders=case.folders,
                       strategy=make_strategy(case.kind, case.size, case.heartbeat_s, case.retry,
                                              case.rate_limit),
                       profile=task.profile if task.profile is not None
                       else profile_from_mapping(task.profile_document, case.case_id),
                       target=None if task.session is None else task.session.target.url, session=task.session,
                       transport=TransportKind(task.transport), mode=Mode(task.mode),
                       idle_timeout_s=task.idle_timeout_s)
    return run_blocking(config)


CaseOutcome = RunResult | CaseFailure


def failure_of(error: BaseException) -> CaseFailure:
    """What is stored of a case that raised: never a credential, whatever the error quoted."""
    return CaseFailure(type(error).__name__, redact(str(error)),
                       redact("".join(traceback.format_exception(error)).rstrip()))


def run_case_recording_failure(task: CaseTask) -> CaseOutcome:
    """``run_case``, with an exception it raises returned as the case's ``CaseFailure``."""
    try:
        return run_case(task)
    except Exception as error:  # any bug or bad input of one case: recorded, the sweep goes on
        return failure_of(error)


class CaseExecutor(Protocol):
    def run(self, tasks: Sequence[CaseTask]) -> Iterator[tuple[CaseTask, CaseOutcome]]: ...


class InlineExecutor:
    def run(self, tasks: Sequence[CaseTask]) -> Iterator[tuple[CaseTask, CaseOutcome]]:
        for task in tasks:
            yield task, run_case_recording_failure(task)


PARENT_CHECK_S = 0.2


def _worker_init() -> None:
    """In each worker: Ctrl-C is the parent's to handle, and a worker never outlives its parent
    (a sweep killed with SIGKILL must not leave cases running). SIGTERM keeps its default: the
    pool ends its workers with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def exit_when_orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=exit_when_orphaned, daemon=True).start()


WORKER_DIED = ("a worker process of the sweep died while this case ran (killed, or out of "
               "memory); the pool's other cases in flight were lost with it")


class ProcessExecutor:
    """Up to ``jobs`` cases at once, each in a worker process. A worker that dies outright breaks
    its whole pool: the cases in flight then are recorded as failed (``--resume`` retries them) and
    the rest of the sweep goes on in a fresh pool."""

    def __init__(self, jobs: int,
                 work: Callable[[CaseTask], CaseOutcome] = run_case_recording_failure) -> None:
        self.jobs = jobs
        self.work = work  # module-level (it is pickled by name for the workers)

    def run(self, tasks: Sequence[CaseTask]) -> Iterator[tuple[CaseTask, CaseOutcome]]:
        queue = iter(tasks)
        while True:
            broke = yield from self._run_pool(queue)
            if not broke:
                return

    def _run_pool(self, queue: Iterator[CaseTask]) -> Iterator[tuple[CaseTask, CaseOutcome]]:
        """Run cases from ``queue`` in one pool until it is empty (False) or the pool breaks (True)."""
        pool = ProcessPoolExecutor(max_workers=self.jobs, initializer=_worker_init,
                                   mp_context=multiprocessing.get_context("spawn"))
        pending: dict[Future[CaseOutcome], CaseTask] = {}
        try:
            for task in queue:  # keep exactly `jobs` cases in flight, in grid order
                pending[pool.submit(self.work, task)] = task
                if len(pending) >= self.jobs:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                if any(isinstance(future.exception(), BrokenProcessPool) for future in done):
                    lost = list(pending.items())
                    pending.clear()
                    for future, task in lost:  # every future settles once its pool is broken
                        if isinstance(future.exception(), BrokenProcessPool):
                            yield task, CaseFailure("WorkerDied", WORKER_DIED, "")
                        else:  # it finished before the worker died: its outcome stands
                            yield task, _outcome(future)
                    return True
                for future in done:
                    task = pending.pop(future)
                    following = next(queue, None)
                    if following is not None:
                        pending[pool.submit(self.work, following)] = following
                    yield task, _outcome(future)
            return False
        finally:
            # On an interruption, cases still running are abandoned: their results were never
            # written, so --resume runs them again. Terminate the workers rather than wait.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)


def _outcome(future: Future[CaseOutcome]) -> CaseOutcome:
    """A finished case's outcome; a result that could not come back (unpicklable) is its failure."""
    error = future.exception()
    return future.result() if error is None else failure_of(error)


@dataclass(frozen=True)
class SweepPlan:
    total: int
    already_done: int
    tasks: tuple[CaseTask, ...]


def plan_sweep(loaded: LoadedScenario, store: ResultsStore, resume: bool,
               transport: TransportKind = TransportKind.AIOHTTP, session: TargetSession | None = None) -> SweepPlan:
    store.prepare(loaded, resume)
    finished = store.finished()
    cases = loaded.scenario.cases()
    profiles = {r: loaded.profile(r) for r in range(loaded.scenario.repetitions)}
    documents = {r: profile.to_document() for r, profile in profiles.items()}
    tasks = tuple(CaseTask(case, documents[case.repetition], transport.value, loaded.scenario.mode,
                           loaded.scenario.idle_timeout_s, session, profiles[case.repetition])
                  for case in cases if case.case_id not in finished)
    return SweepPlan(total=len(cases), already_done=len(cases) - len(tasks), tasks=tasks)


def run_sweep(plan: SweepPlan, store: ResultsStore, executor: CaseExecutor,
              on_case: Callable[[Case], None] = lambda case: None) -> list[tuple[Case, CaseFailure]]:
    """Run the planned cases, storing each as it finishes (or its failure, and going on); every
    case stored is on disk when this returns or raises (Ctrl-C included), in one chunk if the
    sweep completed. Returns the cases that failed, in the order they finished."""
    failures: list[tuple[Case, CaseFailure]] = []
    try:
        for task, outcome in executor.run(plan.tasks):
            if isinstance(outcome, CaseFailure):
                store.write_failure(task.case, outcome)
                failures.append((task.case, outcome))
            else:
                store.write_case(task.case, outcome)
            on_case(task.case)
        store.close(compact=True)
    finally:
        store.close()
    return failures


class SweepTerminated(KeyboardInterrupt):
    """SIGTERM arrived during a sweep: handled as Ctrl-C is (finished cases kept, tables written)."""


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While in the block, SIGTERM raises ``SweepTerminated`` in the main thread, once (a second
    one while the sweep cleans up is ignored: SIGKILL is the way to stop it at once)."""
    def handle(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SweepTerminated

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def executor_for(jobs: int, session: TargetSession | None = None,
                 shared: CaseExecutor | None = None) -> CaseExecutor:
    """``jobs`` worker processes, or ``shared`` (an executor the command opened for all its sweeps:
    ``dask_executor``'s), or this process alone: for one job, and always for a target, whose cases
    run one at a time (parallel cases would load it with each other's calls, and pass its caps)
    and whose credentials never leave this process."""
    if session is not None:
        return InlineExecutor()
    if shared is not None:
        return shared
    return InlineExecutor() if jobs <= 1 else ProcessExecutor(jobs)


DASK_PACKAGES = ("dask", "distributed")


@contextmanager
def dask_executor(jobs: int, scheduler: str | None = None) -> Iterator[DaskExecutor]:
    """The Dask executor (``harness.dask_executor.open_dask``): on a LocalCluster of ``jobs``
    worker processes it starts and closes, or on ``scheduler``'s cluster. Without Dask installed,
    one line saying how to install it."""
    try:
        from harness.dask_executor import open_dask
    except ImportError as error:
        if (error.name or "").partition(".")[0] not in DASK_PACKAGES:
            raise
        raise ConfigError("--executor dask", "needs Dask distributed, which is not installed here",
                          "pip install 'onyx-bench[dask]', or drop --executor dask") from None
    with open_dask(jobs, scheduler) as executor:
        yield executor


def default_out(name: str) -> Path:
    """A fresh timestamped results directory under ./results."""
    return Path("results") / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"
