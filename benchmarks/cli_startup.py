"""How fast the CLI starts: the best-of-7 wall time of ``onyx-bench --help`` and
``onyx-bench serve --help`` (goal: under 0.3 s), next to a bare ``python -c pass``.

    .venv/bin/python benchmarks/cli_startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

GOAL_S = 0.3
SCRIPT = Path(sys.executable).with_name("onyx-bench")
BASELINE = "python -c pass"
COMMANDS = {
    BASELINE: [sys.executable, "-c", "pass"],
    "onyx-bench --help": [str(SCRIPT), "--help"],
    "onyx-bench serve --help": [str(SCRIPT), "serve", "--help"],
}


def best_wall_s(command: list[str], repeat: int) -> float:
    """The fastest of ``repeat`` runs: the machine is shared, and noise only ever adds time."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    walls = {name: best_wall_s(command, repeat) for name, command in COMMANDS.items()}
    baseline = walls[BASELINE]
    print(f"{'command':<26} {'best of ' + str(repeat):>10} {'goal':>7} {'over python':>12}")
    for name, wall in walls.items():
        verdict = "" if name == BASELINE else ("ok" if wall < GOAL_S else "SLOW")
        print(f"{name:<26} {wall:9.3f}s {GOAL_S:6.1f}s {wall - baseline:+11.3f}s  {verdict}")


if __name__ == "__main__":
    main()
