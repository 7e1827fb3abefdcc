"""Psychometric curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rewardrnn.analysis.behaviour import PsychometricFit  # noqa: E402


def _value(value: float, se: float) -> str:
    """``value ± se`` with the standard error to two significant digits and the value to the
    same decimal place (a small error is not printed as ± 0.00)."""
    if not np.isfinite(se) or se <= 0:
        return f"{value:.3g}"
    decimals = max(0, 1 - int(np.floor(np.log10(se))))
    return f"{value:.{decimals}f} ± {se:.{decimals}f}"


def psychometric_curve(points: pd.DataFrame, fit: PsychometricFit | None, xlabel: str,
                       ylabel: str) -> plt.Figure:
    """Proportions with 95 % intervals (points from
    :func:`rewardrnn.analysis.behaviour.psychometric_points`) and the fitted cumulative Gaussian."""
    fig, ax = plt.subplots(figsize=(4, 3.4), constrained_layout=True)
    x = points["stimulus"].to_numpy()
    p = 100 * points["p_positive"].to_numpy()
    err = 100 * np.abs(points[["ci_low", "ci_high"]].to_numpy().T - points["p_positive"].to_numpy())
    ax.errorbar(x, p, yerr=err, fmt="o", color="k", ms=4, capsize=0)
    if fit is not None:
        grid = np.linspace(x.min(), x.max(), 200)
        ax.plot(grid, 100 * fit(grid), "k-", lw=1)
        ax.text(0.03, 0.97, f"μ = {_value(fit.mu, fit.mu_se)}\nσ = {_value(fit.sigma, fit.sigma_se)}",
                transform=ax.transAxes, va="top", fontsize=8)
    ax.set(xlabel=xlabel, ylabel=ylabel, ylim=(-2, 102))
    ax.spines[["top", "right"]].set_visible(False)
    return fig
