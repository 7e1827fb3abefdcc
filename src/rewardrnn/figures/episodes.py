"""Figures of the analyses across trials (:mod:`rewardrnn.analysis.episodes`). Each function
takes the analyses' outputs of one network or of several (a list: one per network) and draws one
panel into ``ax`` (or a new figure): with one network its binomial (or regression) standard
errors, with several the mean over networks ± its standard error across them."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

#: The latents the decoder reads, in the task's words.
LATENT_WORDS = {"p_left": "P(reward | LEFT)", "p_2a": "P(reward | state 2a)"}
TWO_STEP_CELLS = ("rewarded_common", "rewarded_rare", "unrewarded_common", "unrewarded_rare")


def _axes(ax):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=(4.4, 3.4), constrained_layout=True)
    return fig, ax


def _band(ax, x, rows: Sequence[Sequence[dict]], key: str, label: str, color: str) -> None:
    """Mean over networks (``rows``: one list of records per network) of ``key``, ± the s.e.m.
    across networks, or ± the one network's own ``sem``."""
    y = np.array([[r[key] for r in net] for net in rows], np.float64)
    mean = y.mean(axis=0)
    if len(rows) > 1:
        err = y.std(axis=0, ddof=1) / np.sqrt(len(rows))
        label = f"{label} ({len(rows)} networks, mean ± s.e.m.)"
    else:
        err = np.array([r.get("sem", 0.0) for r in rows[0]], np.float64)
        label = f"{label} (± s.e.)"
    ax.plot(x, mean, color=color, lw=2, label=label)
    ax.fill_between(x, mean - err, mean + err, color=color, alpha=0.25, lw=0)


def learning_within_episode(curves: Sequence[Sequence[dict]], ax=None):
    """P(better option) per trial of the episode (:func:`~rewardrnn.analysis.episodes.learning_curve`)."""
    fig, ax = _axes(ax)
    _band(ax, [r["trial"] for r in curves[0]], curves, "p", "P(better option)", "C0")
    ax.axhline(0.5, color="0.6", ls=":", lw=1, label="chance")
    ax.set(xlabel="Trial within episode", ylabel="P(better option chosen)", ylim=(0.3, 1.02),
           title="Learning within episodes")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def history_kernels(kernels: Sequence[dict], ax=None):
    """The rewarded- and unrewarded-choice kernels (:func:`~rewardrnn.analysis.episodes.history_kernels`)."""
    fig, ax = _axes(ax)
    lags = [r["lag"] for r in kernels[0]["rewarded_choice"]]
    for kind, color, words in (("rewarded_choice", "C2", "rewarded choice"),
                               ("unrewarded_choice", "C3", "unrewarded choice")):
        _band(ax, lags, [k[kind] for k in kernels], "coef", words, color)
    ax.axhline(0, color="0.6", lw=1)
    ax.set(xlabel="Trials back (lag)", ylabel="Weight (log-odds toward that choice)", xticks=lags,
           title="Reward-history kernels")
    ax.legend(fontsize=7)
    return fig


def around_reversal(curves: Sequence[Sequence[dict]], ax=None):
    """P(the option better before the reversal) around it (:func:`~rewardrnn.analysis.episodes.around_reversal`)."""
    fig, ax = _axes(ax)
    _band(ax, [r["relative_trial"] for r in curves[0]], curves, "p", "P(option better before reversal)", "C1")
    ax.axvline(-0.5, color="k", ls="--", lw=1, label="reversal")
    ax.axhline(0.5, color="0.6", ls=":", lw=1)
    ax.set(xlabel="Trial relative to the reversal", ylabel="P(choice)", ylim=(-0.02, 1.02), title="Around the reversal")
    ax.legend(fontsize=7)
    return fig


def two_step_stay(stays: Sequence[dict], ax=None):
    """Stay probabilities by the previous trial's reward x transition (:func:`~rewardrnn.analysis.episodes.two_step_stay`)."""
    fig, ax = _axes(ax)
    values = np.array([[s["stay"][c]["p"] for c in TWO_STEP_CELLS] for s in stays])
    if len(stays) > 1:
        err = values.std(axis=0, ddof=1) / np.sqrt(len(stays))
    else:
        err = np.array([stays[0]["stay"][c]["sem"] for c in TWO_STEP_CELLS])
    positions = [0, 1, 2.5, 3.5]
    ax.bar(positions, values.mean(axis=0), yerr=err, color=["C0", "C1", "C0", "C1"], capsize=3)
    for v in values if len(stays) > 1 else ():
        ax.plot(positions[:2], v[:2], color="0.4", lw=0.6, alpha=0.6)
        ax.plot(positions[2:], v[2:], color="0.4", lw=0.6, alpha=0.6)
    ax.set_xticks(positions, ["common", "rare", "common", "rare"])
    index = np.mean([s["model_based_index"]["value"] for s in stays])
    ax.set(ylabel="P(repeat first-stage choice)", ylim=(0, 1), xlabel="rewarded            unrewarded",
           title=f"Stay probability (model-based index {index:.2f})")
    return fig


def latent_decoding(decodings: Sequence[dict], ax=None):
    """Cross-validated R² of the latent per trial (:func:`~rewardrnn.analysis.episodes.decode_latent`)."""
    fig, ax = _axes(ax)
    latent = decodings[0].get("latent", "")
    _band(ax, [r["trial"] for r in decodings[0]["r2_by_trial"]], [d["r2_by_trial"] for d in decodings], "r2",
          f"read-out of {LATENT_WORDS.get(latent, latent)}", "C4")
    ax.axhline(0, color="0.6", lw=1)
    ax.set(xlabel="Trial within episode", ylabel="Cross-validated R²", ylim=(-0.1, 1.0),
           title="The latent reward probability in the state")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def behaviour_panels(numbers: Sequence[dict], title: str):
    """Every panel the networks' numbers (:func:`rewardrnn.analysis.episodes_suite.numbers`) hold, side
    by side in one figure."""
    draw = [(learning_within_episode, "learning_within_episode", lambda n: n["learning_within_episode"])]
    if "rewarded_choice" in numbers[0].get("history_kernels", {}):
        draw.append((history_kernels, "history_kernels", lambda n: n["history_kernels"]))
    if "around_reversal" in numbers[0]:
        draw.append((around_reversal, "around_reversal", lambda n: n["around_reversal"]))
    if "two_step_stay" in numbers[0]:
        draw.append((two_step_stay, "two_step_stay", lambda n: n["two_step_stay"]))
    decoded = [n["latent_decoding"] for n in numbers if n.get("latent_decoding")]
    fig, axes = plt.subplots(1, len(draw) + bool(decoded), figsize=(4.4 * (len(draw) + bool(decoded)), 3.6),
                             constrained_layout=True, squeeze=False)
    for ax, (function, _, get) in zip(axes[0], draw):
        function([get(n) for n in numbers], ax)
    if decoded:
        latent_decoding(decoded, axes[0][-1])
    fig.suptitle(title, fontsize=10)
    return fig
