"""The value network's predictions on the trials of a behaviour table: for ``rewardrnn perturb
--network value`` (:class:`rewardrnn.manipulation.targets.GatedValue`), the actor-critic's
decision network run intact and its value network intact or manipulated, on the same trials.

Columns: those of :func:`rewardrnn.records.behaviour.behaviour_columns`, then ``value_loss``
(the mean over the trial's executed steps of ``(V_k - G_k)^2``, ``G_k`` the return to go: the
value network's training loss, in squared reward units) and ``value_at_choice`` (``V`` at the
step that ended the trial, in reward units: the prediction made as the choice is made).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from rewardrnn.keys import MANIPULATION_NOISE_STREAM
from rewardrnn.learners.actor_critic import ActorCritic, returns_to_go
from rewardrnn.manipulation import gated
from rewardrnn.manipulation.applied import Applied
from rewardrnn.records.activity import MAX_BATCH_ELEMENTS
from rewardrnn.records.behaviour import behaviour_columns, condition_cycle, per_trial_outcomes


def value_table(learner: ActorCritic, params, key: jax.Array, trials_per_condition: int, batch_size: int = 500,
                manipulation=None) -> pd.DataFrame:
    """``trials_per_condition`` trials of every condition (cycled through the grid) with
    ``params = (policy, policy_masks, value, value_masks)``; the value network under
    ``manipulation`` (:class:`rewardrnn.manipulation.applied.Applied`, over the task's epochs)
    when given. The decision network, its noise and its action draws are the same either way,
    so the behaviour columns are the same trial for trial."""
    env = learner.env
    conditions = condition_cycle(env, trials_per_condition)
    n_total = len(conditions)
    per_trial = env.n_steps * (5 * learner.policy_config.n_units + env.n_inputs + env.n_actions)
    batch_size = max(1, min(batch_size, n_total, MAX_BATCH_ELEMENTS // per_trial))

    value = params[2]
    nothing = Applied.build(int(value["x0"].shape[-1]), int(value["W_in"].shape[0]), 1, len(env.flag_names))

    @jax.jit  # the weights are arguments: one compiled program for every network of a task
    def simulate(params, key, condition, manipulation):
        policy, masks, value, value_masks = params
        batch = learner.draw_batch(key, condition.shape[0], condition)
        actions, trace = learner.simulate(policy, masks, batch, record=True)
        out = env.outcomes(batch.trials, actions)
        states = trace.xs
        # intact: the same loop with nothing in it, so that an empty manipulation is the intact run
        # bit for bit (learner.values computes the drives of all steps at once: equal to ~1e-7)
        applied = manipulation if manipulation is not None else nothing
        on = applied.on(env.epoch_flags(batch.trials, jnp.arange(actions.shape[0])[:, None]))  # (T, B)
        extra = None
        if applied.noisy:
            extra = jax.vmap(lambda k: jax.random.fold_in(k, MANIPULATION_NOISE_STREAM))(batch.value_keys)
        v = gated.run_value(applied, on, value, value_masks, learner.value_inputs(states, actions),
                            batch.value_keys, learner.value_noise, learner.value_alpha, extra)
        g = returns_to_go(out.reward)
        loss = jnp.sum(out.mask * (v - g) ** 2, axis=0) / jnp.maximum(jnp.sum(out.mask, axis=0), 1.0)
        at_choice = v[out.end_step, jnp.arange(v.shape[1])]
        return batch.trials, per_trial_outcomes(out), loss, at_choice

    parts = []
    for i, start in enumerate(range(0, n_total, batch_size)):
        cond = conditions[start:start + batch_size]
        padded = np.resize(cond, batch_size)  # one compiled shape for every batch
        result = jax.tree_util.tree_map(np.asarray, simulate(params, jax.random.fold_in(key, i), jnp.asarray(padded),
                                                             manipulation))
        parts.append(jax.tree_util.tree_map(lambda a, k=len(cond): a[:k], result))
    trials, outcomes, loss, at_choice = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *parts)
    table = behaviour_columns(env, trials, outcomes)
    table["value_loss"] = loss
    table["value_at_choice"] = at_choice
    return table
