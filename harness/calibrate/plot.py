"""The calibration's plot: per endpoint timed, the durations' CDF against the fits' (left) and a
Q-Q plot of the durations against the chosen fit (right). Headless: a matplotlib ``Figure``,
no pyplot state, saved as PNG (Agg); an endpoint whose every duration was the same is drawn only
when no other is timed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from harness.calibrate.analyze import EndpointFit
from harness.calibrate.fit import Fit, cdf


def fit_figure(fits: list[EndpointFit], unit: str) -> Figure:
    """A row per endpoint with a spread to fit (one whose durations were all the same, a
    ``fixed`` fit, only when no endpoint has a spread)."""
    timed = [fit for fit in fits if fit.best is not None]
    shown = [fit for fit in timed if fit.best is not None and fit.best.family != "fixed"] or timed
    fig = Figure(figsize=(10.0, 3.0 * max(1, len(shown))))
    axes = fig.subplots(max(1, len(shown)), 2, squeeze=False)
    for (left, right), fit in zip(axes, shown, strict=False):
        durations = np.asarray(fit.durations)
        _cdf_panel(left, fit, durations, unit)
        _qq_panel(right, fit, durations, unit)
    fig.suptitle("Calibration: the durations against the fits (CDF left, Q-Q right)")
    # fixed margins: a constrained layout would draw the figure twice, doubling the time to save it
    rows = max(1, len(shown))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.5 / (3.0 * rows) + 0.03, top=1 - 0.45 / (3.0 * rows),
                        hspace=0.45, wspace=0.22)
    return fig


def _fits_to_draw(fit: EndpointFit) -> list[Fit]:
    drawn = [fit.fits[0]]
    if fit.lognormal is not None and fit.lognormal is not fit.fits[0]:
        drawn.append(fit.lognormal)
    return drawn


def _cdf_panel(ax: object, fit: EndpointFit, durations: np.ndarray, unit: str) -> None:
    n = durations.size
    ax.step(durations, np.arange(1, n + 1) / n, where="post", color="black",  # type: ignore[attr-defined]
            label=f"data ({n} calls)")
    low, high = durations.min(), durations.max()
    grid = np.linspace(max(0.0, low - 0.1 * (high - low)), high + 0.1 * (high - low) + 1e-9, 400)
    for candidate, style in zip(_fits_to_draw(fit), ("-", "--"), strict=False):
        ax.plot(grid, cdf(candidate.distribution, grid), linestyle=style,  # type: ignore[attr-defined]
                label=f"{candidate.spec} (AIC {candidate.aic:.1f})")
    ax.set(title=f"{fit.endpoint}: CDF", xlabel=f"duration ({unit})", ylabel="P(duration <= x)")  # type: ignore[attr-defined]
    ax.legend(fontsize="small")  # type: ignore[attr-defined]
    ax.grid(True, alpha=0.3)  # type: ignore[attr-defined]


def _qq_panel(ax: object, fit: EndpointFit, durations: np.ndarray, unit: str) -> None:
    n = durations.size
    positions = (np.arange(1, n + 1) - 0.5) / n
    for candidate, marker in zip(_fits_to_draw(fit), ("o", "x"), strict=False):
        fitted = np.array([candidate.distribution.quantile(float(u)) for u in positions])
        ax.scatter(fitted, durations, s=10, marker=marker, label=candidate.spec)  # type: ignore[attr-defined]
    top = max(durations.max(), 1e-9)
    ax.plot([0, top], [0, top], color="grey", linewidth=1, label="y = x")  # type: ignore[attr-defined]
    ax.set(title=f"{fit.endpoint}: Q-Q", xlabel=f"fitted quantile ({unit})",  # type: ignore[attr-defined]
           ylabel=f"observed ({unit})")
    ax.legend(fontsize="small")  # type: ignore[attr-defined]
    ax.grid(True, alpha=0.3)  # type: ignore[attr-defined]


def save_plot(fits: list[EndpointFit], unit: str, path: Path) -> None:
    fit_figure(fits, unit).savefig(path, format="png", dpi=100)
