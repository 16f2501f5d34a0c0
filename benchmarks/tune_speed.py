"""How long ``onyx-bench tune production`` takes on the wall clock, real-mode confirmation
included, beside the goal (under 2 minutes on 2 cores: fast enough to use while thinking), and
where the time went (each round's cases, the confirmation on sockets).

    .venv/bin/python benchmarks/tune_speed.py [--scenario production] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 120.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="production")
    parser.add_argument("--jobs", type=int, default=2)
    arguments = parser.parse_args()
    script = Path(sys.executable).with_name("onyx-bench")
    with tempfile.TemporaryDirectory() as folder:
        command = [str(script), "tune", arguments.scenario, "--jobs", str(arguments.jobs), "--out",
                   f"{folder}/out", "--json"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"onyx-bench tune failed (exit {done.returncode}):\n{done.stderr}")
    answer = json.loads(done.stdout)
    print(f"onyx-bench tune {arguments.scenario} --jobs {arguments.jobs}: {wall:.1f} s wall "
          f"(goal < {GOAL_S:g} s){'' if wall < GOAL_S else '  MISSED'}")
    rounds = answer["rounds"]
    print(f"  {len(answer['candidates'])} candidates; virtual cases per round: "
          + ", ".join(str(r["cases"]) for r in rounds))
    confirmation = answer["confirmation"]
    if confirmation is not None:
        print(f"  confirmation on sockets: {confirmation['runs']} runs at time scale {confirmation['time_scale']:g}")
    best = answer["recommendation"]
    print(f"  recommended: {best['label']}, {best['makespan_s_mean']:.1f} s mean at {best['files']} files"
          if best else f"  {answer['infeasible']}")


if __name__ == "__main__":
    main()
