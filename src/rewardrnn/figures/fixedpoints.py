"""Figures of a fixed-point dataset (:mod:`rewardrnn.analysis.fixedpoints`): the points over the
PCA plane of the recorded trajectories coloured by input condition, the eigenvalue spectra per
condition against the unit circle (trivial modes grey), and the selection vectors."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from rewardrnn.analysis.fixedpoints import eigenvalues  # noqa: E402



MARKERS = {"stable": "o", "marginal": "s", "saddle": "^", "unstable": "X"}
GREY = "0.75"


#: Widest selection figure, inches (1,440 px at 120 dpi: shown at >= 0.76 in an 1,100-px report).
MAX_WIDTH_IN = 12.0
#: At most this many input conditions get a spectrum panel, and a row of the selection figure
#: (mante's default search has 75 conditions: 75 panels would be 57 in tall and unreadable). The
#: conditions with the most fixed and slow points are shown; every condition is in fixedpoints.json.
MAX_PANELS = 12
MAX_ROWS = 24


def _most_points(points: xr.Dataset, slow_q: float, conditions: list[str], most: int) -> list[str]:
    """The ``most`` conditions with the most fixed and slow points (q < slow_q), in their order."""
    if len(conditions) <= most:
        return conditions
    labels = points["condition"].values.astype(str)[points["q"].values < slow_q]
    counts = {c: int((labels == c).sum()) for c in conditions}
    kept = set(sorted(conditions, key=lambda c: -counts[c])[:most])
    return [c for c in conditions if c in kept]


def _slow(points: xr.Dataset, slow_q: float, max_points: int) -> np.ndarray:
    """Indices of the fixed and slow points (q < slow_q), slowest first, at most ``max_points``."""
    q = points["q"].values
    order = np.argsort(q)
    return order[q[order] < slow_q][:max_points]


def _condition_colours(labels) -> dict[str, tuple]:
    names = list(dict.fromkeys(str(c) for c in labels))
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def pca_plane(points: xr.Dataset, trajectories: np.ndarray, mean: np.ndarray, axes: np.ndarray,
              slow_q: float, max_points: int = 400, title: str = ""):
    """The fixed and slow points (q < ``slow_q``; rates) projected on the first two principal
    axes of the trajectories' rates (grey: up to 60 recorded trials); ``trajectories`` (trials,
    time, N) rates (NaN after a trial's end), ``axes`` (N, 2). Colour: the input condition;
    marker: stability (from the network's non-trivial modes); a segment through each point: its
    slowest non-trivial mode (the direction in rate space, projected)."""
    fig, ax = plt.subplots(figsize=(7.6, 5.6))
    for trial in trajectories[: min(len(trajectories), 60)]:
        ok = np.isfinite(trial).all(-1)
        p = (trial[ok] - mean) @ axes
        ax.plot(p[:, 0], p[:, 1], color="0.85", lw=0.6, zorder=1)
    order = _slow(points, slow_q, max_points)
    if len(order) == 0:
        ax.set_title((title or "fixed and slow points") + f": none with q < {slow_q:g}")
        return fig
    proj = (points["rates"].values[order] - mean) @ axes
    scale = 0.03 * float(np.ptp(proj[:, 0]) + np.ptp(proj[:, 1]) + 1e-6)
    direction = points["slow_rate_direction"].values[order] @ axes
    direction = direction / (np.linalg.norm(direction, axis=1, keepdims=True) + 1e-12) * scale
    conditions = points["condition"].values[order].astype(str)
    present = list(dict.fromkeys(conditions))
    shown = _most_points(points, slow_q, present, MAX_PANELS)
    if len(shown) < len(present):  # the rest share one colour: a legend of 75 entries cannot be read
        other = f"{len(present) - len(shown)} other conditions"
        conditions = np.where(np.isin(conditions, shown), conditions, other)
    stability = points["stability"].values[order]
    colours = _condition_colours(shown)
    if len(shown) < len(present):
        colours[other] = "0.45"
    for p, d, c in zip(proj, direction, conditions):
        ax.plot([p[0] - d[0], p[0] + d[0]], [p[1] - d[1], p[1] + d[1]], color=colours[c], lw=0.9, zorder=2)
    for label, colour in colours.items():
        for st, marker in MARKERS.items():
            mine = (conditions == label) & (stability == st)
            if mine.any():
                ax.scatter(proj[mine, 0], proj[mine, 1], s=26, marker=marker, color=colour, edgecolor="k",
                           linewidth=0.3, zorder=3)
    handles = [plt.Line2D([], [], color=c, marker="o", ls="", label=f"{name} ({(conditions == name).sum()})")
               for name, c in colours.items()]
    handles += [plt.Line2D([], [], color="k", marker=m, ls="", mfc="none", label=st)
                for st, m in MARKERS.items() if (stability == st).any()]
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
              title=f"input condition (points); q < {slow_q:g}", title_fontsize=7)
    ax.set_xlabel("PC 1 of the recorded rates")
    ax.set_ylabel("PC 2")
    ax.set_title(title or "fixed and slow points (segments: slowest non-trivial mode)", fontsize=10)
    fig.tight_layout()
    return fig


def spectra(points: xr.Dataset, slow_q: float, max_points: int = 60):
    """Per input condition, the eigenvalues of dF/dx at its slowest fixed and slow points (at
    most ``max_points``) in the complex plane with the unit circle (the discrete-time stability
    boundary): the network's modes in colour, the trivial ones (silent units' leaks) in grey."""
    every = list(dict.fromkeys(points["condition"].values.astype(str)))
    conditions = _most_points(points, slow_q, every, MAX_PANELS)
    n = max(len(conditions), 1)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axs = plt.subplots(rows, cols, figsize=(3.1 * cols, 3.3 * rows), squeeze=False)
    theta = np.linspace(0, 2 * np.pi, 400)
    trivial_all = points["trivial"].values.astype(bool) if "trivial" in points else None
    colours = _condition_colours(conditions)
    for ax, label in zip(axs.ravel(), conditions):
        ax.plot(np.cos(theta), np.sin(theta), color="k", lw=0.7)
        q = points["q"].values
        idx = np.flatnonzero((points["condition"].values.astype(str) == label) & (q < slow_q))
        idx = idx[np.argsort(q[idx])][:max_points]
        w = eigenvalues(points)[idx]
        trivial = trivial_all[idx] if trivial_all is not None else np.zeros(w.shape, bool)
        # up to 60 points x N eigenvalues per panel: drawn as an image inside the SVG (its axes and
        # text stay vector), which is what made writing the SVG take seconds
        ax.scatter(w[trivial].real, w[trivial].imag, s=3, color=GREY, label="trivial", rasterized=True)
        ax.scatter(w[~trivial].real, w[~trivial].imag, s=4, color=colours[label], label="network", rasterized=True)
        ax.set_aspect("equal")
        ax.set_title(textwrap.fill(f"{label} ({len(idx)} points)", 44), fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in axs.ravel()[len(conditions):]:
        ax.set_visible(False)
    if axs[0, 0].get_legend_handles_labels()[0]:
        axs[0, 0].legend(fontsize=7, markerscale=3, frameon=False, loc="lower left")
    fig.supxlabel("Re λ (per step; unit circle: stability boundary)", fontsize=9)
    fig.supylabel("Im λ", fontsize=9)
    if len(conditions) < len(every):
        fig.suptitle(f"{len(conditions)} of {len(every)} input conditions: those with the most fixed and slow "
                     f"points (all in fixedpoints.json)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97) if len(conditions) < len(every) else None)
    return fig


def selection_vectors(summary: dict):
    """Per input condition (rows) and input channel (columns): the median |l^H dF/du| of the
    slowest non-trivial mode over the condition's fixed and slow points (Mante et al. 2013's
    selection vector: how much an input pulse on that channel moves the state along the slow
    mode), annotated; blank where a condition has no fixed or slow point."""
    every = list(summary["conditions"])
    counts = {c: summary["conditions"][c].get("n_fixed", 0) + summary["conditions"][c].get("n_slow", 0) for c in every}
    conditions = every if len(every) <= MAX_ROWS else \
        [c for c in every if c in set(sorted(every, key=lambda c: -counts[c])[:MAX_ROWS])]
    channels = sorted({c for entry in summary["conditions"].values() for c in entry.get("selection", {})},
                      key=lambda c: next((list(e["selection"]).index(c) for e in summary["conditions"].values()
                                          if c in e.get("selection", {})), 0))
    values = np.full((len(conditions), len(channels)), np.nan)
    for i, label in enumerate(conditions):
        for j, c in enumerate(channels):
            v = summary["conditions"][label].get("selection", {}).get(c)
            values[i, j] = np.nan if v is None else v
    longest = max((len(c) for c in conditions), default=5)
    fig, ax = plt.subplots(figsize=(min(3.2 + 0.85 * max(len(channels), 1) + 0.06 * longest, MAX_WIDTH_IN),
                                    1.6 + 0.36 * max(len(conditions), 1)), constrained_layout=True)
    if not channels or not conditions:
        ax.set_title("no fixed or slow point: no selection vector")
        return fig
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    finite = values[np.isfinite(values)]
    mid = float(np.nanmax(finite)) / 2 if finite.size else 0.0
    for i in range(len(conditions)):
        for j in range(len(channels)):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.2g}", ha="center", va="center", fontsize=7,
                        color="k" if values[i, j] > mid else "w")
    ax.set_xticks(range(len(channels)), channels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(conditions)), conditions, fontsize=8)
    ax.set_xlabel("input channel")
    ax.set_ylabel("input condition")
    fig.colorbar(image, ax=ax, label="|selection|\n(state units per input unit per step)")
    ax.set_title("selection vector of the slowest\nnon-trivial mode (median)"
                 + (f"\n{len(conditions)} of {len(every)} conditions: most fixed and slow points"
                    if len(conditions) < len(every) else ""), fontsize=9)
    return fig
