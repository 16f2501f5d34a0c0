"""The harness's own overhead in a real-mode run, and the time scale that keeps it small.

Real mode keeps the client's real per-call CPU (Python on both ends of loopback): it is a real
cost, and the client-stack effects real mode exists to show are made of it. The time scale does
not compress it, so it reads as ``wall overhead / time scale`` simulated seconds. Every run states
it: ``harness_overhead_s`` is the measured makespan minus the behaviour model's makespan for the
very latencies and faults the run drew (``model_makespan_s``), and ``harness_overhead_pct`` is
that as a share of the model's makespan. Virtual mode has none: its makespan is the model's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

# Above this share of the makespan, ``run`` and ``sweep`` say so and name a better time scale.
WARN_PCT = 2.0
# Time scales are suggested on a 1-2-5 ladder: 0.01, 0.02, 0.05, 0.1, ...
_LADDER = (1.0, 2.0, 5.0)
# Headroom on the suggestion: the overhead varies from run to run on a shared machine.
_MARGIN = 1.25


def overhead(makespan_s: float, model_makespan_s: float | None) -> tuple[float | None, float | None]:
    """(overhead in simulated seconds, as % of the model's makespan); Nones without a model."""
    if model_makespan_s is None:
        return None, None
    overhead_s = makespan_s - model_makespan_s
    pct = 100 * overhead_s / model_makespan_s if model_makespan_s > 0 else 0.0
    return round(overhead_s, 6), round(pct, 4)


def time_scale_for(overhead_pct: float, time_scale: float, goal_pct: float = WARN_PCT) -> float:
    """The smallest time scale on the 1-2-5 ladder at which this overhead reads under ``goal_pct``.

    The overhead is real wall time that does not shrink with the scale, so in simulated seconds
    it falls as 1 / time scale while the model's makespan stays put."""
    needed = time_scale * overhead_pct / goal_pct * _MARGIN
    decade = 10.0 ** math.floor(math.log10(needed))
    step = next((s for s in _LADDER if decade * s > needed * (1 + 1e-9)), 10.0)
    return float(f"{decade * step:.6g}")


def overhead_warning(rows: Iterable[tuple[float | None, float]], on_target: bool = False) -> str | None:
    """One line when the largest overhead among ``(harness_overhead_pct, time_scale)`` rows of
    real-mode runs exceeds ``WARN_PCT``; None when every run is under it (or none was measured).
    ``on_target``: the runs were against a mock started apart, whose time scale is its own, so the
    fix is on its command line (``--time-scale`` is refused with ``--target``)."""
    measured = [(pct, scale) for pct, scale in rows if pct is not None and not math.isnan(pct)]
    if not measured:
        return None
    pct, scale = max(measured)
    if pct <= WARN_PCT:
        return None
    fix = f"--time-scale {time_scale_for(pct, scale):g}"
    if on_target:
        return (f"warning: the harness's own overhead is {pct:.1f}% of the makespan at the target's time "
                f"scale {scale:g}; serving it with onyx-bench serve {fix} brings it under {WARN_PCT:g}%, "
                f"and --mode virtual without --target gives exact numbers")
    return (f"warning: the harness's own overhead is {pct:.1f}% of the makespan at time scale "
            f"{scale:g}; {fix} brings it under {WARN_PCT:g}%, and --mode virtual gives exact numbers")


def inflight_warning(server_peak: int | None, client_peak: int) -> str | None:
    """One line when the server saw fewer requests in flight than the client had open: the rest
    waited in the harness (its event loop, connection set-up, file descriptors), so the run measured
    the harness's concurrency, not the strategy's. None against a server that does not say."""
    if server_peak is None or server_peak >= client_peak:
        return None
    return (f"warning: the server saw at most {server_peak} requests in flight while the client had "
            f"{client_peak} open: the rest waited in the harness, so this run reads the strategy as "
            f"slower than it is; use --mode virtual, or a larger --time-scale")
