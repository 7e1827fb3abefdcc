"""SB3 RecurrentPPO beside rewardrnn's actor-critic on the same task and the same budget of
trials: learning curves in trials and in wall seconds (a newcomer's first comparison).

Tasks: ``rdm-fixed`` (rewardrnn's own task through its Gymnasium env ``rewardrnn/RdmFixed-v0``:
one episode per trial, dt = 10 ms) and a NeuroGym environment (``ngym:<id>``, NeuroGym's own env,
trials back to back in one episode, its dt). The budget (``--trials``) is counted in trials for
both learners.

- rewardrnn: the paper's actor-critic (N = 100, value network N = 100, the task's trials per
  update, Adam 0.004; spec §3.6, §4.6), validated every ``--every`` trials on 200 trials, no early
  stop. The
  curve is metrics.csv: P(correct | decision) and P(decision) (rdm-fixed), NeuroGym's performance
  (NeuroGym tasks), at each validation, with the wall seconds so far.
- RecurrentPPO (sb3-contrib): ``MlpLstmPolicy`` with SB3's defaults (LSTM 256, n_steps 128, one
  environment, torch on one thread), trained in pieces of ``--every`` trials (counted by a callback
  at each trial's end); after each piece, 200 fresh trials with the stochastic policy give the
  same numbers. Its wall seconds exclude the evaluations.

Writes ``benchmarks/results/sb3_side_by_side.json`` and the table in docs/interop.md is written by
hand from it. Needs the gym, neurogym and sb3 extras. Run:
``python benchmarks/sb3_side_by_side.py --task rdm-fixed --trials 6000 --every 1000``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

warnings.simplefilter("ignore")
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "sb3_side_by_side.json"
EVAL_TRIALS = 200


def ours(task: str, trials: int, every: int) -> dict:
    import pandas as pd

    from rewardrnn.training import NeuroGymTrainConfig, TrainConfig, train

    kind = NeuroGymTrainConfig if task.startswith("ngym:") else TrainConfig
    extra = {"target": 2.0} if task.startswith("ngym:") else {}
    per_update = kind(task=task, **extra).resolved().build_learner().trials_per_update  # rdm-fixed: 10 (spec §5.9)
    config = kind(task=task, max_updates=max(1, trials // per_update), checkfreq=max(1, every // per_update),
                  n_validation=EVAL_TRIALS, patience=0, seed=1, **extra)
    out = Path(tempfile.mkdtemp(prefix="sb3-side-")) / "ours"
    started = time.perf_counter()
    result = train(config, out, progress=False)
    wall = time.perf_counter() - started
    table = pd.read_csv(out / "metrics.csv")
    keys = [k for k in ("p_decision", "p_correct", "performance", "reward") if k in table]
    curve = [{"trials": int(r["trials"]), "wall_s": round(float(r["wall_s"]), 1), **{k: round(float(r[k]), 3) for k in keys}}
             for _, r in table.iterrows()]
    return {"learner": "rewardrnn actor-critic", "wall_s": round(wall, 1),
            "reached_criterion_at": result.summary["seeds"][0]["trials_to_criterion"], "curve": curve}


def _env(task: str):
    import gymnasium

    if task.startswith("ngym:"):
        import neurogym  # noqa: F401

        return gymnasium.make(task[len("ngym:"):])
    import rewardrnn.envs  # noqa: F401

    return gymnasium.make(rewardrnn.envs.ENV_IDS[task])


def _evaluate(model, task: str, n: int, seed: int) -> dict:
    """P(decision), P(correct | decision) (rewardrnn's env) or NeuroGym's performance, over ``n``
    fresh trials of the stochastic policy."""
    env = _env(task)
    obs, _ = env.reset(seed=seed)
    if hasattr(env.unwrapped, "seed") and task.startswith("ngym:"):
        env.unwrapped.seed(seed)
    state, start, rows = None, True, []
    while len(rows) < n:
        action, state = model.predict(obs, state=state, episode_start=np.array([start]), deterministic=False)
        obs, _, terminated, truncated, info = env.step(int(action))
        start = False
        if info.get("new_trial", False) or terminated or truncated:
            rows.append(info)
            if terminated or truncated:
                obs, _ = env.reset()
                start = True
    if task.startswith("ngym:"):
        return {"performance": round(float(np.mean([r.get("performance", 0.0) for r in rows])), 3)}
    decided = np.array([r["decision"] for r in rows])
    correct = np.array([r["correct"] for r in rows])
    return {"p_decision": round(float(decided.mean()), 3),
            "p_correct": round(float(correct[decided].mean()), 3) if decided.any() else 0.0}


def peer(task: str, trials: int, every: int) -> dict:
    import torch
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.callbacks import BaseCallback

    torch.set_num_threads(1)

    class StopAfterTrials(BaseCallback):
        """Stops learning after ``target`` more trials (a trial ends at new_trial or episode end)."""

        def __init__(self):
            super().__init__()
            self.trials, self.target = 0, 0

        def _on_step(self) -> bool:
            for info, done in zip(self.locals["infos"], self.locals["dones"]):
                self.trials += int(bool(info.get("new_trial", False)) or bool(done))
            return self.trials < self.target

    model = RecurrentPPO("MlpLstmPolicy", _env(task), seed=0, device="cpu", verbose=0)
    counter, curve, wall = StopAfterTrials(), [], 0.0
    curve.append({"trials": 0, "wall_s": 0.0, **_evaluate(model, task, EVAL_TRIALS, 10_000)})
    while counter.trials < trials:
        counter.target = min(trials, counter.trials + every)
        started = time.perf_counter()
        model.learn(total_timesteps=10 ** 9, callback=counter, reset_num_timesteps=False)
        wall += time.perf_counter() - started
        curve.append({"trials": counter.trials, "wall_s": round(wall, 1),
                      **_evaluate(model, task, EVAL_TRIALS, 10_000 + counter.trials)})
        print(curve[-1], flush=True)
    return {"learner": "SB3 RecurrentPPO", "wall_s": round(wall, 1), "timesteps": int(model.num_timesteps),
            "curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="rdm-fixed")
    parser.add_argument("--trials", type=int, default=6000)
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--learners", nargs="+", default=["ours", "peer"])
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    entry = results.setdefault(args.task, {"budget_trials": args.trials, "every": args.every})
    entry.update(budget_trials=args.trials, every=args.every)
    for name in args.learners:
        run = ours if name == "ours" else peer
        entry[name] = run(args.task, args.trials, args.every)
        RESULTS.write_text(json.dumps(results, indent=1))
        print(name, json.dumps(entry[name])[:400], flush=True)


if __name__ == "__main__":
    main()
