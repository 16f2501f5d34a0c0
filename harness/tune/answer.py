"""The tune's answer as JSON-ready records: the recommendation and a row per candidate (what
``tune --json`` prints and ``DIR/tune.json`` keeps; ``reports.tune`` draws and tabulates them)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from harness.tune.explain import broke_text
from harness.tune.search import Candidate, Standing, compare

FORMAT_VERSION = 1


def clean(value: Any) -> Any:
    """``value`` with every nan or infinite float as None (JSON has neither), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean(item) for item in value]
    return value


def _configuration(candidate: Candidate) -> dict[str, Any]:
    return {"strategy": candidate.kind, "size": candidate.size, "heartbeat_s": candidate.heartbeat_s,
            "retry": candidate.retry, "rate_limit": candidate.rate_limit, "label": candidate.label}


def _figures(standing: Standing) -> dict[str, Any]:
    return {"runs": standing.runs, "reps": standing.reps, "makespan_s_mean": standing.makespan_s_mean,
            "makespan_s_ci95": standing.makespan_s_ci95, "makespan_s_p95": standing.makespan_s_p95,
            "objective_s": standing.objective_s, "success_rate": standing.success_rate,
            "worst_success_rate": standing.worst_success_rate}


def recommendation_record(winner: Standing, why: str, files: int, folders: int) -> dict[str, Any]:
    return clean({**_configuration(winner.candidate), **_figures(winner), "files": files, "folders": folders,
                  "why": why})


def status(standing: Standing, winner: Standing | None, objective: str) -> tuple[str, dict[str, Any]]:
    """``recommended``, ``tied`` (the same schedule, lost the tie-break), ``within noise`` (its
    interval against the winner holds 0), ``slower`` or ``infeasible``; with the paired
    difference against the winner in % of its objective, and that difference's 95% interval
    (symmetric for the mean's t interval, not for p95's bootstrap)."""
    if not standing.feasible:
        return "infeasible", {}
    if winner is None or standing.candidate == winner.candidate:
        return "recommended", {}
    interval = compare(winner, standing, objective)
    base = winner.objective_s / 100
    pct = {"vs_recommendation_pct": interval.difference_s / base,
           "vs_recommendation_pct_low": interval.low_s / base, "vs_recommendation_pct_high": interval.high_s / base,
           "vs_recommendation_pairs": interval.pairs}
    if interval.tied:
        return "tied", pct
    return ("within noise" if interval.holds_zero else "slower"), pct


def candidate_records(ranked: Sequence[Standing], winner: Standing | None, objective: str,
                      rounds_of: dict[Candidate, list[int]]) -> list[dict[str, Any]]:
    """A row per candidate, in rank order (the feasible by objective, then the infeasible)."""
    rows = []
    for rank, standing in enumerate(ranked, start=1):
        state, against = status(standing, winner, objective)
        rows.append(clean({"rank": rank, **_configuration(standing.candidate), **_figures(standing),
                           "feasible": standing.feasible, "broke": dict(standing.broke),
                           "broke_text": None if standing.feasible else broke_text(standing),
                           "status": state, **against, "rounds": rounds_of.get(standing.candidate, [])}))
    return rows


def rounds_of(per_round: Iterable[tuple[int, Iterable[Candidate]]]) -> dict[Candidate, list[int]]:
    """Which rounds each candidate ran in."""
    taken: dict[Candidate, list[int]] = {}
    for number, candidates in per_round:
        for candidate in candidates:
            taken.setdefault(candidate, []).append(number)
    return taken
