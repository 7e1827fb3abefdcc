"""What limits Miconi's rule acting in rdm-fixed (docs/unified-model.md): train one network with
the rule until it answers, then, on fresh trials with the kicks on and no learning, measure

* P(decision) and P(correct | decision);
* whether the motion direction is in the rates: a ridge-regression read-out of the direction
  from the rates of the step that chose (trained on half the trials, tested on the other half);
* how much of each choice the kicks make: the same trials rerun with the kicks of the last
  ``--window`` ms before the choice removed (all else equal), and the fraction whose choice
  changes;
* how much of the trace can matter for the choice: the share of the choice units' |S(dx)| summed
  over the trial that falls in that window.

Usage: python benchmarks/native_perturbation_limits.py [--trials 3000] [--seed 1] [--window 100]
Writes benchmarks/results/native_perturbation_limits.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from rewardrnn.networks import rate
from rewardrnn.training.perturbation_config import PerturbationTrainConfig

RESULTS = Path(__file__).parent / "results" / "native_perturbation_limits.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window", type=float, default=100.0, help="ms before the choice")
    parser.add_argument("--n", type=int, default=2000, help="test trials")
    parser.add_argument("--baseline", default="trial-type")
    args = parser.parse_args()

    learner = PerturbationTrainConfig(task="rdm-fixed", reward_baseline=args.baseline).build_learner()
    env = learner.env
    state = learner.init(jax.random.PRNGKey(args.seed))
    start = time.time()
    state, errors = jax.jit(lambda s: learner.train(s, args.trials))(state)
    train_s = time.time() - start

    key = jax.random.PRNGKey(1000 + args.seed)
    trials = env.sample_trials(key, args.n)
    keys = jax.random.split(jax.random.fold_in(key, 1), args.n)
    window = int(round(args.window / env.dt_ms))

    def one(trial, k, cut_before_end: bool, end_step):
        one_trial = jax.tree_util.tree_map(lambda a: a[None], trial)
        k_in, k_x0, k_kick = jax.random.split(k, 3)
        inputs = env.inputs(k_in, one_trial)[:, 0]
        kicks = learner.kicks(k_kick)
        if cut_before_end:  # remove the kicks of the last `window` steps before the first run's choice
            t = jnp.arange(learner.n_steps)[:, None]
            kicks = jnp.where((t >= end_step - window) & (t < end_step), 0.0, kicks)
        x0 = rate.initial_state(k_x0, learner.network)
        _, _, r_prev, dx = learner.run(state.params, jnp.zeros(learner.network.n_units), x0, inputs, kicks)
        return learner.actions(r_prev), r_prev, dx

    run = jax.jit(jax.vmap(one, in_axes=(0, 0, None, 0), out_axes=(1, 1, 1)), static_argnums=2)
    actions, r_prev, dx = run(trials, keys, False, jnp.zeros(args.n, jnp.int32))
    out = env.outcomes(trials, actions)
    end = np.asarray(out.end_step)
    decided = np.asarray(out.decision)
    perf = {k: float(v) for k, v in env.performance(trials, out).items()}

    # direction from the rates of the choosing step
    direction = np.asarray(env.variables(trials)["direction"]) > 0
    rates_at_choice = np.asarray(r_prev)[end, np.arange(args.n)]
    idx = np.flatnonzero(decided)
    half = len(idx) // 2
    x = np.c_[rates_at_choice, np.ones(args.n)]
    target = direction * 2.0 - 1
    w = np.linalg.solve(x[idx[:half]].T @ x[idx[:half]] + np.eye(x.shape[1]), x[idx[:half]].T @ target[idx[:half]])
    decode = float(np.mean((x[idx[half:]] @ w > 0) == direction[idx[half:]]))

    # the same trials without the kicks of the last window before the choice
    actions_cut, _, _ = run(trials, keys, True, jnp.asarray(end))
    out_cut = env.outcomes(trials, actions_cut)
    choice, choice_cut = np.asarray(out.choice), np.asarray(out_cut.choice)
    changed = float(np.mean(choice[idx] != choice_cut[idx]))
    correct_cut = float(np.mean(np.asarray(out_cut.correct)[idx]))

    # share of the choice units' |S(dx)| in the window
    s = np.abs(np.asarray(dx)[:, :, :learner.n_choices]) ** 3  # (T, n, K), cube
    t = np.arange(learner.n_steps)[:, None]
    before = (t >= 3) & (t < end[None, :])
    in_window = before & (t >= end[None, :] - window)
    share = float(np.sum(s * in_window[..., None]) / np.sum(s * before[..., None]))

    result = {"task": "rdm-fixed", "seed": args.seed, "training_trials": args.trials, "train_s": round(train_s, 1),
              "reward_baseline": args.baseline, "mean_training_error_last_500": float(np.mean(np.asarray(errors)[-500:])),
              "validation": perf, "test_trials": args.n, "window_ms": args.window,
              "direction_decoded_from_rates_at_choice": decode,
              "choices_changed_without_last_window_kicks": changed,
              "p_correct_without_last_window_kicks": correct_cut,
              "choice_unit_trace_share_in_window": share,
              "median_choice_time_ms": float(np.median(end[idx]) * env.dt_ms)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
