"""The analysis half of benchmarks/episodes_experiment.py: each trained seed's best network plays
held-out episodes (a fixed key, apart from training's and validation's), its behaviour table is
read by rewardrnn.analysis.episodes, and the numbers (JSON) and figures (PNG) go to
benchmarks/results/episodes/.

Per task: the learning curve within episodes (all three), P(initially better option) around the
reversal (reversal), the reward-history kernels (bandit, reversal), win-stay / lose-shift (all),
and Daw et al. 2011's stay probabilities and indices (two-step). Each seed is analysed alone; the
pooled rows average the seeds that reached the criterion (mean over seeds, with the standard
error across seeds).
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rewardrnn.analysis import episodes as analysis  # noqa: E402
from rewardrnn.tasks import episodes  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "episodes"
#: The held-out episodes' key (training used PRNGKey(seed) and its splits).
HELD_OUT_KEY = 2018
LAGS = 5
#: An episode whose state reaches |x| > RUNAWAY (the trained states are otherwise within ~±50) is a runaway.
RUNAWAY = 100.0


def held_out(name: str, seed: int, n_episodes: int, rho: float) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """``n_episodes`` fresh episodes played by seed ``seed``'s best network (sampling, its
    training noise on, as in validation): the behaviour table, the state at each trial's
    decision step (one row per table row) and the task criterion's numbers on them."""
    from episodes_experiment import load_best  # noqa: PLC0415 (beside this file)

    task, learner, best = load_best(name, seed, rho)
    masks = learner.init(jax.random.PRNGKey(seed)).policy_masks
    batch = learner.draw_episodes(jax.random.PRNGKey(HELD_OUT_KEY), n_episodes)
    played = jax.jit(learner.play_episodes)(best["policy"], masks, batch)
    states = episodes.decision_states(task, played.pop("states"))
    criterion = {k: float(v) for k, v in episodes.performance(task, batch.latents, played).items()}
    return episodes.behaviour_table(task, batch.latents, played), states, criterion


#: The latent each task's decoder reads: the left arm's (bandit, reversal) or state 2a's (two-step)
#: reward probability on the trial, which the network is never shown.
DECODED = {"bandit": "p_left", "reversal": "p_left", "two-step": "p_2a"}
DECODED_WORDS = {"p_left": "P(reward | LEFT)", "p_2a": "P(reward | state 2a)"}


def analyse_seed(name: str, table: pd.DataFrame, states: np.ndarray, criterion: dict) -> dict:
    out = {"n_episodes": int(table["episode"].nunique()),
           "criterion_on_held_out": criterion,
           "mean_reward_per_trial": float(table["reward"].mean()),
           "learning_curve": analysis.learning_curve(table).to_dict("records"),
           "win_stay_lose_shift": analysis.win_stay_lose_shift(table)}
    if name in ("bandit", "reversal"):
        kernels = analysis.history_kernels(table, lags=LAGS)
        kernels["rewarded_choice_decays"] = analysis.kernel_decays(kernels["rewarded_choice"])
        out["history_kernels"] = kernels
    if name == "reversal":
        out["around_reversal"] = analysis.around_reversal(table).to_dict("records")
    if name == "two-step":
        out["two_step_stay"] = analysis.two_step_stay(table)
    # Song's gated units are rectified, not saturating: in some episodes of some seeds the state
    # runs away (|x| in the thousands and beyond); those episodes are counted and left out of the
    # linear decoding, whose least squares they would dominate.
    episode = table["episode"].to_numpy()
    peak = pd.Series(np.abs(states).max(axis=1)).groupby(episode).max()
    runaway = peak.index[peak > RUNAWAY].to_numpy()
    keep = ~np.isin(episode, runaway)
    out["runaway_episodes"] = {"n": int(len(runaway)), "of": int(len(peak)), "threshold_abs_state": RUNAWAY,
                               "max_abs_state": float(peak.max())}
    if len(peak) - len(runaway) < 10:
        out["decoding"] = None  # fewer than 10 bounded episodes: nothing to cross-validate on
        return out
    decoded = analysis.decode_latent(states[keep], table[DECODED[name]].to_numpy()[keep], episode[keep],
                                     table["trial"].to_numpy()[keep])
    out["decoding"] = {"latent": DECODED[name], "episodes": int(len(peak) - len(runaway)), **decoded}
    return out


def _pooled(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, np.float64)
    return {"mean": float(v.mean()), "sem_across_seeds": float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1
            else float("nan"), "min": float(v.min()), "max": float(v.max()), "n_seeds": len(v)}


def pool(name: str, per_seed: dict[int, dict], reached: list[int]) -> dict:
    """Averages over the seeds that reached the criterion."""
    rows = [per_seed[s] for s in reached]
    if not rows:
        return {"seeds": []}
    out = {"seeds": reached,
           "mean_reward_per_trial": _pooled([r["mean_reward_per_trial"] for r in rows]),
           "win_stay": _pooled([r["win_stay_lose_shift"]["win_stay"]["p"] for r in rows]),
           "lose_shift": _pooled([r["win_stay_lose_shift"]["lose_shift"]["p"] for r in rows])}
    curve = np.array([[c["p"] for c in r["learning_curve"]] for r in rows])
    out["criterion_on_held_out"] = _pooled([r["criterion_on_held_out"]["p_better"] for r in rows])
    out["runaway_episodes_per_seed"] = {str(seed): r["runaway_episodes"]["n"] for seed, r in zip(reached, rows)}
    decoded = [r["decoding"] for r in rows if r["decoding"] is not None]
    out["decoding_r2"] = _pooled([d["r2"] for d in decoded])
    for first, last in ((1, 10), (11, 30), (81, 100)):
        out[f"decoding_r2_trials_{first}_{last}"] = _pooled(
            [np.mean([c["r2"] for c in d["r2_by_trial"] if first <= c["trial"] <= last]) for d in decoded])
    out["p_better_trials_1_10"] = _pooled(curve[:, :10].mean(axis=1))
    out["p_better_trials_11_end"] = _pooled(curve[:, 10:].mean(axis=1))
    if "history_kernels" in rows[0]:
        for kind in ("rewarded_choice", "unrewarded_choice"):
            out[f"{kind}_kernel"] = [_pooled([r["history_kernels"][kind][j]["coef"] for r in rows]) for j in range(LAGS)]
        out["kernels_decay"] = [s for s, r in zip(reached, rows) if r["history_kernels"]["rewarded_choice_decays"]]
    if "around_reversal" in rows[0]:
        around = {c["relative_trial"]: [] for c in rows[0]["around_reversal"]}
        for r in rows:
            for c in r["around_reversal"]:
                around[c["relative_trial"]].append(c["p"])
        out["around_reversal"] = {str(k): _pooled(v) for k, v in around.items()}
        # trials after the reversal until P(initially better) falls below 0.5 (the mean over seeds)
        after = sorted((k, np.mean(v)) for k, v in around.items() if k >= 0)
        out["trials_to_switch_after_reversal"] = next((k for k, p in after if p < 0.5), None)
    if "two_step_stay" in rows[0]:
        stay = [r["two_step_stay"] for r in rows]
        out["stay"] = {cell: _pooled([s["stay"][cell]["p"] for s in stay]) for cell in stay[0]["stay"]}
        for index in ("model_free_index", "model_based_index"):
            out[index] = _pooled([s[index]["value"] for s in stay])
        out["interaction_coef"] = _pooled([s["regression"]["reward_x_transition"]["coef"] for s in stay])
        out["seeds_with_positive_interaction_at_2_sem"] = [
            seed for seed, s in zip(reached, stay)
            if s["regression"]["reward_x_transition"]["coef"] > 2 * s["regression"]["reward_x_transition"]["sem"]]
    return out


# ---- figures -------------------------------------------------------------------------------------
LABELS = {"bandit": "Two-armed bandit (p_L ~ U(0,1), p_R = 1 - p_L)",
          "reversal": "Reversal (p = 0.8 / 0.2, reversal at a random trial 30-70)",
          "two-step": "Two-step task (common 0.8, reward 0.9 / 0.1)"}


def _mean_band(ax, x, ys, label, color):
    ys = np.asarray(ys)
    m = ys.mean(axis=0)
    s = ys.std(axis=0, ddof=1) / np.sqrt(len(ys)) if len(ys) > 1 else np.zeros_like(m)
    ax.plot(x, m, color=color, lw=2, label=label)
    ax.fill_between(x, m - s, m + s, color=color, alpha=0.25, lw=0)


def figures(name: str, per_seed: dict[int, dict], reached: list[int], stem: str) -> list[str]:
    rows = [per_seed[s] for s in reached]
    if not rows:
        return []
    written = []
    panels = 3 if name != "reversal" else 4
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.4), constrained_layout=True)
    trials = [c["trial"] for c in rows[0]["learning_curve"]]
    _mean_band(axes[0], trials, [[c["p"] for c in r["learning_curve"]] for r in rows],
               f"{len(rows)} networks (mean ± s.e.m.)", "C0")
    axes[0].axhline(0.5, color="0.6", ls=":", lw=1, label="chance")
    axes[0].set(xlabel="Trial within episode", ylabel="P(better option chosen)", ylim=(0.3, 1.02),
                title="Learning within episodes")
    axes[0].legend(fontsize=8, loc="lower right")
    if "history_kernels" in rows[0]:
        lags = np.arange(1, LAGS + 1)
        for kind, color, label in (("rewarded_choice", "C2", "rewarded choice"),
                                   ("unrewarded_choice", "C3", "unrewarded choice")):
            _mean_band(axes[1], lags, [[k["coef"] for k in r["history_kernels"][kind]] for r in rows], label, color)
        axes[1].axhline(0, color="0.6", lw=1)
        axes[1].set(xlabel="Trials back (lag)", ylabel="Weight (log-odds toward that choice)",
                    title="Reward-history kernels", xticks=lags)
        axes[1].legend(fontsize=8)
    if "around_reversal" in rows[0]:
        rel = [c["relative_trial"] for c in rows[0]["around_reversal"]]
        _mean_band(axes[2], rel, [[c["p"] for c in r["around_reversal"]] for r in rows],
                   "P(option better before reversal)", "C1")
        axes[2].axvline(-0.5, color="k", ls="--", lw=1, label="reversal")
        axes[2].axhline(0.5, color="0.6", ls=":", lw=1)
        axes[2].set(xlabel="Trial relative to reversal", ylabel="P(choice)", ylim=(-0.02, 1.02),
                    title="Around the reversal")
        axes[2].legend(fontsize=8)
    if "two_step_stay" in rows[0]:
        cells = ("rewarded_common", "rewarded_rare", "unrewarded_common", "unrewarded_rare")
        values = np.array([[r["two_step_stay"]["stay"][c]["p"] for c in cells] for r in rows])
        positions = [0, 1, 2.5, 3.5]
        axes[1].bar(positions, values.mean(axis=0), yerr=values.std(axis=0, ddof=1) / np.sqrt(len(values))
                    if len(values) > 1 else None, color=["C0", "C1", "C0", "C1"], capsize=3)
        for v in values:
            axes[1].plot(positions[:2], v[:2], color="0.4", lw=0.6, alpha=0.6)
            axes[1].plot(positions[2:], v[2:], color="0.4", lw=0.6, alpha=0.6)
        axes[1].set_xticks(positions, ["common", "rare", "common", "rare"])
        axes[1].set(ylabel="P(repeat first-stage choice)", ylim=(0, 1), xlabel="rewarded        unrewarded",
                    title="Stay probability (previous trial)")
    decoded = [r["decoding"] for r in rows if r["decoding"] is not None]
    by_trial = [[c["r2"] for c in d["r2_by_trial"]] for d in decoded]
    _mean_band(axes[-1], [c["trial"] for c in decoded[0]["r2_by_trial"]], by_trial,
               f"linear read-out of {DECODED_WORDS[DECODED[name]]}", "C4")
    axes[-1].axhline(0, color="0.6", lw=1)
    axes[-1].set(xlabel="Trial within episode", ylabel="Cross-validated R²", ylim=(-0.1, 1.0),
                 title="Latent reward probability in the state")
    axes[-1].legend(fontsize=8, loc="lower right")
    fig.suptitle(LABELS[name], fontsize=10)
    path = OUT / f"{stem}-behaviour.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path.name)
    return written


def analyse_all(tasks, n_seeds: int, n_episodes: int, rho: float) -> None:
    """Analyse the trained seeds of each task trained at initial spectral radius ``rho``."""
    from episodes_experiment import stem as stem_of  # noqa: PLC0415 (beside this file)

    for name in tasks:
        stem = stem_of(name, rho)
        summary = json.loads((OUT / f"{stem}.json").read_text())["summary"]
        seeds = [s["seed"] for s in summary["seeds"]][:n_seeds]
        reached = [s["seed"] for s in summary["seeds"] if s["reached_criterion"] and s["seed"] in seeds]
        task = episodes.get_episode_task(name)
        per_seed = {seed: analyse_seed(name, *held_out(name, seed, n_episodes, rho)) for seed in seeds}
        pooled = pool(name, per_seed, reached)
        result = {"task": name, "rho": rho, "task_summary": task.summary, "held_out_episodes_per_seed": n_episodes,
                  "held_out_key": HELD_OUT_KEY, "policy": "sampling from softmax, training noise on (as validation)",
                  "criterion": summary["criterion"], "reached": reached,
                  "pooled_over_reached": pooled, "per_seed": {str(k): v for k, v in per_seed.items()}}
        result["figures"] = figures(name, per_seed, reached, stem)
        (OUT / f"{stem}-analyses.json").write_text(json.dumps(result, indent=1, default=float))
        brief = {k: (round(v["mean"], 3) if isinstance(v, dict) and "mean" in v else v) for k, v in pooled.items()
                 if k not in ("around_reversal", "stay") and not k.endswith("_kernel")}
        print(stem, json.dumps(brief, default=float), flush=True)
