"""Records of a rate network trained by Miconi's rule acting in a native task
(:mod:`rewardrnn.learners.perturbation_native`): trials over the condition grid with the kicks
on and no learning, as a behaviour table (the actor-critic's columns,
:func:`rewardrnn.records.behaviour.behaviour_columns`) and an activity dataset in the
actor-critic's layout (:mod:`rewardrnn.records.activity`), so the same analyses run on it:

* ``rates`` (trial, time, unit): tanh rates of the state each step's action read;
* ``inputs`` (trial, time, input): the input received by step k (0 at k = 0);
* ``action_taken`` (trial, time), ``step_reward`` (trial, time), ``valid`` (trial, time);
* ``value`` (trial, time): the reward the rule expected, minus its baseline: the value
  network's prediction (``value`` baseline), the condition's running average (``trial-type``),
  the running average (``running``) or 0 (``none``).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import xarray as xr

from rewardrnn.learners.perturbation import PerturbationState
from rewardrnn.learners.perturbation_native import NativePerturbationLearner
from rewardrnn.records import write_dataset
from rewardrnn.records.behaviour import (
    behaviour_columns,
    condition_cycle,
    per_trial_outcomes,
)


def record(learner: NativePerturbationLearner, state: PerturbationState, key: jax.Array,
           trials_per_condition: int, path: Path | str | None, batch_size: int = 1000,
           manipulation=None) -> pd.DataFrame:
    """Simulate ``trials_per_condition`` trials of every condition with the parameters of
    ``state`` (its baselines give ``value``), write the activity dataset to ``path`` (nothing
    when None: a behaviour-only run) and return the behaviour table, row for row. With
    ``manipulation`` (:class:`rewardrnn.manipulation.applied.Applied`), the manipulated network
    on the very same trials and kicks."""
    env = learner.env
    conditions = condition_cycle(env, trials_per_condition)
    n_total = len(conditions)
    batch_size = max(1, min(batch_size, n_total))

    @jax.jit  # the weights are arguments: one compiled program for every network of a task
    def simulate(params, key, condition, manipulation):
        return learner.simulate(params, key, condition.shape[0], condition, keep_rates=path is not None,
                                manipulation=manipulation)

    parts, activity = [], []
    for i, start in enumerate(range(0, n_total, batch_size)):
        cond = conditions[start:start + batch_size]
        padded = np.resize(cond, batch_size)
        trials, outcomes, r_prev, inputs, actions = simulate(state.params, jax.random.fold_in(key, i),
                                                            jnp.asarray(padded), manipulation)
        keep = len(cond)
        parts.append(jax.tree_util.tree_map(lambda a, k=keep: np.asarray(a)[:k], (trials, per_trial_outcomes(outcomes))))
        if path is not None:
            activity.append(_activity(learner, state, jax.random.fold_in(key, 10_000 + i), trials, outcomes,
                                      r_prev, inputs, actions, keep))
    trials, out = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *parts)
    table = behaviour_columns(env, trials, out)
    if path is None:
        return table
    data = {name: np.concatenate([a[name] for a in activity]) for name in activity[0]}
    coords = {"trial": np.arange(n_total), "time": ("time", np.arange(env.n_steps) * env.dt_ms, {"units": "ms"}),
              "unit": np.arange(learner.network.n_units), "input": list(env.protocol.inputs)}
    coords.update({c: ("trial", table[c].to_numpy()) for c in table.columns})
    ds = xr.Dataset({"rates": (("trial", "time", "unit"), data["rates"]),
                     "inputs": (("trial", "time", "input"), data["inputs"]),
                     "value": (("trial", "time"), data["value"]),
                     "step_reward": (("trial", "time"), data["step_reward"]),
                     "action_taken": (("trial", "time"), data["action_taken"]),
                     "valid": (("trial", "time"), data["valid"])},
                    coords=coords, attrs={"task": env.protocol.name, "dt_ms": env.dt_ms,
                                          "learner": learner.learner_name, "reward_baseline": learner.config.reward_baseline})
    write_dataset(ds, path)
    return table


def _activity(learner: NativePerturbationLearner, state: PerturbationState, key: jax.Array, trials, outcomes,
              r_prev: jax.Array, inputs: jax.Array, actions: jax.Array, keep: int) -> dict[str, np.ndarray]:
    """One batch's activity arrays, trial-major, NaN (or -1) after each trial's end."""
    valid = np.asarray(outcomes.mask).T[:keep] > 0  # (n, T)
    rates = np.swapaxes(np.asarray(r_prev), 0, 1)[:keep]
    inputs = np.asarray(inputs)
    shown = np.swapaxes(np.concatenate([np.zeros_like(inputs[:1]), inputs[:-1]]), 0, 1)[:keep]
    after = np.concatenate([np.asarray(r_prev)[1:], np.asarray(r_prev)[-1:]])  # rates after each step, as trained
    read = after if learner.config.value_input == "rates" else inputs  # (T, n, ...) what the value network read
    value = _expected_reward(learner, state, key, trials, np.swapaxes(read, 0, 1)[:keep], keep)
    actions = np.swapaxes(np.asarray(actions), 0, 1)[:keep]
    nan_after = lambda a: np.where(valid.reshape(valid.shape + (1,) * (a.ndim - 2)), a, np.nan).astype(np.float32)  # noqa: E731
    return {"rates": nan_after(rates), "inputs": nan_after(shown), "value": nan_after(value),
            "step_reward": nan_after(np.asarray(outcomes.reward).T[:keep]),
            "action_taken": np.where(valid, actions, -1).astype(np.int8), "valid": valid.astype(np.int8)}


def _expected_reward(learner, state, key, trials, read, keep) -> np.ndarray:
    """(n, T) minus the rule's baseline of every step (module docstring); ``read`` (n, T, ...)
    is what the value network reads."""
    kind = learner.config.reward_baseline
    n, steps = keep, learner.n_steps
    if kind == "trial-type":
        per_trial = -np.asarray(state.baselines)[np.asarray(trials.condition)[:keep]]
        return np.repeat(per_trial[:, None], steps, axis=1)
    if kind in ("running", "none"):
        level = -float(np.asarray(state.baselines)[0]) if kind == "running" else 0.0
        return np.full((n, steps), level)
    vb = learner.value_baseline
    predict = jax.vmap(lambda x, k: vb.per_step(vb.predictions(state.value.params, state.value.masks, x, k)))
    return -np.asarray(predict(jnp.asarray(read), jax.random.split(key, n)))
