"""Summary statistics of repetitions: mean and a 95% confidence interval (Student's t), and the
two t-tests ``compare`` uses on two sets of runs (paired by seed, else Welch's).

The t quantile is computed exactly rather than taken from scipy (a large dependency for one
number): the t distribution's tail is a regularized incomplete beta function, evaluated by its
continued fraction (modified Lentz), and the quantile is found on it by bisection.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

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


def two_sided_p(t: float, degrees_of_freedom: float) -> float:
    """The two-sided p-value of a t statistic: P(|T| >= |t|), for any degrees of freedom > 0
    (Welch's are not whole numbers)."""
    if degrees_of_freedom <= 0 or math.isnan(t):
        raise ValueError(f"t={t!r}, degrees_of_freedom={degrees_of_freedom!r}: needs a number and "
                         f"degrees of freedom above 0")
    return 0.0 if math.isinf(t) else min(1.0, _two_sided_tail(abs(t), degrees_of_freedom))


@functools.lru_cache(maxsize=256)
def t_critical(degrees_of_freedom: float, alpha: float = 0.05) -> float:
    """The two-sided critical value of Student's t at level ``alpha``: P(|T| > t) = alpha."""
    if degrees_of_freedom <= 0 or not 0 < alpha < 1:
        raise ValueError(f"degrees_of_freedom={degrees_of_freedom!r}, alpha={alpha!r}: needs degrees "
                         f"of freedom above 0 and 0 < alpha < 1")
    low, high = 0.0, 2.0
    while _two_sided_tail(high, degrees_of_freedom) > alpha:
        low, high = high, 2 * high
    while high - low > 1e-12 * high:  # the tail falls as t grows: bisect on it
        middle = (low + high) / 2
        low, high = (middle, high) if _two_sided_tail(middle, degrees_of_freedom) > alpha else (low, middle)
    return (low + high) / 2


def t975(degrees_of_freedom: int) -> float:
    """The two-sided 95% critical value of Student's t (its 0.975 quantile): to ~1e-10 up to a
    million degrees of freedom, ~1e-6 beyond (where ``lgamma`` of huge arguments loses digits)."""
    if degrees_of_freedom < 1:
        raise ValueError(f"degrees_of_freedom={degrees_of_freedom!r}: needs at least 1 (two values)")
    return t_critical(degrees_of_freedom, 0.05)


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% confidence interval (nan with one value)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, math.nan
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, t975(n - 1) * math.sqrt(variance / n)


@dataclass(frozen=True)
class TTest:
    """A t-test of the mean difference B - A."""

    difference: float  # mean of B - A
    half_width: float  # of its (1 - alpha) confidence interval
    p_value: float  # two-sided
    degrees_of_freedom: float


def _variance(values: Sequence[float], mean: float) -> float:
    return math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)


def paired_t_test(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> TTest | None:
    """Student's t-test on the differences b[i] - a[i] of matched pairs; None when there is none to
    make: fewer than two pairs, or every pair differs by the same amount (no variance)."""
    if len(a) != len(b):
        raise ValueError(f"paired values: {len(a)} in a, {len(b)} in b; need as many in each")
    differences = [y - x for x, y in zip(a, b, strict=True)]
    n = len(differences)
    if n < 2:
        return None
    mean = math.fsum(differences) / n
    variance = _variance(differences, mean)
    if variance == 0:
        return None
    error = math.sqrt(variance / n)
    return TTest(mean, t_critical(n - 1, alpha) * error, two_sided_p(mean / error, n - 1), float(n - 1))


def welch_df(variance_a: float, n_a: int, variance_b: float, n_b: int) -> float:
    """Welch-Satterthwaite degrees of freedom of the difference of two means (sample variances)."""
    share_a, share_b = variance_a / n_a, variance_b / n_b
    return (share_a + share_b) ** 2 / (share_a**2 / (n_a - 1) + share_b**2 / (n_b - 1))


def welch_t_test(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> TTest | None:
    """Welch's t-test of mean(b) - mean(a) (unequal variances); None when there is none to make:
    one value on a side, or no variance on either."""
    if len(a) < 2 or len(b) < 2:
        return None
    mean_a, mean_b = math.fsum(a) / len(a), math.fsum(b) / len(b)
    variance_a, variance_b = _variance(a, mean_a), _variance(b, mean_b)
    if variance_a == 0 and variance_b == 0:
        return None
    error = math.sqrt(variance_a / len(a) + variance_b / len(b))
    df = welch_df(variance_a, len(a), variance_b, len(b))
    difference = mean_b - mean_a
    return TTest(difference, t_critical(df, alpha) * error, two_sided_p(difference / error, df), df)
