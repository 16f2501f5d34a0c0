"""How much real per-call overhead distorts simulated time, at time scales from 0.001 to 0.1.

Loopback HTTP and Python's own work cost real milliseconds per call that time compression does
not shrink, so they are magnified by 1 / time scale. For each scale this runs fault-free cases
against the embedded mock and prints each run's own ``harness_overhead_pct`` (its makespan against
the behaviour model's for the latencies it drew: ``harness.overhead``), as the mean and the
largest over ``--seeds`` seeds, and the mean wall overhead per HTTP call.

    .venv/bin/python benchmarks/time_scale_error.py [--scales 0.01,0.05] [--seeds 3] [--busy]

``--busy`` keeps the other core busy with a spinning process while it measures, as a shared
machine (or CI running beside something else) would: the spread the tests' tolerances come from.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
from collections.abc import Iterator
from contextlib import contextmanager

from harness.expected import call_latency_s
from harness.runner import RunConfig, run_once
from harness.strategies import make_strategy
from mock_onyx import Behaviour, Endpoint, profile_from_mapping

SCALES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
CASES = (("sequential", None, 3), ("batch", 8, 10), ("batch", 8, 20), ("window", 8, 20))


async def measure(scale: float, seeds: int) -> list[str]:
    cells, overheads = [], []
    for kind, size, files in CASES:
        pcts = []
        for seed in range(1, seeds + 1):
            profile = profile_from_mapping({"seed": seed, "time_scale": scale}, "benchmark")
            result = await run_once(RunConfig(files=files, strategy=make_strategy(kind, size), profile=profile))
            pcts.append(result.summary.harness_overhead_pct or float("nan"))
            behaviour = Behaviour(profile)
            overheads += [(row.end_s - row.start_s - call_latency_s(behaviour, Endpoint(row.endpoint), row.id))
                          * scale for row in result.calls_frame().itertuples()]
        cells.append(f"{statistics.fmean(pcts):+6.2f}% ({max(pcts):+.2f})")
    return [f"{scale:>8g}", *cells, f"{1000 * statistics.fmean(overheads):10.2f}"]


def _spin() -> None:
    while True:
        pass


@contextmanager
def other_core_busy(busy: bool) -> Iterator[None]:
    if not busy:
        yield
        return
    spinner = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
    spinner.start()
    try:
        yield
    finally:
        spinner.terminate()
        spinner.join()


async def main(scales: list[float], seeds: int) -> None:
    header = ["scale", *(f"{k}{'' if s is None else f'-{s}'}@{n}" for k, s, n in CASES), "ms/call"]
    print(f"harness_overhead_pct: mean (largest) over {seeds} seeds; mean wall overhead per call")
    print("  ".join(f"{h:>20}" for h in header))
    for scale in scales:
        row = await measure(scale, seeds)
        print("  ".join(f"{cell:>20}" for cell in row), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default=",".join(str(s) for s in SCALES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--busy", action="store_true", help="keep the other core busy meanwhile")
    arguments = parser.parse_args()
    with other_core_busy(arguments.busy):
        asyncio.run(main([float(s) for s in arguments.scales.split(",")], arguments.seeds))
