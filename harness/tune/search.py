"""The tune's search: pure decisions over runs already made (no I/O, nothing is run here).

    every candidate, a few repetitions (round 1)
      -> standings: per candidate, the constraints it broke and its objective
      -> the race: the leader (the best feasible) and every feasible candidate whose interval
         against it still holds 0 get more repetitions (round 2, 3, ...), each round one block
         of draws, new or one the others already ran (catching up, so that they stay paired):
         the search spends repetitions where candidates are close, not everywhere
      -> the recommendation (never a candidate that broke a constraint in any run), or the
         closest candidate when none is feasible

A candidate is a strategy's configuration: kind, size and policies. An observation is one run of
it: a file count, the draws it ran on (``draws``: the round's seed and the repetition; runs with
the same draws saw the same latencies and faults, so their difference is paired) and what
happened. Feasible: in every run at least ``min_success`` of the items succeeded, the frontend
never dropped it (idle timeout) and the server never crashed.

The objective is the makespan at the headline file count (the largest, at the fewest folders, as
``sweep``'s answer has it): its mean, or its 95th percentile. Two candidates are compared on the
draws both ran: a paired t interval of the difference of means, or a paired bootstrap interval
(seeded: the same runs give the same answer) of the difference of 95th percentiles. Candidates
that ran the very same schedule (every paired difference 0) are tied, not close: more
repetitions cannot part them, so a tie is broken by what the runs do not measure (heartbeats
on first, as a stalled call then still reaches the frontend; then no retry, no rate limit, the
smaller size).

The t interval is ``reports.stats``' (pure arithmetic on numbers, no results read): the one copy
of the project's statistics, which ``compare`` and the reports also use.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from reports.stats import mean_ci95, paired_t_test
from scenarios.policies import default_retry, parse_retry, policy_label

OBJECTIVES = ("mean", "p95")
LOST, IDLE, CRASH = "lost", "idle_timeout", "crash"  # the constraints a run can break
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Candidate:
    """A strategy's configuration; ``retry`` is the spec in force (canonical), never None."""

    kind: str
    size: int | None
    heartbeat_s: float = 0.0
    retry: str = "none"
    rate_limit: float = 0.0

    @classmethod
    def of(cls, kind: str, size: int | None, heartbeat_s: float = 0.0, retry: str | None = None,
           rate_limit: float = 0.0) -> Candidate:
        spec = parse_retry(retry if retry is not None else default_retry(kind)).text
        return cls(kind, None if size is None else int(size), float(heartbeat_s), spec, float(rate_limit))

    @property
    def family(self) -> tuple[str, float, str, float]:
        """Everything but the size: the candidates a size curve joins."""
        return self.kind, self.heartbeat_s, self.retry, self.rate_limit

    @property
    def policy(self) -> str:
        return policy_label(self.kind, self.heartbeat_s, self.retry, self.rate_limit)

    @property
    def name(self) -> str:
        return self.kind if self.size is None else f"{self.kind}={self.size}"

    @property
    def label(self) -> str:
        """As tables name it: ``batch=5 (heartbeat 10 s)``."""
        return f"{self.name} ({self.policy})" if self.policy else self.name

    @property
    def words(self) -> str:
        """As a sentence names it: ``batch=5 with a 10 s heartbeat``."""
        parts = []
        if self.heartbeat_s:
            parts.append(f"a {self.heartbeat_s:g} s heartbeat")
        if self.retry != parse_retry(default_retry(self.kind)).text:
            parts.append(f"retry {self.retry}")
        if self.rate_limit:
            parts.append(f"at most {self.rate_limit:g} starts/s")
        if not parts:
            return self.name
        return f"{self.name} with {', '.join(parts[:-1])}{' and ' if len(parts) > 1 else ''}{parts[-1]}"

    def tie_key(self) -> tuple[object, ...]:
        """How exact ties are broken: heartbeats on (the shortest), no retry, no rate limit, smaller."""
        retries = parse_retry(self.retry).max_attempts
        return (self.heartbeat_s == 0, self.heartbeat_s, retries, self.rate_limit,
                -1 if self.size is None else self.size, self.kind)


@dataclass(frozen=True)
class Observation:
    """One run of a candidate."""

    candidate: Candidate
    files: int
    folders: int
    draws: tuple[int, int]  # (the round's scenario seed, the repetition)
    makespan_s: float
    success_rate: float  # items ok / items
    idle_timeout_hit: bool
    server_crashes: int

    def broken(self, min_success: float) -> tuple[str, ...]:
        """The constraints this run broke (none: it is feasible)."""
        return tuple(name for name, hit in ((LOST, self.success_rate < min_success),
                                            (IDLE, self.idle_timeout_hit), (CRASH, self.server_crashes > 0))
                     if hit)


@dataclass(frozen=True)
class Standing:
    """A candidate's record over every run it had."""

    candidate: Candidate
    runs: int
    reps: int  # distinct draws at the headline file count
    at_headline: dict[tuple[int, int], float] = field(repr=False)  # draws -> makespan
    makespan_s_mean: float
    makespan_s_ci95: float  # half-width; nan with one run
    makespan_s_p95: float
    objective_s: float
    success_rate: float  # mean over its runs
    worst_success_rate: float
    broke: dict[str, int]  # constraint -> runs that broke it (only those broken)

    @property
    def feasible(self) -> bool:
        return not self.broke

    @property
    def broken_runs(self) -> int:
        return max(self.broke.values(), default=0)


def headline(observations: Iterable[Observation]) -> tuple[int, int]:
    """(files, folders) where the objective is read: the largest file count at the fewest folders."""
    points = {(o.files, o.folders) for o in observations}
    if not points:
        raise ValueError("no observations: nothing to rank")
    folders = min(f for _, f in points)
    return max(n for n, f in points if f == folders), folders


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile with linear interpolation between order statistics (numpy's and pandas'
    default), so the report's p95 column and the tune agree."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _objective(values: Sequence[float], objective: str) -> float:
    return math.fsum(values) / len(values) if objective == "mean" else percentile(values, 0.95)


def standings(observations: Sequence[Observation], min_success: float, objective: str) -> list[Standing]:
    """Every candidate's record, ranked: the feasible by objective (exact ties by ``tie_key``),
    then the infeasible, the closest to feasible first."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r}: use one of {', '.join(OBJECTIVES)}")
    files, folders = headline(observations)
    grouped: dict[Candidate, list[Observation]] = {}
    for observation in observations:
        grouped.setdefault(observation.candidate, []).append(observation)
    records = [_standing(candidate, runs, files, folders, min_success, objective)
               for candidate, runs in grouped.items()]
    return sorted(records, key=_rank_key)


def _standing(candidate: Candidate, runs: list[Observation], files: int, folders: int,
              min_success: float, objective: str) -> Standing:
    at_headline = {o.draws: o.makespan_s for o in runs if (o.files, o.folders) == (files, folders)}
    values = [at_headline[d] for d in sorted(at_headline)] or [math.nan]
    mean, ci = mean_ci95(values) if at_headline else (math.nan, math.nan)
    broke: dict[str, int] = {}
    for run in runs:
        for name in run.broken(min_success):
            broke[name] = broke.get(name, 0) + 1
    successes = [o.success_rate for o in runs]
    return Standing(candidate, len(runs), len(at_headline), at_headline, mean, ci,
                    percentile(values, 0.95), _objective(values, objective),
                    math.fsum(successes) / len(successes), min(successes), broke)


def _rank_key(standing: Standing) -> tuple[object, ...]:
    objective = standing.objective_s if math.isfinite(standing.objective_s) else math.inf
    if standing.feasible:
        return (0, objective, standing.candidate.tie_key())
    return (1, standing.broken_runs / standing.runs, -standing.worst_success_rate, objective,
            standing.candidate.tie_key())


@dataclass(frozen=True)
class Interval:
    """The difference ``other - leader`` of the objective on the draws both ran, with its 95%
    interval; ``tied``: every paired difference was 0 (the same schedule)."""

    difference_s: float
    low_s: float
    high_s: float
    pairs: int
    tied: bool = False

    @property
    def holds_zero(self) -> bool:
        return self.low_s <= 0 <= self.high_s


def compare(leader: Standing, other: Standing, objective: str) -> Interval:
    """How much worse (positive) ``other`` is than ``leader``, paired on their common draws."""
    common = sorted(set(leader.at_headline) & set(other.at_headline))
    a = [leader.at_headline[d] for d in common]
    b = [other.at_headline[d] for d in common]
    if not common:
        return Interval(math.nan, -math.inf, math.inf, 0)
    if all(x == y for x, y in zip(a, b, strict=True)):
        return Interval(0.0, 0.0, 0.0, len(common), tied=True)
    difference = _objective(b, objective) - _objective(a, objective)
    if len(common) < 2:
        return Interval(difference, -math.inf, math.inf, 1)
    if objective == "mean":
        test = paired_t_test(a, b)
        if test is None:  # every pair differs by the same amount: no doubt about it
            return Interval(difference, difference, difference, len(common))
        return Interval(difference, difference - test.half_width, difference + test.half_width, len(common))
    low, high = _bootstrap(a, b)
    return Interval(difference, low, high, len(common))


def _bootstrap(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """The 95% percentile interval of p95(b) - p95(a), resampling the pairs (seeded)."""
    rng = random.Random(BOOTSTRAP_SEED)
    n = len(a)
    differences = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        picks = [rng.randrange(n) for _ in range(n)]
        differences.append(percentile([b[i] for i in picks], 0.95) - percentile([a[i] for i in picks], 0.95))
    differences.sort()
    return (differences[int(0.025 * BOOTSTRAP_RESAMPLES)],
            differences[math.ceil(0.975 * BOOTSTRAP_RESAMPLES) - 1])


def recommendation(ranked: Sequence[Standing]) -> Standing | None:
    """The best feasible candidate, or None when every candidate broke a constraint."""
    return ranked[0] if ranked and ranked[0].feasible else None


@dataclass(frozen=True)
class Block:
    """A set of draws: repetitions ``0 .. reps - 1`` of scenario seed ``seed``. Round 1 is the
    first block; every later round runs one block, new or already run by others."""

    seed: int
    reps: int


@dataclass(frozen=True)
class Race:
    """The next round: ``block`` for these candidates (no members: the search is done)."""

    leader: Candidate | None
    members: tuple[Candidate, ...]
    block: Block | None  # the draws to run them on
    new_block: bool  # False: others ran it already, and these catch up on it
    close: tuple[Candidate, ...]  # feasible, and not yet told apart from the leader

    @property
    def add_reps(self) -> int:
        return 0 if self.block is None else self.block.reps


def race(ranked: Sequence[Standing], objective: str, target_reps: int, blocks: Sequence[Block]) -> Race:
    """Who runs again, on which draws. The members: the leader until it has ``target_reps`` (the
    evidence that it keeps every constraint), and every feasible candidate whose interval against
    it holds 0, up to the same. A member that lacks a block another ran first catches up on it
    (the lowest such), so every comparison in the race is paired on the same draws; when none
    does, a new block for all of them: as many repetitions as the most-run member has (the count
    doubles), at most what brings it to ``target_reps``; the leader alone gets all it lacks."""
    leader = recommendation(ranked)
    if leader is None:
        return Race(None, (), None, False, ())
    close = tuple(s for s in ranked[1:] if s.feasible and _close(compare(leader, s, objective)))
    members = [s for s in (leader, *close) if s.reps < target_reps]
    names = tuple(s.candidate for s in close)
    if not members:
        return Race(leader.candidate, (), None, False, names)
    for block in blocks:
        lacking = tuple(s.candidate for s in members if not any(d[0] == block.seed for d in s.at_headline))
        if lacking:
            return Race(leader.candidate, lacking, block, False, names)
    most = max(s.reps for s in members)
    reps = target_reps - most if members == [leader] else max(1, min(most, target_reps - most))
    seed = max(b.seed for b in blocks) + 1 if blocks else 0
    return Race(leader.candidate, tuple(s.candidate for s in members), Block(seed, reps), True, names)


def _close(interval: Interval) -> bool:
    return not interval.tied and interval.holds_zero
