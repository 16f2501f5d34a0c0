"""Fit the mock's latency distributions to observed durations, and choose one by AIC.

Each family is fitted by maximum likelihood where that has a closed form, and then written as the
mock's own text (``mock_onyx.distributions``); the likelihood and the Kolmogorov-Smirnov distance
are computed on the distribution that text parses back to, so what is reported is what is written.

    fixed(s)            the median; only for durations that are all the same (any spread gives
                        a point mass a likelihood of 0)
    uniform(a, b)       the smallest and largest duration widened by range / (n - 1) each way:
                        the unbiased bounds (the maximum-likelihood ones, the extremes, lie
                        inside the true range, and their likelihood rewards that: with 12 calls
                        it outscored a lognormal on data it fitted far worse, KS 0.53 against 0.20)
    normal(mean, sd)    the sample mean and sd (the untruncated maximum-likelihood estimates),
                        scored as the mock draws it: truncated at 0
    lognormal(m, p99)   the mean and sd of the log durations: median e^mu, p99 e^(mu + z99 sd)

The criterion is AIC, 2k - 2 ln L. Every continuous family here has two parameters, so it ranks
them by log-likelihood; fixed has one, and wins only on constant data. Fits within 2 of the lowest
AIC have about as much support as it (Burnham and Anderson); among them the lognormal is chosen, the
usual model of a service's latency, with a tail beyond the slowest call seen, where a uniform or a
normal has none or a thin one. AIC rather than the KS
distance: the likelihood scores every duration by the density the fit gives it, so a fit whose
tail is too light for the slowest calls observed pays for each of them, while the KS distance is
the largest gap between the CDFs, which sits in the body of the data and hardly sees the tail. And
the tail is what a batch waits for (its makespan is the slowest of its files). The KS distance is
reported beside AIC as a check on the body.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from mock_onyx.distributions import (
    Distribution,
    Fixed,
    LogNormal,
    TruncatedNormal,
    Uniform,
    parse_distribution,
)
from mock_onyx.errors import ConfigError

Z99 = NormalDist().inv_cdf(0.99)
AS_GOOD_AIC = 2.0  # fits closer than this to the lowest AIC are as well supported
_SAME = 1e-5  # a duration written with 6 significant digits is this close to the one measured
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_erf = np.frompyfunc(math.erf, 1, 1)


@dataclass(frozen=True)
class Fit:
    """One family fitted to the durations: its text, the parsed distribution, and its scores."""

    family: str
    spec: str  # the mock's text, e.g. "lognormal(20.1, 44.2)"
    distribution: Distribution
    log_likelihood: float  # -inf: the durations cannot come from it; inf: a point mass on them all
    parameters: int
    ks: float  # the largest distance between the fitted CDF and the durations' own

    @property
    def aic(self) -> float:
        return 2 * self.parameters - 2 * self.log_likelihood


def number(value: float) -> str:
    """A duration as the profile writes it: 6 significant digits."""
    return f"{value:.6g}"


def lognormal_parameters(durations: np.ndarray) -> tuple[float, float]:
    """The maximum-likelihood (mu, sigma) of the log durations (all must be above 0)."""
    logs = np.log(durations)
    return float(logs.mean()), float(logs.std())


def candidate_specs(durations: np.ndarray) -> dict[str, str]:
    """Each family's maximum-likelihood fit as the mock's text (the families that apply)."""
    if durations.size == 0:
        return {}
    if np.ptp(durations) == 0:
        return {"fixed": f"fixed({number(float(durations[0]))})"}
    # unbiased bounds, widened by a gap between order statistics (range / (n - 1)), and rounded
    # outwards, so that 6 digits never leave the extremes outside them
    gap = float(np.ptp(durations)) / max(durations.size - 1, 1)
    low = max(0.0, float(durations.min()) - gap) * (1 - 1e-5)
    high = (float(durations.max()) + gap) * (1 + 1e-5)
    specs = {"uniform": f"uniform({number(low)}, {number(high)})",
             "normal": f"normal({number(float(durations.mean()))}, {number(float(durations.std()))})"}
    if durations.min() > 0:
        mu, sigma = lognormal_parameters(durations)
        specs["lognormal"] = f"lognormal({number(math.exp(mu))}, {number(math.exp(mu + Z99 * sigma))})"
    return specs


def fit_all(durations: np.ndarray) -> list[Fit]:
    """Every family that applies, best first (the lowest AIC, or the lognormal within ``AS_GOOD_AIC``
    of it); one the mock would refuse is left out (a lognormal whose p99 rounds to its median)."""
    fits = []
    for family, spec in candidate_specs(durations).items():
        try:
            dist = parse_distribution(spec, f"calibrate {family}")
        except ConfigError:
            continue
        parameters = 1 if family == "fixed" else 2
        fits.append(Fit(family, spec, dist, log_likelihood(dist, durations), parameters, ks(dist, durations)))
    fits.sort(key=lambda fit: (fit.aic, fit.parameters))
    lognormal = next((fit for fit in fits if fit.family == "lognormal"), None)
    if lognormal is not None and fits and lognormal.aic - fits[0].aic < AS_GOOD_AIC:
        fits.remove(lognormal)
        fits.insert(0, lognormal)
    return fits


def log_likelihood(dist: Distribution, x: np.ndarray) -> float:
    """ln L of the durations under the distribution as the mock draws it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(dist, Fixed):
            return math.inf if bool(np.all(np.isclose(x, dist.seconds, rtol=_SAME, atol=0))) else -math.inf
        if isinstance(dist, Uniform):
            inside = bool(np.all((x >= dist.low) & (x <= dist.high)))
            return -x.size * math.log(dist.high - dist.low) if inside and dist.high > dist.low else -math.inf
        if isinstance(dist, LogNormal):
            if np.any(x <= 0):
                return -math.inf
            z = (np.log(x) - math.log(dist.median)) / dist.sigma
            return float(np.sum(-np.log(x) - math.log(dist.sigma) - _LOG_SQRT_2PI - z * z / 2))
        if isinstance(dist, TruncatedNormal):
            if np.any(x < 0) or dist.sd == 0:
                return -math.inf
            z = (x - dist.mu) / dist.sd
            kept = 1 - NormalDist(dist.mu, dist.sd).cdf(0.0)  # the mass the truncation keeps
            return float(np.sum(-math.log(dist.sd) - _LOG_SQRT_2PI - z * z / 2) - x.size * math.log(kept))
    raise TypeError(f"no likelihood for {dist!r}")


def cdf(dist: Distribution, x: np.ndarray) -> np.ndarray:
    """P(X <= x) under the distribution as the mock draws it."""
    x = np.asarray(x, dtype=float)
    if isinstance(dist, Fixed):
        return (x >= dist.seconds).astype(float)
    if isinstance(dist, Uniform):
        return np.clip((x - dist.low) / (dist.high - dist.low), 0.0, 1.0)
    if isinstance(dist, LogNormal):
        with np.errstate(divide="ignore"):
            z = (np.log(np.maximum(x, 0.0)) - math.log(dist.median)) / dist.sigma
        return _phi(z)
    if isinstance(dist, TruncatedNormal):
        cut = NormalDist(dist.mu, dist.sd).cdf(0.0)
        return np.clip((_phi((x - dist.mu) / dist.sd) - cut) / (1 - cut), 0.0, 1.0)
    raise TypeError(f"no CDF for {dist!r}")


def ks(dist: Distribution, x: np.ndarray) -> float:
    """The Kolmogorov-Smirnov distance between the distribution and the durations."""
    if isinstance(dist, Fixed):  # a step at s: the durations' share below it, or above it
        same = np.isclose(x, dist.seconds, rtol=_SAME, atol=0)
        return float(max(np.mean((x < dist.seconds) & ~same), np.mean((x > dist.seconds) & ~same)))
    ordered = np.sort(x)
    n = ordered.size
    fitted = cdf(dist, ordered)
    above = np.arange(1, n + 1) / n - fitted
    below = fitted - np.arange(0, n) / n
    return float(max(above.max(), below.max(), 0.0))


def _phi(z: np.ndarray) -> np.ndarray:
    """The standard normal CDF, elementwise (numpy has no erf; math's, element by element)."""
    z = np.asarray(z, dtype=float)
    finite = np.where(np.isfinite(z), z, np.sign(z) * 40.0)
    return 0.5 * (1.0 + _erf(finite / math.sqrt(2)).astype(float))
