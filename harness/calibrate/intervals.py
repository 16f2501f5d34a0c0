"""95% intervals for what calibration fits, two ways each, and when the data are too few.

- A seeded percentile bootstrap of the lognormal fit: the durations resampled with replacement
  ``BOOTSTRAP_RESAMPLES`` times (numpy, in matrices), the fit's median and p99 computed on each,
  and the 2.5th and 97.5th percentiles of those. It assumes the lognormal, and so it gives a p99
  interval from few calls, by extrapolating from the body of the data.
- The distribution-free interval of a quantile from order statistics: the number of durations
  below the true p-quantile is Binomial(n, p), so the k-th and l-th smallest durations hold it
  with probability P(k <= B < l). It assumes nothing, and so it cannot bound a p99 from above
  until n is large enough that all n durations fall below the p99 with probability under 2.5%:
  0.99^n <= 0.025, n >= 368 (``calls_to_bound``).
- Fault rates: Wilson's score interval of a binomial share (it stays inside [0, 1] and is not
  zero-width at 0 faults, as the normal approximation is).

A tail estimate needs calls beyond it: with n calls, n (1 - p) of them are expected above the
p-quantile, under one for a p99 below 100 calls (``TAIL_CALLS``): 40 calls cannot pin a p99 down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from harness.calibrate.fit import Z99

LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 2000
_Z = NormalDist().inv_cdf(0.5 + LEVEL / 2)


@dataclass(frozen=True)
class Interval:
    low: float | None  # None: unbounded (0 for a duration)
    high: float | None  # None: unbounded above
    method: str

    def holds(self, value: float) -> bool:
        return (self.low is None or self.low <= value) and (self.high is None or value <= self.high)

    def text(self, unit: str = " s") -> str:
        low = "0" if self.low is None else f"{self.low:.3g}"
        high = "unbounded" if self.high is None else f"{self.high:.3g}{unit}"
        return f"{low}-{high}"


def bootstrap_lognormal(durations: np.ndarray, seed: int,
                        resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[Interval, Interval]:
    """Percentile intervals of the lognormal fit's median and p99 (durations above 0)."""
    logs = np.log(durations)
    rng = np.random.default_rng(seed)
    # resamples drawn in blocks of at most ~4 million values, so that memory stays bounded
    block = max(1, min(resamples, 4_000_000 // logs.size))
    mu, sigma = np.empty(resamples), np.empty(resamples)
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        samples = logs[rng.integers(0, logs.size, size=(stop - start, logs.size))]
        mu[start:stop], sigma[start:stop] = samples.mean(axis=1), samples.std(axis=1)
    tails = [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2]
    median = np.exp(np.percentile(mu, tails))
    p99 = np.exp(np.percentile(mu + Z99 * sigma, tails))
    method = f"bootstrap of the lognormal fit ({resamples} resamples, seed {seed})"
    return Interval(float(median[0]), float(median[1]), method), Interval(float(p99[0]), float(p99[1]), method)


def order_statistic_interval(durations: np.ndarray, p: float) -> Interval:
    """The distribution-free interval of the p-quantile: the k-th to l-th smallest durations, with
    k as large and l as small as keep P(k <= B < l) >= LEVEL, B ~ Binomial(n, p). An end that no
    order statistic reaches is unbounded (None)."""
    ordered = np.sort(durations)
    n = ordered.size
    below = binomial_cdf(n, p)  # below[j] = P(B <= j)
    alpha = (1 - LEVEL) / 2
    # k: the largest rank with P(B <= k - 1) <= alpha; l: the smallest with P(B <= l - 1) >= 1 - alpha
    low_ranks = [k for k in range(1, n + 1) if below[k - 1] <= alpha]
    high_ranks = [rank for rank in range(1, n + 1) if below[rank - 1] >= 1 - alpha]
    low = float(ordered[max(low_ranks) - 1]) if low_ranks else None
    high = float(ordered[min(high_ranks) - 1]) if high_ranks else None
    return Interval(low, high, "order statistics (distribution-free)")


def binomial_cdf(n: int, p: float) -> np.ndarray:
    """P(B <= j) for j = 0..n, B ~ Binomial(n, p), from log-space terms (no overflow at large n)."""
    j = np.arange(n + 1)
    log_choose = np.array([math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) for k in j])
    with np.errstate(divide="ignore"):
        log_pmf = log_choose + j * math.log(p) + (n - j) * math.log1p(-p)
    return np.minimum(np.cumsum(np.exp(log_pmf)), 1.0)


def calls_to_bound(p: float) -> int:
    """The fewest calls whose order statistics bound the p-quantile from above at LEVEL: p^n below
    (1 - LEVEL) / 2 (368 for the p99)."""
    return math.ceil(math.log((1 - LEVEL) / 2) / math.log(p))


TAIL_CALLS = round(1 / (1 - 0.99))  # 100: calls for one expected beyond the p99


def wilson(faults: int, calls: int) -> Interval:
    """Wilson's score interval of a share ``faults`` / ``calls``."""
    share = faults / calls
    denominator = 1 + _Z**2 / calls
    centre = (share + _Z**2 / (2 * calls)) / denominator
    half = _Z * math.sqrt(share * (1 - share) / calls + _Z**2 / (4 * calls**2)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half), "Wilson score")
