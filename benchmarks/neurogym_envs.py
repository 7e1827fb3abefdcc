"""Every native NeuroGym environment, trained on a fixed budget of trials by rewardrnn's
actor-critic and by Stable-Baselines3's RecurrentPPO (sb3-contrib, the peer NeuroGym users run),
then evaluated on fresh trials: NeuroGym's own performance (mean of ``info["performance"]`` at
each trial's end), stochastic policies for both. Writes benchmarks/results/neurogym_envs.jsonl
(one line per environment and learner) and docs/benchmarks-neurogym.md.

Budget: ``--trials`` training trials (default 1,000). rewardrnn: the paper's network (N = 100,
value network N = 100), 20 trials per update, Adam 0.004 (spec §3.6, §4.6), no early stop; the
parameters evaluated are the best of the validations (every 25 updates, 100 trials). RecurrentPPO:
``MlpLstmPolicy`` with SB3's defaults (LSTM 256, n_steps 128, one environment), trained for as many
time steps as the budget's trials take on average under a random policy; the final parameters are
evaluated. Evaluation: 500 trials each. Needs the neurogym and sb3 extras.

Run: ``python benchmarks/neurogym_envs.py [--trials N] [--envs ID ...] [--learners random ours peer]``
(learner sets in separate processes write separate parts; each run merges the parts into the
results file and the page).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

warnings.simplefilter("ignore")
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "neurogym_envs.jsonl"
#: One results file per learner set, so that learners can run in separate processes side by side.
PARTS = ROOT / "benchmarks" / "results"
EVAL_TRIALS = 500
#: Arguments an environment cannot be made without.
REQUIRED_KWARGS = {"AnnubesEnv-v0": {"session": {"v": 0.5, "a": 0.5}, "catch_prob": 0.5}}


def ours(env_id: str, trials: int, out: Path) -> dict:
    from rewardrnn import verbs
    from rewardrnn.errors import ConfigError
    from rewardrnn.training import NeuroGymTrainConfig, train

    config = NeuroGymTrainConfig(task=f"ngym:{env_id}", n_gradient=20, max_updates=max(1, trials // 20),
                                 checkfreq=25, n_validation=100, target=2.0, env_kwargs=REQUIRED_KWARGS.get(env_id, {}))
    started = time.perf_counter()
    try:
        result = train(config, out / env_id, overwrite=True, progress=False)
    except ConfigError as error:
        return {"env": env_id, "learner": "rewardrnn actor-critic", "error": str(error)}
    train_s = time.perf_counter() - started
    table = verbs.evaluate(out / env_id, trials_per_condition=max(1, EVAL_TRIALS // result.config.build_learner().env.n_actions))
    return {"env": env_id, "learner": "rewardrnn actor-critic", "train_trials": int(result.summary["seeds"][0]["updates"]) * 20,
            "train_s": round(train_s, 1), "performance": round(float(table["performance"].mean()), 3),
            "eval_trials": len(table)}


def _run_trials(env, policy, n_trials: int, rng) -> tuple[float, int]:
    """Mean performance over ``n_trials`` trials and the steps they took (``policy(obs, state,
    start) -> (action, state)``)."""
    obs, _ = env.reset(seed=int(rng.integers(2 ** 31)))
    env.unwrapped.seed(int(rng.integers(2 ** 31)))
    perf, steps, state, start = [], 0, None, True
    while len(perf) < n_trials:
        action, state = policy(obs, state, start)
        obs, _, _, _, info = env.step(action)
        steps, start = steps + 1, False
        if info.get("new_trial", False):
            perf.append(float(info.get("performance", 0.0)))
    return float(np.mean(perf)), steps


def train_recurrent_ppo(env, budget_steps: int, seed: int):
    """SB3 RecurrentPPO (``MlpLstmPolicy``, SB3's defaults, one environment, one CPU thread)
    trained on ``env`` for ``budget_steps`` steps: (``act(obs, state, start) -> (action, state)``,
    its stochastic policy, and the training seconds)."""
    import torch
    from sb3_contrib import RecurrentPPO

    torch.set_num_threads(1)  # one core each: no oversubscription of this 2-core machine
    model = RecurrentPPO("MlpLstmPolicy", env, seed=seed, device="cpu", verbose=0)
    started = time.perf_counter()
    model.learn(total_timesteps=budget_steps)
    train_s = time.perf_counter() - started

    def act(obs, state, start):
        action, state = model.predict(obs, state=state, episode_start=np.array([start]), deterministic=False)
        return int(action), state

    return act, train_s


def peer(env_id: str, trials: int) -> dict:
    import gymnasium
    import neurogym  # noqa: F401

    env = gymnasium.make(env_id, **REQUIRED_KWARGS.get(env_id, {}))
    if not hasattr(env.action_space, "n"):
        return {"env": env_id, "learner": "SB3 RecurrentPPO", "error": f"continuous actions {env.action_space}"}
    rng = np.random.default_rng(0)
    _, steps = _run_trials(env, lambda o, s, start: (env.action_space.sample(), s), 50, rng)
    budget_steps = int(trials * steps / 50)
    act, train_s = train_recurrent_ppo(env, budget_steps, 0)
    perf, _ = _run_trials(env, act, EVAL_TRIALS, rng)
    return {"env": env_id, "learner": "SB3 RecurrentPPO", "train_steps": budget_steps, "train_s": round(train_s, 1),
            "performance": round(perf, 3), "eval_trials": EVAL_TRIALS}


def chance(env_id: str) -> dict:
    import gymnasium
    import neurogym  # noqa: F401

    env = gymnasium.make(env_id, **REQUIRED_KWARGS.get(env_id, {}))
    if not hasattr(env.action_space, "n"):
        return {"env": env_id, "learner": "random policy", "error": "continuous actions"}
    perf, _ = _run_trials(env, lambda o, s, start: (env.action_space.sample(), s), EVAL_TRIALS, np.random.default_rng(1))
    return {"env": env_id, "learner": "random policy", "performance": round(perf, 3), "eval_trials": EVAL_TRIALS}


def write_page(rows: list[dict], trials: int) -> None:
    by_env: dict[str, dict] = {}
    for row in rows:
        by_env.setdefault(row["env"], {})[row["learner"]] = row
    fmt = lambda r: (f"— ({r['error'][:60]})" if "error" in r else f"{r['performance']:.2f}") if r else ""  # noqa: E731
    secs = lambda r: f"{r['train_s']:.0f}" if r and "train_s" in r else ""  # noqa: E731
    lines = ["| environment | random policy | rewardrnn actor-critic | s | SB3 RecurrentPPO | s |", "|---|---|---|---|---|---|"]
    for env_id in sorted(by_env):
        r = by_env[env_id]
        ac, ppo, rnd = r.get("rewardrnn actor-critic"), r.get("SB3 RecurrentPPO"), r.get("random policy")
        lines.append(f"| {env_id} | {fmt(rnd)} | {fmt(ac)} | {secs(ac)} | {fmt(ppo)} | {secs(ppo)} |")
    done = [r for r in by_env.values() if "performance" in r.get("rewardrnn actor-critic", {})
            and "performance" in r.get("SB3 RecurrentPPO", {})]
    better = sum(r["rewardrnn actor-critic"]["performance"] > r["SB3 RecurrentPPO"]["performance"] + 0.02 for r in done)
    worse = sum(r["rewardrnn actor-critic"]["performance"] < r["SB3 RecurrentPPO"]["performance"] - 0.02 for r in done)
    page = ROOT / "docs" / "benchmarks-neurogym.md"
    text = page.read_text() if page.is_file() else ""
    marker = "<!-- table -->"
    table = (f"{marker}\nBudget {trials:,} training trials per environment and learner; NeuroGym performance of "
             f"{EVAL_TRIALS} fresh trials (stochastic policies); s = training seconds on this 2-core CPU.\n\n"
             + "\n".join(lines) + f"\n\nOf {len(done)} environments both learners trained, the actor-critic was ahead "
             f"(by > 0.02) on {better}, behind on {worse}, level on {len(done) - better - worse}.\n{marker}")
    if marker in text:
        head, _, rest = text.partition(marker)
        _, _, tail = rest.partition(marker)
        text = head + table + tail
    else:
        text = text + "\n" + table + "\n"
    page.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--envs", nargs="*")
    parser.add_argument("--learners", nargs="*", default=["random", "ours", "peer"])
    parser.add_argument("--tag", default="", help="suffix of this process's results part (to split environments)")
    args = parser.parse_args()
    from rewardrnn.tasks.neurogym import native_env_ids

    ids = args.envs or native_env_ids()
    part = PARTS / f"neurogym_envs.{'-'.join(sorted(args.learners))}{args.tag}.jsonl"
    rows = [json.loads(line) for line in part.read_text().splitlines()] if part.is_file() else []
    out = Path("/tmp/rewardrnn-neurogym-bench")
    for env_id in ids:
        for learner, fn in (("random", lambda: chance(env_id)), ("ours", lambda: ours(env_id, args.trials, out)),
                            ("peer", lambda: peer(env_id, args.trials))):
            if learner not in args.learners:
                continue
            try:
                row = fn()
            except Exception as error:  # a peer that crashes on an environment is a result too
                row = {"env": env_id, "learner": {"random": "random policy", "ours": "rewardrnn actor-critic",
                                                  "peer": "SB3 RecurrentPPO"}[learner],
                       "error": f"{type(error).__name__}: {error}"[:200]}
            row["budget_trials"] = args.trials
            print(json.dumps(row), flush=True)
            rows = [r for r in rows if not (r["env"] == row["env"] and r["learner"] == row["learner"])] + [row]
            part.write_text("".join(json.dumps(r) + "\n" for r in rows))
    merged = {(r["env"], r["learner"]): r for p in sorted(PARTS.glob("neurogym_envs.*.jsonl"))
              for r in map(json.loads, p.read_text().splitlines())}
    RESULTS.write_text("".join(json.dumps(r) + "\n" for r in merged.values()))
    write_page(list(merged.values()), args.trials)


if __name__ == "__main__":
    sys.exit(main())
