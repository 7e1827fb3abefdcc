"""Figures of a fixed-point dataset (:mod:`rewardrnn.analysis.fixedpoints`): the points over the
PCA plane of the recorded trajectories, and the eigenvalue spectra against the unit circle."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from rewardrnn.analysis.fixedpoints import eigenvalues  # noqa: E402

COLOURS = {"stable": "#1f77b4", "marginal": "#2ca02c", "saddle": "#d62728", "unstable": "#ff7f0e"}


def pca_plane(points: xr.Dataset, trajectories: np.ndarray, mean: np.ndarray, axes: np.ndarray,
              max_points: int = 400, title: str = ""):
    """Fixed points (rates) projected on the first two principal axes of the trajectories' rates;
    ``trajectories`` (trials, time, N) rates (NaN after a trial's end), ``axes`` (N, 2).
    Colour: stability; marker size: log speed (larger = slower); the slowest mode drawn as a
    segment through each stable, marginal or saddle point (its direction in rate space, projected)."""
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    for trial in trajectories[: min(len(trajectories), 60)]:
        ok = np.isfinite(trial).all(-1)
        p = (trial[ok] - mean) @ axes
        ax.plot(p[:, 0], p[:, 1], color="0.8", lw=0.6, zorder=1)
    if points.sizes["point"] == 0:
        ax.set_title(title + " (no point found)")
        return fig
    order = np.argsort(points["q"].values)[:max_points]
    proj = (points["rates"].values[order] - mean) @ axes
    scale = 0.15 * float(np.ptp(proj[:, 0]) + np.ptp(proj[:, 1]) + 1e-6)
    for label, colour in COLOURS.items():
        mine = points["stability"].values[order] == label
        if not mine.any():
            continue
        q = np.maximum(points["q"].values[order][mine], 1e-16)
        ax.scatter(proj[mine, 0], proj[mine, 1], s=10 + 4 * np.clip(-np.log10(q), 0, 12), color=colour,
                   label=f"{label} ({mine.sum()})", zorder=3, edgecolor="k", linewidth=0.3)
    direction = points["slow_rate_direction"].values[order] @ axes
    norm = np.linalg.norm(direction, axis=1, keepdims=True) + 1e-12
    direction = direction / norm * scale
    for p, d, s in zip(proj, direction, points["stability"].values[order]):
        if s != "unstable":
            ax.plot([p[0] - d[0], p[0] + d[0]], [p[1] - d[1], p[1] + d[1]], color=COLOURS[s], lw=0.8, zorder=2)
    ax.set_xlabel("PC 1 of the trajectories' rates")
    ax.set_ylabel("PC 2")
    ax.set_title(title or "fixed and slow points (segments: slowest mode)")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def spectra(points: xr.Dataset, max_points: int = 200):
    """Eigenvalues of the state Jacobian of the slowest points, in the complex plane, with the
    unit circle (discrete-time stability boundary); right: |lambda| of the 10 slowest modes."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4))
    order = np.argsort(points["q"].values)[:max_points]
    w = eigenvalues(points)[order]
    stability = points["stability"].values[order]
    theta = np.linspace(0, 2 * np.pi, 400)
    left.plot(np.cos(theta), np.sin(theta), color="k", lw=0.8)
    for label, colour in COLOURS.items():
        mine = stability == label
        if mine.any():
            left.scatter(w[mine].real.ravel(), w[mine].imag.ravel(), s=3, color=colour, alpha=0.4, label=label)
            right.plot(np.arange(1, 11), np.abs(w[mine][:, :10]).T, color=colour, lw=0.6, alpha=0.5)
    left.set_xlabel("Re λ")
    left.set_ylabel("Im λ")
    left.set_aspect("equal")
    left.set_title("eigenvalues of dF/dx (unit circle: stability boundary)")
    left.legend(fontsize=8, markerscale=4)
    right.axhline(1.0, color="k", lw=0.8)
    right.set_xlabel("mode (slowest first)")
    right.set_ylabel("|λ|")
    right.set_title("the slowest modes of each point")
    fig.tight_layout()
    return fig
