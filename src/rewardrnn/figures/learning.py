"""Learning curves from a run's metrics table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def learning_curve(metrics: pd.DataFrame, p_correct_target: float | None = None) -> plt.Figure:
    """Validation reward and P(correct | decision) vs training trials, one line per seed;
    new-best validations marked, the criterion's target drawn as a dashed line."""
    fig, (ax_r, ax_c) = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
    for seed, rows in metrics.groupby("seed"):
        trials = rows["trials"] / 1000
        ax_r.plot(trials, rows["reward"], lw=1, label=f"seed {seed}")
        ax_c.plot(trials, 100 * rows["p_correct"], lw=1)
        best = rows[rows["new_best"].astype(bool)]
        ax_c.plot(best["trials"] / 1000, 100 * best["p_correct"], "k.", ms=3)
    if p_correct_target is not None:
        ax_c.axhline(100 * p_correct_target, color="k", ls="--", lw=0.8)
    ax_r.set(xlabel="training trials (×1000)", ylabel="mean reward per trial")
    ax_c.set(xlabel="training trials (×1000)", ylabel="correct on decision trials (%)", ylim=(40, 100))
    if metrics["seed"].nunique() <= 10:
        ax_r.legend(frameon=False, fontsize=8)
    for ax in (ax_r, ax_c):
        ax.spines[["top", "right"]].set_visible(False)
    return fig
