"""How long a run or a sweep should take on the wall clock, stated before it starts.

On sockets a run takes its simulated makespan times the time scale, and the behaviour model's
closed form gives the makespan to expect (``harness.expected``). On virtual time it takes what the
CPU needs per item, a cost measured on this class of machine. Both are estimates, printed as
"about": faults, folders and retries are counted as plain files.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.expected import expected_mean_makespan_s
from harness.modes import Mode
from harness.strategies import make_strategy
from mock_onyx import Profile

# Wall seconds per item on virtual time, results written: `reproduce --no-cross-check` (10,080
# files over 600 cases) takes 12-13 s with 2 jobs on 2 cores, 2.5 ms per file per job.
VIRTUAL_WALL_S_PER_ITEM = 0.0025
# Wall seconds per case on sockets beyond the makespan: an embedded mock's start and stop, the
# client's set-up, the virtual replay that states the run's overhead.
REAL_CASE_SETUP_S = 0.1
# Starting a sweep's worker processes (spawn, imports) before the first case runs.
POOL_START_S = 1.5


def simulated_makespan_s(kind: str, size: int | None, items: int, profile: Profile) -> float:
    """The model's expected makespan (simulated seconds) of a strategy over ``items`` files."""
    strategy = make_strategy(kind, size)
    expected = expected_mean_makespan_s(strategy, profile, items)
    if expected is not None:
        return expected
    # No closed form (a window): its files flow through ``size`` lanes, each a file's mean apart.
    one_file = expected_mean_makespan_s(make_strategy("sequential"), profile, 1) or 0.0
    return one_file * items / min(items, strategy.size or 1)


def run_wall_s(kind: str, size: int | None, items: int, profile: Profile, mode: Mode) -> float:
    """Wall seconds one run should take."""
    if mode is Mode.VIRTUAL:
        return items * VIRTUAL_WALL_S_PER_ITEM
    return simulated_makespan_s(kind, size, items, profile) * profile.time_scale + REAL_CASE_SETUP_S


def sweep_wall_s(case_walls: Iterable[float], jobs: int) -> float:
    """Wall seconds for cases of these durations on ``jobs`` workers: the busiest worker, as the
    sweep hands each case to the first free one (longest first is not its order: grid order)."""
    workers = [0.0] * max(1, jobs)
    for wall in case_walls:
        index = workers.index(min(workers))
        workers[index] += wall
    return max(workers) + (POOL_START_S if jobs > 1 else 0.0)

