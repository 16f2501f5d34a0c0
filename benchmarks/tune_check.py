"""The issue's check of ``tune``: its recommendation for ``production``, run 50 times on virtual
time and 5 times on real sockets (at the scenario's time scale, 0.05), at every file count of the
scenario, loses no file, never crashes the server and never hits the idle timeout.

The repetitions use seeds the tune never searched on (the scenario's seed + 100: profile seeds
117000-117049 for production), so this is an out-of-sample check, not the tune's own evidence
again. The runs are stored beside the tune, in DIR/check-virtual and DIR/check-real.

    .venv/bin/python benchmarks/tune_check.py [--tune DIR] [--virtual 50] [--real 5] [--jobs 2]

Without ``--tune`` it first runs ``onyx-bench tune production`` into a temporary folder. Exit
status 1 when a run broke a constraint.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.store import TUNE, ResultsStore, load_runs
from harness.sweep import executor_for, plan_sweep, run_sweep
from harness.tune import Candidate, strategy_tables
from scenarios import LoadedScenario, parse_scenario

HOLDOUT_SEED_OFFSET = 100


def tuned(folder: Path | None, scenario: str, jobs: int, scratch: Path) -> Path:
    if folder is not None:
        return folder
    out = scratch / "tune"
    script = Path(sys.executable).with_name("onyx-bench")
    start = time.perf_counter()
    subprocess.run([str(script), "tune", scenario, "--jobs", str(jobs), "--out", str(out), "--no-report"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"onyx-bench tune {scenario}: {time.perf_counter() - start:.1f} s wall")
    return out


def check(loaded: LoadedScenario, out: Path, jobs: int) -> bool:
    """Run the scenario (the recommendation alone) into ``out`` and say whether it kept everything."""
    store = ResultsStore(out)
    start = time.perf_counter()
    run_sweep(plan_sweep(loaded, store, resume=False), store, executor_for(jobs))
    runs = load_runs(out)
    lost = int((runs["files_failed"] + runs["files_skipped"]).sum())
    crashes = int(runs["server_crashes"].fillna(0).sum())
    idle = int(runs["idle_timeout_hit"].sum())
    means = ", ".join(f"{files} files {group['makespan_s'].mean():.1f} s"
                      for files, group in runs.groupby("files"))
    print(f"  {loaded.scenario.mode:<7} {len(runs):>3} runs ({loaded.scenario.repetitions} seeds x "
          f"{len(loaded.scenario.workload.files)} file counts, {time.perf_counter() - start:.0f} s wall): "
          f"{lost} files lost, {crashes} server crashes, {idle} idle timeouts; mean makespan {means}")
    return lost == crashes == idle == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", type=Path, help="A finished tune's folder (default: run one).")
    parser.add_argument("--scenario", default="production")
    parser.add_argument("--virtual", type=int, default=50)
    parser.add_argument("--real", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = tuned(arguments.tune, arguments.scenario, arguments.jobs, Path(scratch))
        answer = json.loads((folder / TUNE).read_text())
        best = answer["recommendation"]
        if best is None:
            sys.exit(f"nothing to check: {answer['infeasible']}")
        candidate = Candidate.of(best["strategy"], best["size"], best["heartbeat_s"], best["retry"],
                                 best["rate_limit"])
        settings = answer["settings"]
        source = settings["scenario"]  # as the tune recorded it: its text, and where it was read
        folder_of = None if source.startswith("builtin:") else Path(source).resolve().parent
        base = parse_scenario(settings["scenario_text"], source, folder_of).with_overrides(
            seed=settings["seed"] + HOLDOUT_SEED_OFFSET, idle_timeout_s=settings["idle_timeout_s"],
            time_scale=settings["time_scale"], strategies=strategy_tables([candidate]))
        print(f"recommended: {candidate.label}; seeds {base.scenario.seed * 1000} and up (never searched on)")
        kept = [check(base.with_overrides(mode=mode, repetitions=reps), folder / f"check-{mode}", arguments.jobs)
                for mode, reps in (("virtual", arguments.virtual), ("real", arguments.real))]
    print("every run lost no file, never crashed the server and never hit the idle timeout" if all(kept)
          else "a run broke a constraint (see above)")
    sys.exit(0 if all(kept) else 1)


if __name__ == "__main__":
    main()
