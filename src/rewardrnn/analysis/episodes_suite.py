"""The analyses of a network trained over episodes of trials (``analyze`` on a bandit, reversal
or two-step run; docs/episodes.md): pure functions of the behaviour table of held-out episodes
and the state at each trial's decision step (:mod:`rewardrnn.records.episodes`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rewardrnn.analysis import episodes as analysis
from rewardrnn.analysis.song_suite import Analysis

#: History lags of the reward-history kernels.
LAGS = 5
#: An episode whose decision state reaches |x| > RUNAWAY at some trial is a runaway: counted, and
#: left out of the linear decoding, whose least squares it would dominate (Song's gated units are
#: rectified, not saturating; trained states are otherwise within about +-50).
RUNAWAY = 100.0
#: The latent each task's decoder reads: the left arm's (bandit, reversal) or state 2a's (two-step)
#: reward probability on the trial, which the network is never shown.
DECODED = {"bandit": "p_left", "reversal": "p_left", "two-step": "p_2a"}
#: At least this many bounded episodes to cross-validate the decoder on.
MIN_DECODED_EPISODES = 10
#: At least this many trials per regressor of a logistic regression (the history kernels).
MIN_ROWS_PER_REGRESSOR = 20


def numbers(task: str, table: pd.DataFrame, states: np.ndarray, performance: dict[str, float]) -> dict:
    """Every analysis that fits ``task`` (``bandit``, ``reversal``, ``two-step``), JSON-able:
    performance (the task criterion's P(better) and the mean reward per trial), the learning
    curve within episodes, P(better) over trials 1-10 and 11-end, win-stay / lose-shift, the
    reward-history kernels (bandit, reversal), P(initially better) around the reversal and the
    trials until it falls below 0.5 (reversal), Daw et al.'s stay analysis (two-step), runaway
    episodes and the decoding of the latent reward probability."""
    curve = analysis.learning_curve(table)
    out = {"performance": {"p_better": performance["p_better"], "reward": performance["reward"],
                           "episodes": int(table["episode"].nunique())},
           "learning_within_episode": curve.to_dict("records"),
           "p_better_by_block": {"trials_1_10": float(curve["p"][curve["trial"] <= 10].mean()),
                                 "trials_11_end": float(curve["p"][curve["trial"] > 10].mean())},
           "win_stay_lose_shift": analysis.win_stay_lose_shift(table)}
    if task in ("bandit", "reversal"):
        with_history = int((table["trial"] > LAGS).sum())
        if with_history < MIN_ROWS_PER_REGRESSOR * (2 * LAGS + 1):
            out["history_kernels"] = {"note": f"{with_history} trials have {LAGS} trials of history in their episode; "
                                              f"the kernels need {MIN_ROWS_PER_REGRESSOR * (2 * LAGS + 1)} "
                                              f"(more episodes, -n / --behaviour-trials)"}
        else:
            kernels = analysis.history_kernels(table, lags=LAGS)
            kernels["rewarded_choice_decays"] = analysis.kernel_decays(kernels["rewarded_choice"])
            out["history_kernels"] = kernels
    if task == "reversal":
        around = analysis.around_reversal(table)
        out["around_reversal"] = around.to_dict("records")
        out["trials_to_follow_reversal"] = analysis.trials_to_follow_reversal(around)
    if task == "two-step":
        out["two_step_stay"] = analysis.two_step_stay(table)
    episode = table["episode"].to_numpy()
    peak = pd.Series(np.abs(states).max(axis=1)).groupby(episode).max()
    runaway = peak.index[peak > RUNAWAY].to_numpy()
    out["runaway_episodes"] = {"n": int(len(runaway)), "of": int(len(peak)), "max_abs_state": float(peak.max())}
    keep = ~np.isin(episode, runaway)
    out["latent_decoding"] = None
    if task in DECODED and len(peak) - len(runaway) >= MIN_DECODED_EPISODES:
        decoded = analysis.decode_latent(states[keep], table[DECODED[task]].to_numpy()[keep], episode[keep],
                                         table["trial"].to_numpy()[keep])
        out["latent_decoding"] = {"latent": DECODED[task], "episodes": int(len(peak) - len(runaway)), **decoded}
    return out


def analyze(task: str, table: pd.DataFrame, states: np.ndarray, performance: dict[str, float]) -> Analysis:
    """:func:`numbers` and one figure per analysis, with warnings where the behaviour is not
    what the criterion implies."""
    from rewardrnn.figures import episodes as figs

    result = Analysis(numbers=numbers(task, table, states, performance))
    n = result.numbers
    result.figures["learning_within_episode"] = figs.learning_within_episode([n["learning_within_episode"]])
    if "rewarded_choice" in n.get("history_kernels", {}):
        result.figures["history_kernels"] = figs.history_kernels([n["history_kernels"]])
        if not n["history_kernels"]["rewarded_choice_decays"]:
            result.warnings.append("the rewarded-choice history kernel does not decay with lag (lag 1 not positive, "
                                   "or a later lag larger by more than 2 s.e.)")
    if "around_reversal" in n:
        result.figures["around_reversal"] = figs.around_reversal([n["around_reversal"]])
    if "two_step_stay" in n:
        result.figures["two_step_stay"] = figs.two_step_stay([n["two_step_stay"]])
    if n["latent_decoding"] is not None:
        result.figures["latent_decoding"] = figs.latent_decoding([n["latent_decoding"]])
    if n["runaway_episodes"]["n"]:
        result.warnings.append(f"the state ran away (|x| > {RUNAWAY:g}) in {n['runaway_episodes']['n']} of "
                               f"{n['runaway_episodes']['of']} episodes; they are left out of the latent decoding")
    return result
