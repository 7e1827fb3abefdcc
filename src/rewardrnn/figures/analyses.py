"""Figures of the analyses (:mod:`rewardrnn.analysis`): each function takes the analysis's
output (tables, DataArrays, arrays) and returns a matplotlib figure."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402


def _clean(ax):
    ax.spines[["top", "right"]].set_visible(False)


def value_label(value) -> str:
    return f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)


def _group_label(da: xr.DataArray, g: int, by: Sequence[str]) -> str:
    return ", ".join(f"{name} {value_label(da[name].values[g])}" for name in by)


def psth_panels(da: xr.DataArray, by: Sequence[str], units: Sequence[int] | None = None,
                unit_dim: str = "unit", title: str = "") -> plt.Figure:
    """One panel per unit (or a single panel for a variable without units, e.g. the value
    output), one line per condition group, coloured along the first ``by`` column."""
    panels = [None] if unit_dim not in da.dims else list(units if units is not None else da[unit_dim].values[:4])
    cols = 2 if len(panels) > 2 else len(panels)  # 2 x 2 for four units: readable in a report
    rows = -(-len(panels) // cols)
    width = 3.4 * cols + (2.2 if da.sizes["group"] <= 12 else 0)  # room for the legend on the right
    fig, grid = plt.subplots(rows, cols, figsize=(width, 2.8 * rows), squeeze=False, constrained_layout=True)
    axes = [list(grid.ravel()[:len(panels)])]
    for extra in grid.ravel()[len(panels):]:
        extra.set_visible(False)
    first = np.asarray(da[by[0]].values, float) if by and np.issubdtype(da[by[0]].dtype, np.number) else None
    cmap = plt.get_cmap("viridis")
    # each choice its own line style (colour: the first condition variable), so that the two
    # choices at one condition are told apart
    choices = list(dict.fromkeys(str(c) for c in da["choice"].values)) if "choice" in by else []
    styles = dict(zip(choices, ("-", "--", ":", "-.") * 4))
    for ax, unit in zip(axes[0], panels):
        trace = da if unit is None else da.sel({unit_dim: unit})
        for g in range(da.sizes["group"]):
            if first is not None and np.ptp(first) > 0:
                colour = cmap((first[g] - first.min()) / np.ptp(first))
            else:
                colour = f"C{g % 10}"
            style = styles.get(str(da["choice"].values[g]), "-") if "choice" in by else "-"
            ax.plot(da.time, trace.isel(group=g), style, color=colour, lw=1, label=_group_label(da, g, by))
        ax.axvline(0, color="k", lw=0.5)
        ax.set(xlabel=da.time.attrs.get("units", "time (ms)"), title=f"unit {unit}" if unit is not None else "")
        _clean(ax)
    axes[0][0].set_ylabel(da.name or "")
    if da.sizes["group"] <= 12:
        axes[0][cols - 1].legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def curve(table: pd.DataFrame, x: str, ys: Sequence[str], xlabel: str, ylabel: str, percent: bool = True,
          logx: bool = False, err: tuple[str, str] | None = None) -> plt.Figure:
    """Lines of the columns ``ys`` against ``x`` (proportions drawn in % when ``percent``)."""
    fig, ax = plt.subplots(figsize=(4, 3.2), constrained_layout=True)
    scale = 100 if percent else 1
    for i, y in enumerate(ys):
        ax.plot(table[x], scale * table[y], "o-", color=f"C{i}", ms=4, lw=1, label=y)
        if err is not None and len(ys) == 1:
            ax.fill_between(table[x], scale * table[err[0]], scale * table[err[1]], color=f"C{i}", alpha=0.2, lw=0)
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if len(ys) > 1:
        ax.legend(frameon=False, fontsize=8)
    _clean(ax)
    return fig


def chronometric(table: pd.DataFrame, xlabel: str) -> plt.Figure:
    """Mean reaction time of correct and error decisions against the stimulus (linear axis, 0
    included), with 95 % bootstrap intervals (:func:`rewardrnn.analysis.behaviour.chronometric`);
    a missing point (too few trials) is said in the legend rather than dropped silently."""
    fig, ax = plt.subplots(figsize=(4.4, 3.4), constrained_layout=True)
    x = table["stimulus"].to_numpy(float)
    for name, colour, marker in (("correct", "k", "o"), ("error", "C3", "s")):
        y = table[f"rt_{name}_ms"].to_numpy(float)
        low, high = table[f"rt_{name}_ci_low"].to_numpy(float), table[f"rt_{name}_ci_high"].to_numpy(float)
        ok = np.isfinite(y)
        missing = [value_label(v) for v in x[~ok]]
        label = name + (f" (too few trials at {', '.join(missing)})" if missing else "")
        ax.errorbar(x[ok], y[ok], yerr=np.vstack([y[ok] - low[ok], high[ok] - y[ok]]), fmt=f"{marker}-", color=colour,
                    ms=4, lw=1, capsize=2, label=label)
    ax.set_xticks(x, [value_label(v) for v in x], fontsize=8)
    ax.set_xlim(min(0.0, x.min()) - 0.03 * np.ptp(x), x.max() + 0.03 * np.ptp(x))
    ax.set(xlabel=xlabel, ylabel="reaction time (ms from decision onset)")
    ax.legend(frameon=False, fontsize=7)
    _clean(ax)
    return fig


def heatmap(matrix: np.ndarray, x: np.ndarray, y: np.ndarray, xlabel: str, ylabel: str, title: str,
            vmin: float = 0.0, vmax: float = 1.0) -> plt.Figure:
    """A matrix (rows y, columns x) with a colour bar (e.g. cross-temporal decoding accuracy)."""
    fig, ax = plt.subplots(figsize=(3.6, 3.2), constrained_layout=True)
    image = ax.imshow(matrix, origin="lower", aspect="auto", vmin=vmin, vmax=vmax, cmap="magma",
                      extent=(x[0], x[-1], y[0], y[-1]))
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return fig


def scatter_groups(points: Sequence[np.ndarray], labels: np.ndarray, titles: Sequence[str]) -> plt.Figure:
    """One 2-D scatter per element of ``points`` (samples, 2), coloured by ``labels`` (e.g. MDS
    of population states at several times)."""
    fig, axes = plt.subplots(1, len(points), figsize=(2.6 * len(points), 2.6), squeeze=False, constrained_layout=True)
    names = list(dict.fromkeys(labels))
    for ax, xy, title in zip(axes[0], points, titles):
        for i, name in enumerate(names):
            rows = labels == name
            ax.plot(xy[rows, 0], xy[rows, 1], "o", ms=3, color=f"C{i}", label=str(name))
        ax.set(title=title, xticks=[], yticks=[])
    axes[0][-1].legend(frameon=False, fontsize=7)
    return fig


def trajectories(projected: np.ndarray, groups: pd.DataFrame, axes: tuple[int, int], axis_names: Sequence[str],
                 colour_by: str, split_by: str | None = None) -> plt.Figure:
    """Condition-averaged trajectories (conditions, time, k) in the plane of two axes, one panel
    per value of ``split_by`` (e.g. context), coloured along ``colour_by``."""
    splits = [None] if split_by is None else list(dict.fromkeys(groups[split_by]))
    fig, panels = plt.subplots(1, len(splits), figsize=(3.2 * len(splits), 3), squeeze=False, constrained_layout=True)
    values = groups[colour_by].to_numpy(float)
    cmap = plt.get_cmap("coolwarm")
    span = np.ptp(values) or 1.0
    for ax, split in zip(panels[0], splits):
        rows = np.ones(len(groups), bool) if split is None else (groups[split_by] == split).to_numpy()
        for i in np.flatnonzero(rows):
            ax.plot(projected[i, :, axes[0]], projected[i, :, axes[1]], "-", lw=1,
                    color=cmap((values[i] - values.min()) / span))
            ax.plot(projected[i, -1, axes[0]], projected[i, -1, axes[1]], ".", color=cmap((values[i] - values.min()) / span))
        ax.set(xlabel=f"{axis_names[axes[0]]} axis", ylabel=f"{axis_names[axes[1]]} axis",
               title="" if split is None else f"{split_by.removesuffix('_name').replace('_', ' ')}: {split}")
        _clean(ax)
    return fig


def histogram(values: np.ndarray, xlabel: str, title: str = "") -> plt.Figure:
    fig, ax = plt.subplots(figsize=(3.6, 3), constrained_layout=True)
    ax.hist(values[np.isfinite(values)], bins=30, color="0.4")
    ax.set(xlabel=xlabel, ylabel="units", title=title)
    _clean(ax)
    return fig


def bars(counts: pd.Series, ylabel: str, title: str = "") -> plt.Figure:
    fig, ax = plt.subplots(figsize=(3.6, 3), constrained_layout=True)
    ax.bar([str(i) for i in counts.index], counts.to_numpy(), color="0.4")
    ax.set(ylabel=ylabel, title=title)
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    _clean(ax)
    return fig
