"""Summary statistics of repetitions: mean and a 95% confidence interval (Student's t).

The t quantile is computed exactly rather than taken from scipy (a large dependency for one
number): the t distribution's tail is a regularized incomplete beta function, evaluated by its
continued fraction (modified Lentz), and the quantile is found on it by bisection.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

_TINY = 1e-300
_EPS = 1e-15


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (Numerical Recipes ``betacf``), by modified Lentz."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, 10_000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            result *= c * d
        if abs(c * d - 1.0) < _EPS:
            break
    return result


def _regularized_beta(a: float, b: float, x: float, one_minus_x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, for 0 <= x <= 1 (1 - x given apart,
    so that it keeps its precision when x is near 1)."""
    if x <= 0.0 or one_minus_x <= 0.0:
        return 0.0 if x <= 0.0 else 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log(one_minus_x))
    if x < (a + 1.0) / (a + b + 2.0):  # where the fraction converges fast; else by symmetry
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, one_minus_x) / b


def _two_sided_tail(t: float, degrees_of_freedom: float) -> float:
    """P(|T| > t) for Student's t with the given degrees of freedom (t >= 0)."""
    scale = degrees_of_freedom + t * t
    return _regularized_beta(degrees_of_freedom / 2, 0.5, degrees_of_freedom / scale, t * t / scale)


@functools.lru_cache(maxsize=256)
def t975(degrees_of_freedom: int) -> float:
    """The two-sided 95% critical value of Student's t (its 0.975 quantile): to ~1e-10 up to a
    million degrees of freedom, ~1e-6 beyond (where ``lgamma`` of huge arguments loses digits)."""
    if degrees_of_freedom < 1:
        raise ValueError(f"degrees_of_freedom={degrees_of_freedom!r}: needs at least 1 (two values)")
    low, high = 0.0, 2.0
    while _two_sided_tail(high, degrees_of_freedom) > 0.05:
        low, high = high, 2 * high
    while high - low > 1e-12 * high:  # the tail falls as t grows: bisect on it
        middle = (low + high) / 2
        low, high = (middle, high) if _two_sided_tail(middle, degrees_of_freedom) > 0.05 else (low, middle)
    return (low + high) / 2


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% confidence interval (nan with one value)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, math.nan
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, t975(n - 1) * math.sqrt(variance / n)
