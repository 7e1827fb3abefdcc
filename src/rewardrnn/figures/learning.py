"""Learning curves from a run's metrics table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def learning_curve(metrics: pd.DataFrame, p_correct_target: float | None = None, accuracy: str = "p_correct",
                   accuracy_label: str = "correct on decision trials (%)") -> plt.Figure:
    """Validation reward and accuracy (``accuracy``: P(correct | decision) for Song's tasks,
    NeuroGym's performance for its environments) vs training trials, one line per seed;
    new-best validations marked, the criterion's target drawn as a dashed line; with several
    seeds, their median and interquartile range (over the seeds validated at each point). In a
    curriculum (a ``stage_done`` column) each seed's stage ends are marked with a triangle: the
    accuracy there is of that stage's variant."""
    fig, (ax_r, ax_c) = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
    for seed, rows in metrics.groupby("seed"):
        trials = rows["trials"] / 1000
        ax_r.plot(trials, rows["reward"], lw=1, label=f"seed {seed}")
        ax_c.plot(trials, 100 * rows[accuracy], lw=1)
        best = rows[rows["new_best"].astype(bool)]
        ax_c.plot(best["trials"] / 1000, 100 * best[accuracy], "k.", ms=3)
        if "stage_done" in rows:
            ended = rows[rows["stage_done"].astype(str) == "True"]
            ax_c.plot(ended["trials"] / 1000, 100 * ended[accuracy], "v", color="C3", ms=5,
                      label="curriculum stage ended" if seed == metrics["seed"].iloc[0] else None)
    if metrics["seed"].nunique() > 1:  # median and interquartile range across the seeds still training
        grid = metrics.pivot_table(index="trials", columns="seed", values=accuracy)
        q1, median, q3 = (100 * grid.quantile(q, axis=1) for q in (0.25, 0.5, 0.75))
        ax_c.fill_between(grid.index / 1000, q1, q3, color="k", alpha=0.15, lw=0)
        ax_c.plot(grid.index / 1000, median, color="k", lw=1.8, label="median, IQR")
    if ax_c.get_legend_handles_labels()[0]:
        ax_c.legend(frameon=False, fontsize=8)
    if p_correct_target is not None:
        ax_c.axhline(100 * p_correct_target, color="k", ls="--", lw=0.8)
    ax_r.set(xlabel="training trials (×1000)", ylabel="mean reward per trial")
    ax_c.set(xlabel="training trials (×1000)", ylabel=accuracy_label, ylim=(0 if accuracy != "p_correct" else 40, 100))
    if metrics["seed"].nunique() <= 10:
        ax_r.legend(frameon=False, fontsize=8)
    for ax in (ax_r, ax_c):
        ax.spines[["top", "right"]].set_visible(False)
    return fig


def error_curves(errors, threshold: float | None = 1.0, smooth: int = 100) -> plt.Figure:
    """Miconi-style learning curve (his Fig. 1): the per-trial error of every seed (seeds x
    trials), smoothed over ``smooth`` trials, as the median across seeds with its interquartile
    range (NaN after a seed stopped: the seeds still training); the criterion's error threshold as
    a dashed line."""
    import warnings

    import numpy as np

    errors = np.asarray(errors, float)
    kernel = np.ones(smooth) / smooth
    smoothed = np.stack([np.convolve(e, kernel, mode="valid") for e in errors]) if errors.shape[1] >= smooth else errors
    trials = np.arange(smoothed.shape[1]) + min(smooth, errors.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns after every seed stopped
        q1, median, q3 = np.nanpercentile(smoothed, [25, 50, 75], axis=0)
    fig, ax = plt.subplots(figsize=(4.5, 3.4), constrained_layout=True)
    ax.fill_between(trials, q1, q3, color="C0", alpha=0.3, lw=0, label="interquartile range")
    ax.plot(trials, median, color="C0", lw=1.2, label=f"median of {errors.shape[0]} seed(s)")
    if threshold is not None:
        ax.axhline(threshold, color="k", ls="--", lw=0.8)
    ax.set(xlabel="trials", ylabel=f"error (mean over {smooth} trials)", ylim=(0, None))
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
