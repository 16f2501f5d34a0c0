"""The exact Student's t quantile behind every 95% confidence interval in the reports."""

from __future__ import annotations

import math
import statistics

import pytest

from reports.stats import mean_ci95, t975

# Two-sided 95% critical values (the 0.975 quantile), to 7 decimals, as scipy.stats.t.ppf gives them.
KNOWN = {1: 12.7062047, 2: 4.3026527, 10: 2.2281389, 34: 2.0322445, 120: 1.9799304, 1000: 1.9623391}
Z975 = 1.959964  # the normal limit


@pytest.mark.parametrize(("degrees_of_freedom", "expected"), sorted(KNOWN.items()))
def test_t975_is_the_exact_quantile(degrees_of_freedom: int, expected: float) -> None:
    assert t975(degrees_of_freedom) == pytest.approx(expected, abs=1e-6)


def test_t975_decreases_with_the_degrees_of_freedom_towards_the_normal_quantile() -> None:
    values = [t975(df) for df in range(1, 301)]
    assert all(later < earlier for earlier, later in zip(values, values[1:], strict=False))
    assert all(value > Z975 for value in values)
    assert t975(10**6) == pytest.approx(Z975, abs=1e-5)


def test_t975_refuses_zero_degrees_of_freedom() -> None:
    with pytest.raises(ValueError, match="degrees_of_freedom=0"):
        t975(0)


def test_mean_ci95_uses_the_exact_quantile() -> None:
    values = [float(v) for v in range(35)]  # 34 degrees of freedom, between the old table's 30 and 40
    mean, half_width = mean_ci95(values)
    assert mean == pytest.approx(17.0)
    assert half_width == pytest.approx(2.0322445 * statistics.stdev(values) / math.sqrt(35), rel=1e-7)
    assert math.isnan(mean_ci95([3.0])[1])
