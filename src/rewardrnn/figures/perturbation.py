"""Figures of ``rewardrnn perturb``: intact against perturbed behaviour, in the task's words."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

INTACT, PERTURBED = ("intact", "k"), ("perturbed", "C3")


def _title(ax, words: str) -> None:
    ax.set_title("\n".join(textwrap.wrap(words, 48)), fontsize=8)


def psychometric_comparison(intact: dict, perturbed: dict, xlabel: str, ylabel: str, words: str) -> plt.Figure:
    """Both psychometric curves (points with 95 % Wilson intervals and the fitted cumulative
    Gaussians), mu of each in the legend; ``intact`` / ``perturbed``: the summary's
    ``psychometric`` entries."""
    fig, ax = plt.subplots(figsize=(4.6, 3.8), constrained_layout=True)
    for fit, (label, color) in ((intact, INTACT), (perturbed, PERTURBED)):
        x = np.asarray([p["stimulus"] for p in fit["points"]], float)
        p = np.asarray([p["p_positive"] for p in fit["points"]], float)
        low = np.asarray([q["ci_low"] for q in fit["points"]], float)
        high = np.asarray([q["ci_high"] for q in fit["points"]], float)
        ax.errorbar(x, 100 * p, yerr=100 * np.abs(np.vstack([low, high]) - p), fmt="o", color=color, ms=4, capsize=0)
        grid = np.linspace(x.min(), x.max(), 200)
        ax.plot(grid, 100 * stats.norm.cdf((grid - fit["mu"]) / fit["sigma"]), color=color, lw=1.2,
                label=f"{label}: μ = {fit['mu']:.2f} ± {fit['mu_se']:.2g}")
    ax.set(xlabel=xlabel, ylabel=ylabel, ylim=(-2, 102))
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    _title(ax, words)
    return fig


#: The bars of Song's tasks: (summary key, words, scale: 100 for a share shown in %).
SONG_MEASURES = (("p_decision", "P(decision)", 100.0), ("p_correct", "P(correct | decision)", 100.0))


def performance_comparison(intact: list[dict], perturbed: list[dict], variables: list[str], words: str,
                           measures=SONG_MEASURES) -> plt.Figure:
    """Each of ``measures`` ((summary key, words, scale: 100 for %): by default P(decision) and
    P(correct | decision), in %) per value of the condition variable with the most values (the
    summary's ``per_condition`` rows pooled over the other variables, e.g. per coherence on
    rdm-fixed, as the paper reports), intact and perturbed side by side."""
    label = max(variables, key=lambda v: len({str(r[v]) for r in intact})) if variables else None

    def rows_of(rows):
        if label is None:
            return rows
        return [r for r in rows if r[label] != "all" and all(r[v] == "all" for v in variables if v != label)] \
            if len(variables) > 1 else rows

    a, b = rows_of(intact), rows_of(perturbed)
    names = [_tick(r[label]) if label else "all" for r in a]
    x = np.arange(len(names))
    n_cols = min(2, len(measures))  # two panels across at most: readable at report size
    n_rows = -(-len(measures) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4 * n_cols, 3.4 * n_rows + 0.3), constrained_layout=True,
                             squeeze=False)
    axes = axes.ravel()
    for extra in axes[len(measures):]:
        extra.set_visible(False)
    for ax, (key, words_of_measure, scale) in zip(axes, measures):
        ylabel = "\n".join(textwrap.wrap(words_of_measure + (" (%)" if scale == 100.0 else ""), 40))
        top = bottom = 0.0
        for shift, rows, (name, color) in ((-0.2, a, INTACT), (0.2, b, PERTURBED)):
            heights = [scale * float(r[key]) if r.get(key) is not None and r[key] == r[key] else 0.0 for r in rows]
            top, bottom = max([top, *heights]), min([bottom, *heights])
            ax.bar(x + shift, heights, width=0.4, color=color, alpha=0.8, label=name)
        ax.set_xticks(x, names, rotation=45 if len(names) > 6 else 0, fontsize=8)
        pooled = " (other variables pooled)" if len(variables) > 1 else ""
        ax.set(xlabel=(label or "all trials") + pooled, ylabel=ylabel,
               ylim=(0, 118) if scale == 100.0 else (1.18 * bottom, 1.18 * top or 1.0))
        if bottom < 0:
            ax.axhline(0, color="0.5", lw=0.6)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].legend(frameon=False, fontsize=8, ncols=2, loc="upper center")
    fig.suptitle("\n".join(textwrap.wrap(words, 90)), fontsize=8)
    return fig


def _tick(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)
