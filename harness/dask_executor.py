"""Sweeps on Dask distributed (``--executor dask``): imported only when that is chosen.

    open_dask(jobs, scheduler)  a ``DaskExecutor`` on a ``LocalCluster`` this command starts (``jobs``
                                worker processes, one thread each), or on the cluster of a running
                                scheduler (``tcp://HOST:PORT``); what it started, it closes
    DaskExecutor.run(tasks)     ``harness.sweep``'s ``CaseExecutor``: (task, outcome) pairs as cases
                                finish, which ``run_sweep`` writes here, in this process

A Dask task runs a chunk of cases on one worker, one after another, each exactly as the process
pool runs it (``run_case_recording_failure``: its own event loop; on sockets its own embedded mock
on that worker's loopback). A task carries its cases' resolved profiles (pickled, an empirical
CSV's durations included), so a worker reads no scenario or profile file: it needs onyx-bench at
this machine's version (checked before the first case) and nothing else.

Worker processes with one thread each: a case is one event loop on one thread, and two cases in
one process would share its interpreter lock and its collector (a run on sockets pauses the
collector of its whole process while it measures: ``harness.runner.GC_PAUSE``), so each would
distort the other's timing, which the local pool avoids by giving each case a process; on virtual
time a case is pure Python, which threads would not run in parallel anyway.

Chunks (``chunk_tasks``): a case on sockets is a task of its own (it lasts seconds). A case on
virtual time lasts milliseconds, about what Dask spends to hand a task to a worker and its result
back, so consecutive cases share a task until their estimated wall time (``harness.estimate``)
reaches ``CHUNK_S``, but the sweep is cut into at least ``CHUNKS_PER_SLOT`` tasks per worker
thread, so that the work still spreads and the last tasks end together.

A worker that dies while it runs a task: the scheduler gives the task to another worker, up to its
``distributed.scheduler.allowed-failures`` times (3 unless the scheduler is configured otherwise),
then fails it with ``KilledWorker`` (a task waiting on that worker counts the death too, as Dask
counts it). A chunk that fails so is split and each of its cases tried alone; a case alone that
fails so is recorded as failed with the reason (``--resume`` runs it again). Dask's ``retries`` is not used: it re-runs tasks that raise, and a case never raises here
(its exception is its recorded failure). A case id is handed to ``run_sweep`` once, whatever
comes back, so no case is written twice.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from importlib import metadata

from distributed import Client, Future, KilledWorker, LocalCluster, as_completed
from distributed.diagnostics.plugin import WorkerPlugin

from harness.estimate import VIRTUAL_WALL_S_PER_ITEM
from harness.modes import Mode
from harness.store import CaseFailure
from harness.sweep import CaseOutcome, CaseTask, failure_of, run_case_recording_failure
from mock_onyx.errors import ConfigError

CHUNK_S = 0.25  # estimated wall seconds of virtual cases per task (Dask's own: 7.5-10.5 ms of worker
# time a task on 2 cores, benchmarks/test_dask.py: a case per task kept the workers in cases 43-45% of the time)
CHUNKS_PER_SLOT = 4  # at least this many tasks per worker thread in a sweep
IN_FLIGHT_PER_SLOT = 2  # tasks handed to the scheduler per worker thread: one running, one ready
SLOTS_EVERY_S = 2.0  # how often the cluster's worker threads are counted again (workers come and go)
CONNECT_S = 10.0  # waiting for --scheduler to answer, and for it to have a worker
WORKER_DIED = ("the Dask workers that ran this case died each time (killed, or out of memory): "
               "the scheduler gave up on it after its allowed-failures")


@dataclass(frozen=True)
class ChunkDone:
    """What a task sends back: its cases' outcomes in order, and the worker's seconds spent on them."""

    outcomes: tuple[CaseOutcome, ...]
    busy_s: float


def run_chunk(tasks: tuple[CaseTask, ...],
              work: Callable[[CaseTask], CaseOutcome] = run_case_recording_failure) -> ChunkDone:
    """On a worker: each case of the chunk, one after another, as the process pool runs one."""
    start = time.perf_counter()
    outcomes = tuple(work(task) for task in tasks)
    return ChunkDone(outcomes, time.perf_counter() - start)


def chunk_tasks(tasks: Sequence[CaseTask], slots: int, chunk_s: float = CHUNK_S) -> list[tuple[CaseTask, ...]]:
    """Consecutive cases grouped into Dask tasks: a case on sockets alone; cases on virtual time
    until their estimated wall time reaches ``chunk_s``, or the share of the whole sweep that
    leaves ``CHUNKS_PER_SLOT`` tasks for each of ``slots`` worker threads, whichever is less
    (``chunk_s`` 0: a case per task)."""
    def wall_s(task: CaseTask) -> float:
        return (task.case.files + task.case.folders) * VIRTUAL_WALL_S_PER_ITEM

    virtual = [task for task in tasks if task.mode == Mode.VIRTUAL.value]
    target_s = min(chunk_s, sum(map(wall_s, virtual)) / (CHUNKS_PER_SLOT * max(1, slots)))
    chunks: list[tuple[CaseTask, ...]] = []
    current: list[CaseTask] = []
    current_s = 0.0
    for task in tasks:
        if task.mode != Mode.VIRTUAL.value:
            chunks.append((task,))
            continue
        current.append(task)
        current_s += wall_s(task)
        if current_s >= target_s:
            chunks.append(tuple(current))
            current, current_s = [], 0.0
    if current:
        chunks.append(tuple(current))
    return chunks


@dataclass
class DaskStats:
    """What the executor did, for its measurements (``benchmarks/test_dask.py``)."""

    tasks: int = 0  # Dask tasks whose results came back
    cases: int = 0  # cases whose outcomes came back in them
    busy_s: float = 0.0  # worker seconds spent running those cases
    split: int = 0  # chunks split into single cases after their workers died


class DaskExecutor:
    """``harness.sweep``'s ``CaseExecutor`` on a Dask cluster (``client``'s); ``where`` says which."""

    def __init__(self, client: Client, where: str,
                 work: Callable[[CaseTask], CaseOutcome] = run_case_recording_failure,
                 chunk_s: float = CHUNK_S, in_flight_per_slot: int = IN_FLIGHT_PER_SLOT) -> None:
        self.client = client
        self.where = where
        self.work = work  # module-level: pickled by name for the workers
        self.chunk_s, self.in_flight_per_slot = chunk_s, in_flight_per_slot
        self.stats = DaskStats()
        self._slots, self._counted_at = 1, -SLOTS_EVERY_S

    @property
    def slots(self) -> int:
        """The cluster's worker threads (counted again every ``SLOTS_EVERY_S``)."""
        if time.monotonic() - self._counted_at >= SLOTS_EVERY_S:
            self._slots = max(1, sum(self.client.nthreads().values()))
            self._counted_at = time.monotonic()
        return self._slots

    def run(self, tasks: Sequence[CaseTask]) -> Iterator[tuple[CaseTask, CaseOutcome]]:
        queue = deque(chunk_tasks(tasks, self.slots, self.chunk_s))
        pending: dict[Future, tuple[CaseTask, ...]] = {}
        finished = as_completed()
        handed: set[str] = set()  # case ids already yielded: each is written once
        try:
            self._submit(queue, pending, finished)
            for future in finished:
                chunk = pending.pop(future)
                self._submit(queue, pending, finished)  # first: the worker that is free gets work
                outcomes = self._outcomes(future, chunk, queue)
                future.release()
                self._submit(queue, pending, finished)  # a split chunk's cases
                for task, outcome in outcomes:
                    if task.case.case_id not in handed:
                        handed.add(task.case.case_id)
                        yield task, outcome
        finally:
            # On an interruption: what has not started never will; what runs on a worker is
            # abandoned (its result, never written, is dropped; --resume runs it again). A client
            # already closed (the command's way out) has released them itself.
            if pending and self.client.status == "running":
                with suppress(Exception):  # cleaning up on the way out: never hide why we left
                    self.client.cancel(list(pending))

    def _submit(self, queue: deque[tuple[CaseTask, ...]], pending: dict[Future, tuple[CaseTask, ...]],
                finished: as_completed) -> None:
        """Keep ``in_flight_per_slot`` tasks per worker thread with the scheduler, in grid order."""
        while queue and len(pending) < self.in_flight_per_slot * self.slots:
            chunk = queue.popleft()
            future = self.client.submit(run_chunk, chunk, self.work, pure=False,
                                        key=f"cases-{chunk[0].case.case_id}-{len(chunk)}-{uuid.uuid4().hex[:12]}")
            pending[future] = chunk
            finished.add(future)

    def _outcomes(self, future: Future, chunk: tuple[CaseTask, ...],
                  queue: deque[tuple[CaseTask, ...]]) -> list[tuple[CaseTask, CaseOutcome]]:
        """A finished task's outcomes; for a failed one its cases' failures, or (a chunk whose
        workers died) its cases queued again one by one, first."""
        if future.status == "finished":
            try:
                done: ChunkDone = future.result()
            except Exception as error:  # the result could not come back (say, unpicklable)
                return [(task, failure_of(error)) for task in chunk]
            self.stats.tasks += 1
            self.stats.cases += len(done.outcomes)
            self.stats.busy_s += done.busy_s
            return list(zip(chunk, done.outcomes, strict=True))
        error = future.exception() if future.status == "error" else None
        if isinstance(error, KilledWorker) and len(chunk) > 1:
            self.stats.split += 1
            queue.extendleft((task,) for task in reversed(chunk))
            return []
        if isinstance(error, KilledWorker):
            failure = CaseFailure("WorkerDied", f"{WORKER_DIED} ({error})", "")
        elif error is not None:
            failure = failure_of(error)
        else:
            failure = CaseFailure("Cancelled", f"the Dask scheduler cancelled this case's task "
                                               f"({future.status}: it restarted, or lost this client)", "")
        return [(task, failure) for task in chunk]


class _CtrlCIsTheCommands(WorkerPlugin):
    """On the workers of a LocalCluster the command started: Ctrl-C (SIGINT to the terminal's whole
    process group) is the command's to handle (it cancels the sweep, then closes the cluster); a
    worker's own KeyboardInterrupt would only print its traceback. Runs in the worker's main thread."""

    idempotent = True

    def setup(self, worker: object) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def local_cluster(workers: int) -> LocalCluster:
    """``workers`` worker processes of one thread each (see the module's docstring), on loopback;
    no dashboard (the scheduler's HTTP server on a free port, not 8787: two may run at once). Its
    logs are silenced below CRITICAL: a worker that dies is the sweep's to report (a case it ran
    again, or its failure), not as the scheduler's tracebacks between the progress lines."""
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                        silence_logs=logging.CRITICAL)


@contextmanager
def open_dask(jobs: int, scheduler: str | None = None) -> Iterator[DaskExecutor]:
    """A ``DaskExecutor`` on a LocalCluster of ``jobs`` workers, or on ``scheduler``'s cluster;
    on the way out the client closes (the scheduler drops its tasks), and a LocalCluster started
    here closes with its worker processes."""
    with ExitStack() as stack:
        if scheduler is None:
            cluster = stack.enter_context(local_cluster(jobs))
            client = stack.enter_context(Client(cluster))
            client.register_plugin(_CtrlCIsTheCommands(), name="onyx-bench-ctrl-c")
            where = "on a Dask LocalCluster on this machine"
        else:
            client = stack.enter_context(connect(scheduler))
            where = f"on the Dask cluster of {scheduler}"
        yield DaskExecutor(client, where)


def connect(address: str) -> Client:
    """A client of the scheduler at ``address`` that has a worker, every worker running this
    onyx-bench version; else one line saying what to fix."""
    try:
        client = Client(address, timeout=CONNECT_S)
    except (OSError, TimeoutError) as error:
        raise ConfigError("--scheduler", f"{address} cannot be reached ({error})",
                          "start a scheduler there with `dask scheduler`, or give its address") from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_S)
        _check_versions(client, address)
    except TimeoutError:
        client.close()
        raise ConfigError("--scheduler", f"{address} has no worker after {CONNECT_S:g} s",
                          f"start workers with `dask worker {address}`") from None
    except BaseException:
        client.close()
        raise
    return client


def _check_versions(client: Client, address: str) -> None:
    mine = metadata.version("onyx-bench")
    theirs = client.run(metadata.version, "onyx-bench", on_error="return")
    wrong = {worker: version for worker, version in sorted(theirs.items()) if version != mine}
    if wrong:
        worker, version = next(iter(wrong.items()))
        has = f"onyx-bench {version}" if isinstance(version, str) else "no onyx-bench"
        raise ConfigError("--scheduler", f"{len(wrong)} of {len(theirs)} workers of {address} run another "
                                         f"version (worker {worker} has {has}; this machine {mine})",
                          f"install onyx-bench {mine} on every worker (pip install 'onyx-bench[dask]=={mine}', "
                          f"or from this checkout)")
