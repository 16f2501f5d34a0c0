"""Summary statistics of repetitions: mean and a 95% confidence interval (Student's t).

The t quantiles are tabulated rather than taken from scipy: onyx-bench needs only these few, and
scipy would be a large dependency for them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# Two-sided 95% critical values of Student's t by degrees of freedom.
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
         17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064,
         25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000,
         120: 1.980}
_Z975 = 1.960


def t975(degrees_of_freedom: int) -> float:
    if degrees_of_freedom in _T975:
        return _T975[degrees_of_freedom]
    larger = [df for df in _T975 if df > degrees_of_freedom]
    return _T975[min(larger)] if larger else _Z975  # conservative: the next tabulated df up


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% confidence interval (nan with one value)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, math.nan
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, t975(n - 1) * math.sqrt(variance / n)
