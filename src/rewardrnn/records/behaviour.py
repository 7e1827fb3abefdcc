"""Behaviour records of the actor-critic on native tasks: a trained model run over the task's
condition grid gives a tidy behaviour table (one row per trial). Trials are simulated in batches,
so memory stays bounded."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from rewardrnn.learners.actor_critic import ActorCritic
from rewardrnn.networks import gru
from rewardrnn.tasks.engine import Outcomes, TaskEnv, Trials

#: Largest number of values (inputs or action probabilities, for whole trials at once) in one batch of
#: simulated trials: 200 MB in float32.
MAX_BATCH_VALUES = 50_000_000


def behaviour_table(learner: ActorCritic, policy: gru.Params, masks: gru.Masks, key: jax.Array,
                    trials_per_condition: int, batch_size: int = 5000, manipulation=None) -> pd.DataFrame:
    """Simulate ``trials_per_condition`` trials of every condition (cycled through the grid as in
    pyrl's analysis runs, spec §6.1) with the stochastic policy and noise on; with
    ``manipulation`` (:class:`rewardrnn.manipulation.applied.Applied`), the manipulated network
    on the very same trials, noise and action draws (a difference is the manipulation's).

    Columns: trial, condition, one column per condition variable and per derived variable (e.g.
    f1 and f2 of the working-memory task, n_A and n_B of the economic task), ``<epoch>_ms`` (the
    duration of every epoch, e.g. fixation_ms, stimulus_ms, delay_ms) and ``<epoch>_onset_ms``
    (its start, from trial start; PSTHs align on these), ``<event>_ms`` (time of
    each event from trial start, e.g. sure_onset_ms), response_onset_ms (start of the epoch in
    which choices count; reaction time = choice_time_ms - response_onset_ms in the reaction-time
    task), decision (bool), choice (action name or "" without a decision), correct (bool),
    choice_time_ms (time of the step that ended the trial, from trial start), reward (total,
    discounted), then the task's own columns (e.g. sure_chosen, chosen_juice)."""
    env = learner.env
    conditions = condition_cycle(env, trials_per_condition)
    n_total = len(conditions)
    # The inputs of a batch are drawn at once: keep them near 200 MB (float32) at any dt.
    per_trial = env.n_steps * max(env.n_inputs, env.n_actions)
    batch_size = max(1, min(batch_size, n_total, MAX_BATCH_VALUES // per_trial))

    # The weights are arguments, not constants baked into the program, so that every network of
    # a task compiles to the same program (one entry of the persistent compilation cache).
    @jax.jit
    def simulate(policy, masks, key, condition, manipulation):
        batch = learner.draw_batch(key, condition.shape[0], condition)
        actions, _ = learner.simulate(policy, masks, batch, manipulation=manipulation)  # noise drawn step by step
        return batch.trials, per_trial_outcomes(env.outcomes(batch.trials, actions))

    parts = []
    for i, start in enumerate(range(0, n_total, batch_size)):
        cond = conditions[start:start + batch_size]
        padded = np.resize(cond, batch_size)  # one compiled shape for every batch
        result = jax.tree_util.tree_map(np.asarray, simulate(policy, masks, jax.random.fold_in(key, i),
                                                             jnp.asarray(padded), manipulation))
        parts.append(jax.tree_util.tree_map(lambda a: a[:len(cond)], result))
    trials, outcomes = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *parts)
    return behaviour_columns(env, trials, outcomes)


def condition_cycle(env: TaskEnv, trials_per_condition: int) -> np.ndarray:
    """Condition indices of ``trials_per_condition`` passes through the grid, in order (pyrl's
    analysis runs cycle through the grid, spec §6.1)."""
    return np.tile(np.arange(env.n_conditions), trials_per_condition)


def per_trial_outcomes(out: Outcomes) -> dict[str, jax.Array]:
    """The per-trial part of :class:`Outcomes` (every array (n,)): end step, decision, correct,
    choice index and total (discounted) reward."""
    return {"end_step": out.end_step, "decision": out.decision, "correct": out.correct,
            "choice": out.choice, "reward": out.reward.sum(0)}


def behaviour_columns(env: TaskEnv, trials: Trials, outcomes: dict[str, np.ndarray]) -> pd.DataFrame:
    """The behaviour table of simulated trials (numpy arrays; ``outcomes`` from
    :func:`per_trial_outcomes`); columns as in :func:`behaviour_table`."""
    n_total = len(trials.condition)
    table = {"trial": np.arange(n_total), "condition": trials.condition}
    table.update({name: np.asarray(value) for name, value in env.variables(trials).items()})
    for j, name in enumerate(env.epoch_names):  # the first epoch too: its duration may vary
        table[f"{name}_ms"] = trials.epoch_end_ms[:, j] - trials.epoch_start_ms[:, j]
        table[f"{name}_onset_ms"] = trials.epoch_start_ms[:, j]
    for j, name in enumerate(env.event_names):
        table[f"{name}_ms"] = trials.event_ms[:, j]
    response = env.epoch_names.index(env.protocol.response_epoch)
    table["response_onset_ms"] = trials.epoch_start_ms[:, response]
    actions = np.asarray(env.protocol.actions + ("",))
    table.update(decision=outcomes["decision"], choice=actions[outcomes["choice"]], correct=outcomes["correct"],
                 choice_time_ms=outcomes["end_step"] * env.dt_ms, reward=outcomes["reward"])
    frame = pd.DataFrame(table)
    return env.protocol.annotate(frame) if env.protocol.annotate is not None else frame
