"""How much real per-call overhead distorts simulated time, at time scales from 0.001 to 0.1.

Loopback HTTP and Python's own work cost real milliseconds per call that time compression does
not shrink, so they are magnified by 1 / time scale. For each scale this runs fault-free cases
against the embedded mock and prints the measured makespan's error against the closed form
(the same seed's drawn latencies), and the mean wall overhead per call.

    .venv/bin/python benchmarks/time_scale_error.py [--scales 0.001,0.01,0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from harness.expected import call_latency_s
from harness.runner import RunConfig, run_once
from harness.strategies import make_strategy
from mock_onyx import Behaviour, Endpoint, profile_from_mapping

SCALES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
CASES = (("sequential", None, 3), ("batch", 8, 10), ("batch", 8, 20), ("window", 8, 20))


async def measure(scale: float, seed: int) -> list[str]:
    profile = profile_from_mapping({"seed": seed, "time_scale": scale}, "benchmark")
    behaviour = Behaviour(profile)
    cells, overheads = [], []
    for kind, size, files in CASES:
        result = await run_once(RunConfig(files=files, strategy=make_strategy(kind, size), profile=profile))
        expected = result.summary.expected_makespan_s or float("nan")
        cells.append(f"{100 * (result.summary.makespan_s / expected - 1):+8.2f}%")
        calls = result.calls_frame()
        overheads += [(row.end_s - row.start_s - call_latency_s(behaviour, Endpoint(row.endpoint), row.id)) * scale
                      for row in calls.itertuples()]
    return [f"{scale:>8g}", *cells, f"{1000 * statistics.fmean(overheads):10.2f}"]


async def main(scales: list[float], seed: int) -> None:
    header = ["scale", *(f"{k}{'' if s is None else f'-{s}'}@{n}" for k, s, n in CASES), "ms/call"]
    print("makespan error vs closed form (+ = slower), and mean wall overhead per call")
    print("  ".join(f"{h:>12}" for h in header))
    for scale in scales:
        row = await measure(scale, seed)
        print("  ".join(f"{cell:>12}" for cell in row))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default=",".join(str(s) for s in SCALES))
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    asyncio.run(main([float(s) for s in arguments.scales.split(",")], arguments.seed))
