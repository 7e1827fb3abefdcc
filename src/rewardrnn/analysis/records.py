"""Records: a trained model run over the task's condition grid gives a tidy behaviour table
(one row per trial). Trials are simulated in batches, so memory stays bounded."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from rewardrnn.learners.actor_critic import ActorCritic
from rewardrnn.networks import gru

#: Largest number of recurrent-noise values drawn for one batch of simulated trials.
MAX_NOISE_ELEMENTS = 50_000_000


def behaviour_table(learner: ActorCritic, policy: gru.Params, masks: gru.Masks, key: jax.Array,
                    trials_per_condition: int, batch_size: int = 2000) -> pd.DataFrame:
    """Simulate ``trials_per_condition`` trials of every condition (cycled through the grid as in
    pyrl's analysis runs, spec §6.1) with the stochastic policy and noise on.

    Columns: trial, condition, one column per condition variable, stimulus_ms (duration of the
    epoch after the first, e.g. the random-dots stimulus), response_onset_ms (start of the epoch in
    which choices count; reaction time = choice_time_ms - response_onset_ms in the reaction-time
    task), decision (bool), choice (action name or "" without a decision), correct (bool),
    choice_time_ms (time of the step that ended the trial, from trial start), reward (total,
    discounted)."""
    env = learner.env
    n_total = env.n_conditions * trials_per_condition
    # The recurrent noise of a batch is drawn at once: keep it near 200 MB (float32) at any dt.
    per_trial = env.n_steps * learner.policy_config.n_units
    batch_size = max(1, min(batch_size, n_total, MAX_NOISE_ELEMENTS // per_trial))
    conditions = np.tile(np.arange(env.n_conditions), trials_per_condition)

    @jax.jit
    def simulate(key, condition):
        k_trials, k_roll = jax.random.split(key)
        trials = env.sample_trials(k_trials, condition.shape[0], condition)
        actions = learner.act(policy, masks, trials, *learner.noise(k_roll, trials))  # no states kept
        out = env.outcomes(trials, actions)
        return trials, out.end_step, out.decision, out.correct, out.choice, out.reward.sum(0)

    parts = []
    for i, start in enumerate(range(0, n_total, batch_size)):
        cond = conditions[start:start + batch_size]
        padded = np.resize(cond, batch_size)  # one compiled shape for every batch
        result = jax.tree_util.tree_map(np.asarray, simulate(jax.random.fold_in(key, i), jnp.asarray(padded)))
        parts.append(jax.tree_util.tree_map(lambda a: a[:len(cond)], result))
    trials, end_step, decision, correct, choice, reward = (
        jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *parts))

    table = {"trial": np.arange(n_total), "condition": trials.condition}
    for j, name in enumerate(env.variable_names):
        table[name] = env.condition_grid[trials.condition, j]
    if len(env.epoch_names) > 1:
        table["stimulus_ms"] = trials.epoch_end_ms[:, 1] - trials.epoch_start_ms[:, 1]
    response = env.epoch_names.index(env.protocol.response_epoch)
    table["response_onset_ms"] = trials.epoch_start_ms[:, response]
    actions = np.asarray(learner.env.protocol.actions + ("",))
    table.update(decision=decision, choice=actions[choice], correct=correct,
                 choice_time_ms=end_step * env.dt_ms, reward=reward)
    return pd.DataFrame(table)
