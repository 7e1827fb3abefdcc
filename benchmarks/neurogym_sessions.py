"""NeuroGym's DawTwoStep-v0 played as sessions of trials (``--episode-trials``) against the
one-trial actor-critic and Stable-Baselines3's RecurrentPPO. Writes
benchmarks/results/neurogym_sessions.jsonl (one line per learner and seed); docs/episodes.md
quotes the numbers.

Two measurements:

* ``budget``: the target of the issue "value-based learning across trials": at a budget of
  1,000 training trials on the bare environment (NeuroGym's defaults, as
  docs/benchmarks-neurogym.md), rewardrnn's actor-critic one trial at a time (20 trials per
  update, 50 updates, validations every 25) and over sessions of 5 trials (20 sessions per update,
  10 updates, validations every 5; the same three validations of 100 trials), 10 seeds each; SB3
  RecurrentPPO (``MlpLstmPolicy``, SB3's defaults, one environment), 5 seeds, trained for as many
  time steps as the budget's trials take under a random policy (benchmarks/neurogym_envs.py's
  rule). Each evaluated on 500 fresh trials: rewardrnn's on the records' trials (sessions as
  trained), SB3's on one stream of trials (its LSTM state carried, as it was trained).
* ``wrapped``: the same environment with NeuroGym's ``PassReward`` and ``PassAction`` wrappers
  (the network sees the last reward and action, as in Wang et al. 2018), sessions of 20 trials,
  trained to NeuroGym's performance >= 0.8 (at most 250 updates, 100,000 trials), 5 seeds;
  evaluated on 1,000 fresh trials.

Every evaluation reports NeuroGym's performance (mean of ``info["performance"]``: the first-stage
choice is the action whose common transition leads to the currently better second-stage state),
P(respond) and, because NeuroGym's environment starts every instance with the same better state
(``state1_high_reward = True``) and switches it with probability 0.025 per trial, the performance
split by the better state (``hi_state`` 0 / 1) and its mean: a network that only learned "action
1" scores high on ``hi_state`` 0 and low on 1; one that follows the rewards scores on both.

* ``wrapped-50``: the same with sessions of 50 trials (at most 200 updates, 200,000 trials).
* ``peer-wrapped``: SB3 RecurrentPPO on the wrapped environment for ``--peer-trials`` trials
  (default 50,000), ``--seeds`` / 5 seeds (it is slow on this CPU), evaluated on 1,000 trials.

Run: ``python benchmarks/neurogym_sessions.py [budget] [wrapped] [wrapped-50] [peer-wrapped] [--seeds N]``. Needs
the neurogym and sb3 extras.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

warnings.simplefilter("ignore")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/neurogym_envs.py
RESULTS = ROOT / "benchmarks" / "results" / "neurogym_sessions.jsonl"
ENV = "DawTwoStep-v0"
BUDGET_TRIALS = 1000


def _summary(table) -> dict:
    """Performance, P(respond) and the performance per better state of a behaviour table."""
    by_state = table.groupby("hi_state")["performance"].mean()
    return {"performance": round(float(table["performance"].mean()), 3),
            "p_respond": round(float(table["responded"].mean()), 3),
            "performance_by_hi_state": {int(k): round(float(v), 3) for k, v in by_state.items()},
            "trials_by_hi_state": {int(k): int(v) for k, v in table.groupby("hi_state").size().items()},
            "balanced_performance": round(float(by_state.mean()), 3), "eval_trials": len(table)}


def ours(label: str, seed: int, episode_trials: int, updates: int, checkfreq: int, eval_trials: int,
         wrappers: tuple[str, ...] = (), target: float = 2.0, n_validation: int = 100) -> dict:
    from rewardrnn import keys
    from rewardrnn.records import neurogym as records
    from rewardrnn.training import NeuroGymTrainConfig, train
    from rewardrnn.training.run_folder import RunFolder

    config = NeuroGymTrainConfig(task=f"ngym:{ENV}", seed=seed, n_gradient=20, max_updates=updates,
                                 checkfreq=checkfreq, n_validation=n_validation, target=target,
                                 episode_trials=episode_trials, wrappers=wrappers)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = train(config, Path(out) / "run", progress=False)
        train_s = time.perf_counter() - started
        folder = RunFolder(Path(out) / "run")
        table = records.record(folder.learner, folder.best_params(None)["policy"],
                               folder.learner_state(None).policy_masks, seed, eval_trials, None, keys.ENV_EVALUATION)
    s = result.summary["seeds"][0]
    row = {"learner": label, "seed": seed, "episode_trials": episode_trials, "wrappers": list(wrappers),
           "train_trials": int(s["updates"]) * 20 * episode_trials, "train_s": round(train_s, 1),
           "reached_criterion": bool(s["reached_criterion"]), "trials_to_criterion": s.get("trials_to_criterion"),
           **_summary(table)}
    if wrappers:
        row["performance_after_switch"] = _after_switch(table)
    return row


def _after_switch(table) -> dict[int, float]:
    """Performance on the k-th trial (1..10) after the better state switched within a session."""
    rows = []
    for _, session in table.groupby("episode"):
        state = session["hi_state"].to_numpy()
        since = np.full(len(state), -1)
        for t in range(1, len(state)):
            since[t] = 1 if state[t] != state[t - 1] else (since[t - 1] + 1 if since[t - 1] > 0 else -1)
        rows.append(np.stack([since, session["performance"].to_numpy()], 1))
    data = np.concatenate(rows)
    return {k: round(float(data[data[:, 0] == k, 1].mean()), 3) for k in range(1, 11) if (data[:, 0] == k).any()}


def _stream(env, policy, n_trials: int, rng) -> dict:
    """``n_trials`` trials of one environment stepped on (``policy(obs, state, start) -> (action,
    state)``): the behaviour table's columns the summary reads, and the steps taken."""
    import pandas as pd

    obs, _ = env.reset(seed=int(rng.integers(2 ** 31)))
    env.unwrapped.seed(int(rng.integers(2 ** 31)))
    rows, steps, state, start, responded = [], 0, None, True, False
    while len(rows) < n_trials:
        playing = env.unwrapped.trial
        action, state = policy(obs, state, start)
        obs, _, _, _, info = env.step(action)
        steps, start, responded = steps + 1, False, responded or action != 0
        if info.get("new_trial", False):
            rows.append({"hi_state": int(playing["hi_state"]), "performance": float(info.get("performance", 0.0)),
                         "responded": responded})
            responded = False
    return {"table": pd.DataFrame(rows), "steps": steps}


def peer(seed: int, eval_trials: int, wrappers: tuple[str, ...] = (), trials: int = BUDGET_TRIALS) -> dict:
    import gymnasium
    import neurogym  # noqa: F401
    import neurogym.wrappers
    from neurogym_envs import train_recurrent_ppo

    env = gymnasium.make(ENV)
    for name in wrappers:
        env = getattr(neurogym.wrappers, name)(env)
    rng = np.random.default_rng(seed)
    steps = _stream(env, lambda o, s, start: (env.action_space.sample(), s), 50, rng)["steps"]
    budget_steps = int(trials * steps / 50)
    act, train_s = train_recurrent_ppo(env, budget_steps, seed)
    table = _stream(env, act, eval_trials, rng)["table"]
    return {"learner": "SB3 RecurrentPPO", "seed": seed, "wrappers": list(wrappers), "train_trials": trials,
            "train_steps": budget_steps, "train_s": round(train_s, 1), **_summary(table)}


def random_policy(eval_trials: int) -> dict:
    import gymnasium
    import neurogym  # noqa: F401

    env = gymnasium.make(ENV)
    table = _stream(env, lambda o, s, start: (env.action_space.sample(), s), eval_trials, np.random.default_rng(1))
    return {"learner": "random policy", **_summary(table["table"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", default=["budget", "wrapped"], choices=["budget", "wrapped", "wrapped-50", "peer-wrapped"])
    parser.add_argument("--peer-trials", type=int, default=50_000, help="peer-wrapped: SB3's training trials")
    parser.add_argument("--seeds", type=int, default=10, help="rewardrnn seeds per setting (SB3: half)")
    args = parser.parse_args()
    rows = []
    if "budget" in args.parts:
        rows.append(random_policy(500))
        for seed in range(1, args.seeds + 1):
            rows.append(ours("rewardrnn actor-critic, one trial", seed, 1, BUDGET_TRIALS // 20, 25, 500))
            rows.append(ours("rewardrnn actor-critic, sessions of 5", seed, 5, BUDGET_TRIALS // 100, 5, 500))
            print(json.dumps(rows[-2]), json.dumps(rows[-1]), sep="\n", flush=True)
        for seed in range(max(1, args.seeds // 2)):
            rows.append(peer(seed, 500))
            print(json.dumps(rows[-1]), flush=True)
    if "wrapped" in args.parts:
        for seed in range(1, max(1, args.seeds // 2) + 1):
            rows.append(ours("rewardrnn actor-critic, sessions of 20, PassReward+PassAction", seed, 20, 250, 25,
                             1000, ("PassReward", "PassAction"), target=0.8, n_validation=500))
            print(json.dumps(rows[-1]), flush=True)
    if "wrapped-50" in args.parts:
        for seed in range(1, max(1, args.seeds // 2) + 1):
            rows.append(ours("rewardrnn actor-critic, sessions of 50, PassReward+PassAction", seed, 50, 200, 25,
                             1000, ("PassReward", "PassAction"), target=0.8, n_validation=500))
            print(json.dumps(rows[-1]), flush=True)
    if "peer-wrapped" in args.parts:
        for seed in range(max(1, args.seeds // 5)):
            rows.append(peer(seed, 1000, ("PassReward", "PassAction"), args.peer_trials))
            rows[-1]["learner"] = "SB3 RecurrentPPO, PassReward+PassAction"
            print(json.dumps(rows[-1]), flush=True)
    kept = [json.loads(line) for line in RESULTS.read_text().splitlines()] if RESULTS.is_file() else []
    done = {(r["learner"], r.get("seed")) for r in rows}
    kept = [r for r in kept if (r["learner"], r.get("seed")) not in done] + rows
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("".join(json.dumps(r) + "\n" for r in kept))
    for label in dict.fromkeys(r["learner"] for r in kept):
        group = [r for r in kept if r["learner"] == label]
        perf = [r["performance"] for r in group]
        balanced = [r["balanced_performance"] for r in group]
        print(f"{label}: n={len(group)} performance {np.mean(perf):.3f} ± {np.std(perf) / np.sqrt(len(perf)):.3f} "
              f"(min {min(perf):.3f}); balanced {np.mean(balanced):.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
