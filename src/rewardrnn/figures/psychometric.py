"""Psychometric curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rewardrnn.analysis.behaviour import PsychometricFit  # noqa: E402


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
        ax.text(0.03, 0.97, f"μ = {fit.mu:.2f} ± {fit.mu_se:.2f}\nσ = {fit.sigma:.2f} ± {fit.sigma_se:.2f}",
                transform=ax.transAxes, va="top", fontsize=8)
    ax.set(xlabel=xlabel, ylabel=ylabel, ylim=(-2, 102))
    ax.spines[["top", "right"]].set_visible(False)
    return fig
