"""The tune's answer in words: why the winner won and what the next larger size breaks, what a
candidate broke, and the one line when nothing is feasible. Pure: from standings alone."""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.tune.search import CRASH, IDLE, LOST, Interval, Standing, compare

OBJECTIVE_WORDS = {"mean": "mean makespan", "p95": "95th-percentile makespan"}


def broke_text(standing: Standing) -> str:
    """``crashed the server in 6 of 6 runs and lost files in 6 of 6 (as few as 17% kept)``."""
    runs = standing.runs
    parts = []
    if CRASH in standing.broke:
        parts.append(f"crashed the server in {standing.broke[CRASH]} of {runs}")
    if IDLE in standing.broke:
        parts.append(f"hit the idle timeout in {standing.broke[IDLE]} of {runs}")
    if LOST in standing.broke:
        parts.append(f"lost files in {standing.broke[LOST]} of {runs} "
                     f"(as few as {standing.worst_success_rate:.0%} kept)")
    if not parts:
        return "kept every constraint"
    text = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    return text.replace(f" of {runs}", f" of {runs} runs", 1)


def kept_text(standing: Standing, idle_timeout: bool) -> str:
    """What a feasible candidate kept, as facts: ``lost no file, never crashed the server and
    never hit the idle timeout``."""
    lost = "lost no file" if standing.worst_success_rate >= 1 else \
        f"kept at least {standing.worst_success_rate:.1%} of its files"
    parts = [lost, "never crashed the server"] + (["never hit the idle timeout"] if idle_timeout else [])
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def next_larger(winner: Standing, ranked: Sequence[Standing]) -> Standing | None:
    """The same kind and policies at the next larger size explored, if any."""
    size = winner.candidate.size
    if size is None:
        return None
    larger = [s for s in ranked if s.candidate.family == winner.candidate.family
              and s.candidate.size is not None and s.candidate.size > size]
    return min(larger, key=lambda s: s.candidate.size or 0, default=None)


def why(winner: Standing, ranked: Sequence[Standing], objective: str, idle_timeout: bool,
        files: int) -> str:
    """One sentence: ``batch=5 with a 10 s heartbeat: the fastest that lost no file, never crashed
    the server and never hit the idle timeout in 40 runs (151.2 s mean makespan at 30 files);
    batch=6 crashed the server in 7 of 40 runs.``"""
    head = (f"{winner.candidate.words}: the fastest that {kept_text(winner, idle_timeout)} in "
            f"{winner.runs} runs ({winner.objective_s:.1f} s {OBJECTIVE_WORDS[objective]} at {files} files)")
    return f"{head}; {_next_part(winner, ranked, objective)}."


def _next_part(winner: Standing, ranked: Sequence[Standing], objective: str) -> str:
    following = next_larger(winner, ranked)
    if following is None:
        return ("it has no size to grow" if winner.candidate.size is None
                else "no larger size was explored")
    name = following.candidate.name
    if not following.feasible:
        return f"{name} {broke_text(following)}"
    interval = compare(winner, following, objective)
    if interval.tied:
        return f"{name} ran the very same schedule (a tie, broken by its policies)"
    return f"{name} kept every constraint but its makespan was {slower_text(interval, winner)}"


def interval_text(pct: float, low: float | None, high: float | None) -> str:
    """A difference in % with its 95% interval: ``+4.1 ± 1.0%`` when symmetric, else
    ``+4.1% (+0.5 to +7.7)``; ``+4.1%`` when exact, ``+4.1% (one pair: no interval)``."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return f"{pct:+.1f}% (one pair: no interval)"
    if low == high:
        return f"{pct:+.1f}%"
    if abs((high - pct) - (pct - low)) < 0.05:
        return f"{pct:+.1f} ± {high - pct:.1f}%"
    return f"{pct:+.1f}% ({low:+.1f} to {high:+.1f})"


def slower_text(interval: Interval, leader: Standing) -> str:
    """``+4.1 ± 1.0% (paired over 20 runs)``, and ``within noise`` when the interval holds 0."""
    base = leader.objective_s / 100
    text = interval_text(interval.difference_s / base, interval.low_s / base, interval.high_s / base)
    noise = ", within noise" if interval.holds_zero else ""
    return f"{text} (paired over {interval.pairs} run{'s' if interval.pairs != 1 else ''}{noise})"


def infeasible_line(ranked: Sequence[Standing]) -> str:
    """The one line when no candidate is feasible: the closest and what it broke."""
    closest = ranked[0]
    count = f"{len(ranked)} candidate{'s' if len(ranked) != 1 else ''}"
    return (f"no configuration met every constraint ({count}); the closest, "
            f"{closest.candidate.label}, {broke_text(closest)}")
