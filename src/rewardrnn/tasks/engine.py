"""The generic engine: compiles a :class:`~rewardrnn.tasks.protocol.Protocol` into a pure,
``jit``- and ``vmap``-friendly environment.

Time-index convention (pyrl, Song et al. 2017 spec §1.3), kept exactly:

* Step ``k`` in ``0 .. n_steps-1`` is time ``k*dt`` ms, with ``n_steps = int(tmax/dt) + 1``.
  Epoch ``e`` contains step ``k`` when ``start_e <= k*dt < end_e`` (half-open, in ms).
* At ``k = 0`` the policy acts from its initial state alone: no input has been applied yet.
* Action ``a_k`` is judged by the epochs of index ``k`` and earns ``R[k]``.
* The input shown after ``a_k`` (``U[k]``) belongs to index ``k+1``; it drives the state update
  ``x_k -> x_{k+1}``, so the state ``x_k`` has seen the input of its own index ``k``.
* At the last step ``k = n_steps-1`` the trial ends whatever the action, with reward
  ``rewards.terminal`` (pyrl's ``abort_on_last_t``); ``U[n_steps-1] = 0``.
* Rewards are multiplied by ``exp(-k*dt / reward_tau_ms)`` (absolute time from trial start).

Two views of the same rules are offered. The *trial-tensor* view used by the learners builds the
inputs of a whole batch of trials at once (the inputs do not depend on the actions) and judges
all actions of all steps in one vectorised pass: no Python, no scan, per time step. The
*functional step* view (``reset`` / ``step``, after gymnax) serves agents that act one step at a
time; a test checks that both agree.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rewardrnn.errors import ConfigError
from rewardrnn.resources import MAX_TRIAL_STEPS
from rewardrnn.tasks.protocol import Protocol

#: pyrl hard-codes tau = 100 ms in every task's input-noise formula (spec §5 and §8 quirk 10):
#: the per-step input noise std is sqrt(2 * 100 * sigma2_in / dt).
INPUT_NOISE_TAU_MS = 100.0


class Trials(NamedTuple):
    """A batch of sampled trials: condition index into the grid, epoch bounds and event times
    (ms from trial start)."""

    condition: jax.Array  # (n,) int32
    epoch_start_ms: jax.Array  # (n, n_epochs) float32
    epoch_end_ms: jax.Array  # (n, n_epochs) float32
    event_ms: jax.Array  # (n, n_events) float32


class Outcomes(NamedTuple):
    """What a batch of action sequences earned. Time-major arrays are (n_steps, n)."""

    reward: jax.Array  # (T, n) R[k] * M[k], discounted
    mask: jax.Array  # (T, n) 1 for every executed step, up to and including the last
    end_step: jax.Array  # (n,) index of the step that ended the trial
    decision: jax.Array  # (n,) a choice counted as a decision
    correct: jax.Array  # (n,) decision and correct
    choice: jax.Array  # (n,) action index of the decision, -1 without one


class EnvState(NamedTuple):
    """State of the functional step environment: one trial and the current step index."""

    trials: Trials
    step: jax.Array


class TaskEnv:
    """A protocol compiled for a time step ``dt_ms``. All methods are pure JAX functions."""

    def __init__(self, protocol: Protocol, dt_ms: float = 10.0):
        check_dt(protocol, dt_ms)
        self.protocol = protocol
        self.dt_ms = float(dt_ms)
        steps = protocol.tmax_ms / self.dt_ms + 1
        if steps > MAX_TRIAL_STEPS:
            raise ConfigError(f"tmax_ms={protocol.tmax_ms:g} at dt={self.dt_ms:g} ms is a trial of {steps:,.0f} steps; "
                              f"at most {MAX_TRIAL_STEPS:,} steps ({MAX_TRIAL_STEPS * self.dt_ms / 1000:g} s at this dt)")
        self.n_steps = int(steps)
        self.epoch_names = tuple(e.name for e in protocol.epochs)
        self.event_names = tuple(e.name for e in protocol.events)
        self.flag_names = self.epoch_names + self.event_names
        self.variable_names = tuple(protocol.conditions)
        grid = list(itertools.product(*protocol.conditions.values()))
        self.condition_grid = np.asarray(grid, np.float32).reshape(len(grid), len(self.variable_names))
        self.input_noise_std = math.sqrt(2 * INPUT_NOISE_TAU_MS * protocol.input_noise_var / self.dt_ms)
        self._noise_channels = np.zeros((len(self.flag_names), self.n_inputs), np.float32)
        for channel, epochs in protocol.noisy_inputs.items():
            for epoch in epochs:
                self._noise_channels[self.epoch_names.index(epoch), protocol.inputs.index(channel)] = 1.0

    # ---- sizes -------------------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return len(self.protocol.inputs)

    @property
    def n_actions(self) -> int:
        return len(self.protocol.actions)

    @property
    def n_conditions(self) -> int:
        return self.condition_grid.shape[0]

    # ---- trials ------------------------------------------------------------------------------
    def check(self) -> None:
        """Trace the task's own functions once on two trials (sampling, inputs, outcomes, performance)
        without running them; a task (from a user's file) whose functions raise is one line naming
        the error, before any run folder is written."""
        def one_batch(key):
            trials = self.sample_trials(key, 2)
            inputs = self.inputs(key, trials)
            out = self.outcomes(trials, jnp.zeros((self.n_steps, 2), jnp.int32))
            return inputs, self.performance(trials, out)

        try:
            jax.eval_shape(one_batch, jax.random.PRNGKey(0))
        except ConfigError:
            raise
        except Exception as error:  # the task author's code
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ConfigError(f"task {self.protocol.name!r} fails on a trial: {type(error).__name__}: {message}") from None

    def sample_trials(self, key: jax.Array, n: int, condition: jax.Array | None = None) -> Trials:
        """Draw ``n`` trials: conditions uniformly from the grid (pyrl draws them at random, not
        balanced, spec §8 quirk 11) unless ``condition`` (n,) is given, and epoch durations."""
        k_cond, k_dur, k_event = jax.random.split(key, 3)
        if condition is None:
            condition = jax.random.randint(k_cond, (n,), 0, self.n_conditions)
        condition = jnp.asarray(condition, jnp.int32)
        durations = []
        keys = jax.random.split(k_dur, len(self.protocol.epochs))
        for key_e, epoch in zip(keys, self.protocol.epochs):
            if epoch.duration is None:
                durations.append(jnp.full((n,), jnp.inf, jnp.float32))
            else:
                durations.append(epoch.duration.sample(key_e, (n,), self.dt_ms))
        ends = jnp.cumsum(jnp.stack(durations, axis=-1), axis=-1)
        ends = jnp.minimum(ends, self.protocol.tmax_ms)
        starts = jnp.concatenate([jnp.zeros((n, 1), jnp.float32), ends[:, :-1]], axis=-1)
        events = [ends[:, self.epoch_names.index(event.after)] + event.delay.sample(key_e, (n,), self.dt_ms)
                  for key_e, event in zip(jax.random.split(k_event, max(1, len(self.event_names))),
                                          self.protocol.events)]
        event_ms = jnp.stack(events, axis=-1) if events else jnp.zeros((n, 0), jnp.float32)
        return Trials(condition, starts, ends, event_ms)

    def variables(self, trials: Trials) -> dict[str, jax.Array]:
        """Variables of each trial, name -> (n,) array: the condition variables, then the
        protocol's derived variables."""
        values = jnp.asarray(self.condition_grid)[trials.condition]
        variables = {name: values[..., i] for i, name in enumerate(self.variable_names)}
        if self.protocol.derived_variables is not None:
            variables.update(self.protocol.derived_variables(variables))
        return variables

    def epoch_flags(self, trials: Trials, step: jax.Array) -> jax.Array:
        """Epoch membership of step indices, then event flags (true from the event on):
        ``step`` (T, 1) or scalar against trials (n,) gives a boolean array
        (..., n, n_epochs + n_events), in the order of ``flag_names``."""
        t_ms = jnp.asarray(step, jnp.float32)[..., None] * self.dt_ms
        in_epoch = (trials.epoch_start_ms <= t_ms) & (t_ms < trials.epoch_end_ms)
        return jnp.concatenate([in_epoch, jnp.broadcast_to(trials.event_ms <= t_ms, in_epoch.shape[:-1]
                                                           + trials.event_ms.shape[-1:])], axis=-1)

    def _flag_dict(self, flags: jax.Array) -> dict[str, jax.Array]:
        return {name: flags[..., i] for i, name in enumerate(self.flag_names)}

    # ---- inputs ------------------------------------------------------------------------------
    def mean_inputs(self, trials: Trials, index: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Noise-free inputs at time indices ``index`` (T, 1), shape (T, n, n_inputs), and where
        input noise is on (same shape, 0 or 1)."""
        flags = self.epoch_flags(trials, index)
        variables = self.variables(trials)
        values = self.protocol.mean_inputs(variables, self._flag_dict(flags))
        shape = flags.shape[:-1]
        channels = [jnp.broadcast_to(jnp.asarray(values.get(c, 0.0), jnp.float32), shape)
                    for c in self.protocol.inputs]
        mean = jnp.stack(channels, axis=-1)
        noise_on = jnp.minimum(flags.astype(jnp.float32) @ jnp.asarray(self._noise_channels), 1.0)
        if self.protocol.noise_gate is not None:
            gate = self.protocol.noise_gate(variables)
            noise_on = noise_on * jnp.stack([jnp.broadcast_to(jnp.asarray(gate.get(c, 1.0), jnp.float32), shape)
                                             for c in self.protocol.inputs], axis=-1)
        return mean, noise_on

    def inputs(self, key: jax.Array, trials: Trials) -> jax.Array:
        """Inputs of whole trials, time-major (n_steps, n, n_inputs): ``U[k]`` is the input of
        index ``k+1`` (see the module docstring), ``U[n_steps-1] = 0``."""
        index = jnp.arange(1, self.n_steps + 1)[:, None]
        return self._noisy(key, *self.mean_inputs(trials, index)).at[-1].set(0.0)

    def _noisy(self, key: jax.Array, mean: jax.Array, noise_on: jax.Array) -> jax.Array:
        """Inputs with white noise of std ``input_noise_std`` where ``noise_on``."""
        return mean + noise_on * self.input_noise_std * jax.random.normal(key, mean.shape, jnp.float32)

    # ---- rewards -----------------------------------------------------------------------------
    def judge(self, trials: Trials, step: jax.Array, action: jax.Array):
        """Judge ``action`` taken at step index ``step`` (broadcast against trials).
        Returns (reward before discount, trial ends, is_decision, correct)."""
        p = self.protocol
        flags = self._flag_dict(self.epoch_flags(trials, step))
        fixating = action == p.fixate_action
        in_response = flags[p.response_epoch]
        choice = p.outcome_of_choice(self.variables(trials), action)
        reward = jnp.where(fixating, 0.0, jnp.where(in_response, choice.reward, p.rewards.abort))
        is_last = step == self.n_steps - 1
        reward = jnp.where(is_last, p.rewards.terminal, reward).astype(jnp.float32)
        ends = (~fixating) | is_last
        decision = (~fixating) & in_response & choice.is_decision & ~is_last
        correct = decision & choice.correct
        return reward, ends, decision, correct

    def discount(self, step: jax.Array) -> jax.Array:
        """pyrl's absolute-time reward factor ``exp(-k*dt / reward_tau_ms)`` (1 if tau is inf)."""
        if math.isinf(self.protocol.reward_tau_ms):
            return jnp.ones_like(jnp.asarray(step, jnp.float32))
        return jnp.exp(-jnp.asarray(step, jnp.float32) * self.dt_ms / self.protocol.reward_tau_ms)

    def outcomes(self, trials: Trials, actions: jax.Array) -> Outcomes:
        """Judge whole action sequences ``actions`` (n_steps, n) in one vectorised pass."""
        steps = jnp.arange(self.n_steps)[:, None]
        reward, ends, decision, correct = self.judge(trials, steps, actions)
        end_step = jnp.argmax(ends, axis=0)  # the last step always ends the trial
        mask = steps <= end_step[None, :]
        reward = jnp.where(mask, reward * self.discount(steps), 0.0)
        pick = lambda a: jnp.take_along_axis(a, end_step[None, :], axis=0)[0]  # noqa: E731
        decision_end = pick(decision)
        return Outcomes(
            reward=reward,
            mask=mask.astype(jnp.float32),
            end_step=end_step.astype(jnp.int32),
            decision=decision_end,
            correct=pick(correct),
            choice=jnp.where(decision_end, pick(actions), -1).astype(jnp.int32),
        )

    def performance(self, trials: Trials, outcomes: Outcomes) -> dict[str, jax.Array]:
        """pyrl's Performance2AFC summary: mean total reward per trial, P(decision) and
        P(correct | decision) (0 when there is no decision); a protocol's ``performance`` may
        replace or add entries (e.g. the wager task's P(sure))."""
        n = outcomes.decision.shape[-1]
        n_decision = outcomes.decision.sum(-1)
        summary = {
            "reward": outcomes.reward.sum((-2, -1)) / n,
            "p_decision": n_decision / n,
            "p_correct": outcomes.correct.sum(-1) / jnp.maximum(n_decision, 1),
        }
        if self.protocol.criterion.min_p_correct_per_condition is not None:
            summary["p_correct_worst_condition"] = self.worst_condition(trials, outcomes)
        if self.protocol.performance is not None:
            summary.update(self.protocol.performance(self.variables(trials), outcomes))
        return summary

    def worst_condition(self, trials: Trials, outcomes: Outcomes) -> jax.Array:
        """The lowest P(correct | decision) over the grid's conditions (conditions without a
        decision in the batch are left out; 1 when no condition has one)."""
        onehot = jax.nn.one_hot(trials.condition, self.n_conditions, dtype=jnp.float32)  # (..., n, C)
        decided = jnp.einsum("...n,...nc->...c", outcomes.decision.astype(jnp.float32), onehot)
        correct = jnp.einsum("...n,...nc->...c", outcomes.correct.astype(jnp.float32), onehot)
        return jnp.min(jnp.where(decided > 0, correct / jnp.maximum(decided, 1), 1.0), axis=-1)

    # ---- functional step view ----------------------------------------------------------------
    def reset(self, key: jax.Array, condition: jax.Array | None = None) -> tuple[jax.Array, EnvState]:
        """Start one trial. The first observation is zeros: no input at ``k = 0``."""
        cond = None if condition is None else jnp.reshape(condition, (1,))
        trials = self.sample_trials(key, 1, cond)
        return jnp.zeros(self.n_inputs, jnp.float32), EnvState(trials, jnp.asarray(0, jnp.int32))

    def step(self, key: jax.Array, state: EnvState, action: jax.Array):
        """Take ``action`` at the current step ``k``. Returns ``(obs, state, reward, done, info)``
        where ``reward`` is ``R[k]`` (discounted) and ``obs`` is the input of index ``k+1``."""
        k = state.step
        reward, ends, decision, correct = self.judge(state.trials, k, jnp.reshape(action, (1,)))
        u = self._noisy(key, *self.mean_inputs(state.trials, jnp.reshape(k + 1, (1, 1))))
        obs = jnp.where(k + 1 < self.n_steps, u[0, 0], 0.0)
        info: dict[str, Any] = {"decision": decision[0], "correct": correct[0], "step": k}
        return obs, EnvState(state.trials, k + 1), reward[0] * self.discount(k), ends[0], info


def check_dt(protocol: Protocol, dt_ms: float) -> None:
    """Reject a time step that is not positive or that would leave an epoch without a step."""
    if not (isinstance(dt_ms, (int, float)) and math.isfinite(dt_ms) and dt_ms > 0):
        raise ConfigError(f"dt must be a positive number of ms, got {dt_ms!r}")
    timed = [e for e in protocol.epochs if e.duration is not None]
    shortest = min(timed, key=lambda e: e.duration.min_ms) if timed else None
    if shortest is not None and shortest.duration.min_ms < dt_ms:
        raise ConfigError(
            f"dt={dt_ms:g} ms is longer than the shortest {protocol.name} epoch "
            f"{shortest.name!r} ({shortest.duration.min_ms:g} ms): each epoch needs at least one "
            f"step. Use dt <= {shortest.duration.min_ms:g} ms.")
    if protocol.tmax_ms / dt_ms < 2:
        raise ConfigError(f"dt={dt_ms:g} ms leaves fewer than two steps in a {protocol.tmax_ms:g}-ms trial")
