"""The analysis half of benchmarks/episodes_experiment.py: each trained seed's best network plays
held-out episodes (a fixed key, apart from training's and validation's), and the library's
analyses of episode runs (rewardrnn.analysis.episodes_suite, the same as ``rewardrnn analyze``)
read them; the numbers (JSON) and one figure per task (PNG) go to benchmarks/results/episodes/.

Each seed is analysed alone; the pooled rows average the seeds that reached the criterion (mean
over seeds, with the standard error across seeds).
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rewardrnn.analysis import episodes as analysis
from rewardrnn.analysis import episodes_suite
from rewardrnn.figures import episodes as figs
from rewardrnn.records import episodes as records

OUT = Path(__file__).resolve().parent / "results" / "episodes"
#: The held-out episodes' key (training used PRNGKey(seed) and its splits).
HELD_OUT_KEY = 2018
TITLES = {"bandit": "Two-armed bandit (p_L ~ U(0,1), p_R = 1 - p_L)",
          "reversal": "Reversal (p = 0.8 / 0.2, reversal at a random trial 30-70)",
          "two-step": "Two-step task (common 0.8, reward 0.9 / 0.1)"}


def analyse_seed(name: str, seed: int, n_episodes: int, rho: float) -> dict:
    from episodes_experiment import load_best  # noqa: PLC0415 (beside this file)

    task, learner, best = load_best(name, seed, rho)
    masks = learner.init(jax.random.PRNGKey(seed)).policy_masks
    played = records.play(learner, best["policy"], masks, jax.random.PRNGKey(HELD_OUT_KEY), n_episodes)
    return episodes_suite.numbers(name, played.table, played.decision_states, played.performance)


def _pooled(values) -> dict[str, float]:
    v = np.asarray(list(values), np.float64)
    return {"mean": float(v.mean()), "sem_across_seeds": float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1
            else float("nan"), "min": float(v.min()), "max": float(v.max()), "n_seeds": len(v)}


def pool(per_seed: dict[int, dict], reached: list[int]) -> dict:
    """Averages over the seeds that reached the criterion."""
    rows = [per_seed[s] for s in reached]
    if not rows:
        return {"seeds": []}
    out = {"seeds": reached,
           "criterion_on_held_out": _pooled(r["performance"]["p_better"] for r in rows),
           "mean_reward_per_trial": _pooled(r["performance"]["reward"] for r in rows),
           "win_stay": _pooled(r["win_stay_lose_shift"]["win_stay"]["p"] for r in rows),
           "lose_shift": _pooled(r["win_stay_lose_shift"]["lose_shift"]["p"] for r in rows),
           "p_better_trials_1_10": _pooled(r["p_better_by_block"]["trials_1_10"] for r in rows),
           "p_better_trials_11_end": _pooled(r["p_better_by_block"]["trials_11_end"] for r in rows),
           "runaway_episodes_per_seed": {str(s): r["runaway_episodes"]["n"] for s, r in zip(reached, rows)}}
    decoded = [r["latent_decoding"] for r in rows if r["latent_decoding"] is not None]
    out["decoding_r2"] = _pooled(d["r2"] for d in decoded)
    for first, last in ((1, 10), (11, 30), (81, 100)):
        out[f"decoding_r2_trials_{first}_{last}"] = _pooled(
            np.mean([c["r2"] for c in d["r2_by_trial"] if first <= c["trial"] <= last]) for d in decoded)
    if "rewarded_choice" in rows[0].get("history_kernels", {}):
        for kind in ("rewarded_choice", "unrewarded_choice"):
            out[f"{kind}_kernel"] = [_pooled(r["history_kernels"][kind][j]["coef"] for r in rows)
                                     for j in range(episodes_suite.LAGS)]
        out["kernels_decay"] = [s for s, r in zip(reached, rows) if r["history_kernels"]["rewarded_choice_decays"]]
    if "around_reversal" in rows[0]:
        around = {c["relative_trial"]: [] for c in rows[0]["around_reversal"]}
        for r in rows:
            for c in r["around_reversal"]:
                around[c["relative_trial"]].append(c["p"])
        out["around_reversal"] = {str(k): _pooled(v) for k, v in around.items()}
        # on the mean over seeds of P(initially better)
        mean = pd.DataFrame({"relative_trial": list(around), "p": [np.mean(v) for v in around.values()]})
        out["trials_to_follow_reversal"] = analysis.trials_to_follow_reversal(mean)
    if "two_step_stay" in rows[0]:
        stay = [r["two_step_stay"] for r in rows]
        out["stay"] = {cell: _pooled(s["stay"][cell]["p"] for s in stay) for cell in stay[0]["stay"]}
        for index in ("model_free_index", "model_based_index"):
            out[index] = _pooled(s[index]["value"] for s in stay)
        out["interaction_coef"] = _pooled(s["regression"]["reward_x_transition"]["coef"] for s in stay)
        out["seeds_with_positive_interaction_at_2_sem"] = [
            seed for seed, s in zip(reached, stay)
            if s["regression"]["reward_x_transition"]["coef"] > 2 * s["regression"]["reward_x_transition"]["sem"]]
    return out


def analyse_all(tasks, n_seeds: int, n_episodes: int, rho: float) -> None:
    """Analyse the trained seeds of each task trained at initial spectral radius ``rho``."""
    from episodes_experiment import stem as stem_of  # noqa: PLC0415 (beside this file)

    for name in tasks:
        stem = stem_of(name, rho)
        summary = json.loads((OUT / f"{stem}.json").read_text())["summary"]
        seeds = [s["seed"] for s in summary["seeds"]][:n_seeds]
        reached = [s["seed"] for s in summary["seeds"] if s["reached_criterion"] and s["seed"] in seeds]
        per_seed = {seed: analyse_seed(name, seed, n_episodes, rho) for seed in seeds}
        pooled = pool(per_seed, reached)
        written = []
        if reached:
            fig = figs.behaviour_panels([per_seed[s] for s in reached], TITLES[name])
            fig.savefig(OUT / f"{stem}-behaviour.png", dpi=110)
            plt.close(fig)
            written = [f"{stem}-behaviour.png"]
        result = {"task": name, "rho": rho, "held_out_episodes_per_seed": n_episodes, "held_out_key": HELD_OUT_KEY,
                  "policy": "sampling from softmax, training noise on (as validation)",
                  "criterion": summary["criterion"], "reached": reached, "figures": written,
                  "pooled_over_reached": pooled, "per_seed": {str(k): v for k, v in per_seed.items()}}
        (OUT / f"{stem}-analyses.json").write_text(json.dumps(result, indent=1, default=float))
        brief = {k: (round(v["mean"], 3) if isinstance(v, dict) and "mean" in v else v) for k, v in pooled.items()
                 if k not in ("around_reversal", "stay") and not k.endswith("_kernel")}
        print(stem, json.dumps(brief, default=float), flush=True)
