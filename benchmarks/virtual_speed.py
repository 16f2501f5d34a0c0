"""How fast virtual mode runs, side by side with the goals (2-core machine):

- simulated seconds per wall second of one run, for sequential over 20 files and batch 8 and
  window 8 over 50 files (goal for batch 8 over 50 files: at least 3,000x real time);
- the wall time of ``onyx-bench reproduce --mode virtual --reps 30 --no-cross-check``, the main
  job's table without its cross-check on sockets (goal: under 15 s).

    .venv/bin/python benchmarks/virtual_speed.py [--reps 30] [--jobs 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.runner import Mode, RunConfig, run_blocking
from harness.strategies import make_strategy
from mock_onyx import profile_from_mapping

CASES = (("sequential", None, 20), ("batch", 8, 50), ("window", 8, 50))
RATIO_GOAL = 3000.0  # batch 8 over 50 files
REPRODUCE_GOAL_S = 15.0


def ratio() -> None:
    for kind, size, files in CASES:
        simulated = 0.0
        start = time.perf_counter()
        for seed in range(10):
            profile = profile_from_mapping({"seed": seed}, "benchmark")
            result = run_blocking(RunConfig(files=files, strategy=make_strategy(kind, size),
                                            profile=profile, mode=Mode.VIRTUAL))
            simulated += result.summary.makespan_s
        wall = time.perf_counter() - start
        name = kind if size is None else f"{kind}={size}"
        goal = f" (goal >= {RATIO_GOAL:,.0f}x)" if (kind, size, files) == ("batch", 8, 50) else ""
        print(f"{name:<12} {files:>3} files x 10 runs: {simulated:9.0f} simulated s in {wall:6.2f} wall s"
              f" = {simulated / wall:9,.0f}x real time{goal}")


def reproduce(reps: int, jobs: int) -> None:
    script = Path(sys.executable).with_name("onyx-bench")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        subprocess.run([str(script), "reproduce", "--mode", "virtual", "--reps", str(reps),
                        "--no-cross-check", "--jobs", str(jobs), "--out", f"{folder}/out"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
    print(f"onyx-bench reproduce --mode virtual --reps {reps} --no-cross-check --jobs {jobs}: "
          f"{wall:.1f} s wall (goal < {REPRODUCE_GOAL_S:g} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    arguments = parser.parse_args()
    ratio()
    reproduce(arguments.reps, arguments.jobs)
