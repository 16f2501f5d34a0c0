"""The tune's rounds as scenarios: the candidates a scenario's strategies give at the sizes to
explore, the ``[[strategies]]`` tables that run a set of them, and a round's runs read back as
observations. Still no I/O: the command (``harness.cli_tune``) runs the rounds as sweeps.

Each round runs one block of draws (``harness.tune.search.Block``): repetitions ``0 .. n - 1``
of a scenario seed, the scenario's own for round 1, one more for each new block; repetition
``r`` of seed ``s`` draws profile seed ``s * 1000 + r``, the same for every candidate run on it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from harness.tune.search import Candidate, Observation
from mock_onyx.errors import ConfigError
from scenarios import Scenario
from scenarios.model import SIZED_KINDS

DEFAULT_SIZES = "1-16"
MAX_SIZE = 10_000
SIZES_HELP = "sizes as a range and/or a list, e.g. 1-16 or 1-8,12,16"


def parse_sizes(text: str) -> tuple[int, ...]:
    """``1-16`` or ``1,2,4,8`` or ``1-8,12,16``: the sizes to explore, sorted, each once."""
    sizes: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?", part)
        if match is None:
            raise ConfigError("--sizes", f"{part!r} is not a size or a range", f"give {SIZES_HELP}")
        low, high = int(match[1]), int(match[2] or match[1])
        if not 1 <= low <= high <= MAX_SIZE:
            raise ConfigError("--sizes", f"{part!r} is not a range of sizes from 1 to {MAX_SIZE:,}",
                              f"give {SIZES_HELP}")
        sizes.update(range(low, high + 1))
    return tuple(sorted(sizes))


def search_candidates(scenario: Scenario, sizes: Iterable[int]) -> list[Candidate]:
    """Every configuration the scenario's strategies name, each sized kind at ``sizes`` and at
    the scenario's own sizes: its policies as written, its size explored."""
    explored = tuple(sizes)
    found: dict[Candidate, None] = {}
    for grid in scenario.strategies:
        for size, heartbeat, retry, rate in grid.points():
            for each in (sorted({*explored, size}) if grid.kind in SIZED_KINDS and size else [None]):
                found[Candidate.of(grid.kind, each, heartbeat, retry, rate)] = None
    return sorted(found, key=lambda c: (c.kind, c.family, c.size or 0))


def strategy_tables(candidates: Iterable[Candidate]) -> list[dict[str, Any]]:
    """``[[strategies]]`` tables (as plain, JSON-ready data) that run exactly ``candidates``: one
    per kind and policies, with its sizes."""
    families: dict[tuple[str, float, str, float], list[int]] = {}
    for candidate in candidates:
        families.setdefault(candidate.family, [])
        if candidate.size is not None:
            families[candidate.family].append(candidate.size)
    tables = []
    for (kind, heartbeat, retry, rate), sizes in families.items():
        table: dict[str, Any] = {"kind": kind}
        if sizes:
            table["size"] = sorted(sizes)
        tables.append({**table, "heartbeat_s": heartbeat, "retry": retry, "rate_limit": rate})
    return tables


def observations(records: Iterable[Mapping[str, Any]], seed: int) -> list[Observation]:
    """A round's runs (``harness.store.load_runs`` rows) as observations; ``seed``: the round's."""
    found = []
    for run in records:
        size = run.get("size")
        items = run["files_ok"] + run["files_failed"] + run["files_skipped"]
        crashes = run.get("server_crashes")
        found.append(Observation(
            candidate=Candidate.of(run["kind"], None if size is None or _missing(size) else int(size),
                                   float(run.get("heartbeat_s") or 0.0), run.get("retry"),
                                   float(run.get("rate_limit") or 0.0)),
            files=int(run["files"]), folders=int(run.get("folders") or 0),
            draws=(seed, int(run["repetition"])), makespan_s=float(run["makespan_s"]),
            success_rate=float(run["files_ok"]) / items if items else 1.0,
            idle_timeout_hit=bool(run.get("idle_timeout_hit") or False),
            server_crashes=0 if crashes is None or _missing(crashes) else int(crashes)))
    return found


def _missing(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
