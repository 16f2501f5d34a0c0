"""``onyx-bench tune``'s search: which candidates, how many repetitions, feasibility, ranking and
the explanation (pure decisions, ``search`` and ``explain``), and its rounds as scenarios
(``rounds``). The command that runs them is ``harness.cli_tune``; the report ``reports.tune``."""

from harness.tune.explain import broke_text, infeasible_line, next_larger, slower_text, why
from harness.tune.rounds import (
    DEFAULT_SIZES,
    observations,
    parse_sizes,
    search_candidates,
    strategy_tables,
)
from harness.tune.search import (
    OBJECTIVES,
    Block,
    Candidate,
    Interval,
    Observation,
    Race,
    Standing,
    compare,
    headline,
    race,
    recommendation,
    standings,
)

__all__ = ["DEFAULT_SIZES", "OBJECTIVES", "Block", "Candidate", "Interval", "Observation", "Race", "Standing",
           "broke_text", "compare", "headline", "infeasible_line", "next_larger", "observations",
           "parse_sizes", "race", "recommendation", "search_candidates", "slower_text",
           "standings", "strategy_tables", "why"]
