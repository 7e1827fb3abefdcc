"""Miconi's rule acting in Song et al.'s tasks: a leaky rate network with perturbations that
fixates, holds, and chooses among discrete actions, rewarded by the task's reward table.

Neither paper says how a rate network trained by perturbations acts in a task with discrete
actions. The design here (beyond both papers; tested in ``tests/test_perturbation_native.py``):

* **Network**: Miconi's leaky network (:mod:`rewardrnn.networks.rate`; tanh units, g = 1.5,
  dense J, fixed W_in ~ U(-1, 1), three clamped bias units), stepping at the task's time step
  (default Song's dt = 10 ms, so the task's epochs, trial length and reward table are exactly
  Song's) with tau = 100 ms (Song's decision network; Miconi's 30 ms is ``tau_ms=30``).
* **Read-out**: one *choice unit* per non-fixate action (units 0 .. K-1, no direct input, as
  Miconi's output neuron). At step k the network takes the choice whose unit has the highest
  rate if that rate exceeds the threshold theta (default 0.3), and fixates otherwise: fixation is
  the default action, a choice is a unit crossing its threshold, as a saccade is a burst crossing
  a threshold. The choice units start *silent*: their rows of J are zero, so a fresh network's
  choices come from kicks alone (a kick crosses theta with probability about 0.2) and the rule
  wires the units from there. With random rows, as Miconi's output neuron, a fresh network's
  chaotic choice units cross the threshold at the same early step of every trial for many
  seeds: every trial aborts, every reward is -1, and the rule, which learns from differences
  between trials, never starts (measured in docs/unified-model.md). The action reads the state x_k, Song's convention (the engine's time index): the
  state has seen the input of its own index k.
* **Trial**: the inputs of the whole trial come from the engine (they do not depend on the
  actions), the network runs every step with its kicks, the actions are read out and judged by
  the engine in one pass (:meth:`TaskEnv.outcomes`): aborts, timeouts and choices earn the
  reward table's values, as in Song's training. The trial's error is minus its total reward.
* **Update**: Miconi's, with the trace restricted to the steps whose kicks could change the
  outcome: the kick of step t changes x_{t+1} and later actions, so steps t < end step count.
* **Kicks**: Miconi's rate, p = 0.003 per ms per neuron (per step ``1 - (1 - p)^(dt/1 ms)``),
  uniform in (-A, A) with A = 5 at dt = 10 ms and tau = 100 ms, so that one kick moves x by
  about (dt / tau) A = 0.5, Miconi's 16 / 30 = 0.53.
* **Trial types** (the ``trial-type`` baseline): the task's conditions (e.g. the 10 direction x
  coherence pairs of rdm-fixed), cycled as Miconi's trial types (``trial_order="random"``: drawn
  uniformly, pyrl's order).
* **Criterion**: Song's, on ``n_validation`` fresh trials with the kicks on (the network's
  exploration, as Song's validation samples the stochastic policy) and no learning.

eta = 0.1 and max_dw = 3e-4 are Miconi's DNMS values (code form); the other constants are the
rule's (:class:`PerturbationConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rewardrnn import keys
from rewardrnn.errors import ConfigError
from rewardrnn.learners.base import SongCriterion
from rewardrnn.learners.perturbation import (
    PerturbationConfig,
    PerturbationLearner,
    PerturbationState,
)
from rewardrnn.manipulation import rate as manipulated
from rewardrnn.networks import rate
from rewardrnn.tasks.engine import Outcomes, TaskEnv, Trials


@dataclass(frozen=True)
class NativeRuleDefaults:
    """The rule's task constants for Song's tasks (module docstring), read by
    :meth:`PerturbationConfig.resolved` as a Miconi task's are."""

    eta: float = 0.1
    max_dw: float = 3e-4
    kick_amplitude: float = 5.0


NATIVE_DEFAULTS = NativeRuleDefaults()
#: Default time step (ms; Song's), time constant (ms; Song's) and choice threshold (a rate).
DEFAULT_DT_MS, DEFAULT_TAU_MS, DEFAULT_THRESHOLD = 10.0, 100.0, 0.3


class NativeTrial(NamedTuple):
    """What one trial produced: its condition, its error (minus its total reward), the actions
    (T,), the baseline's mean and the value network's loss."""

    trial_type: jax.Array
    error: jax.Array
    actions: jax.Array
    baseline: jax.Array
    value_loss: jax.Array


def network_for(env: TaskEnv, n_units: int, tau_ms: float) -> rate.RateConfig:
    """Miconi's network sized for ``env``: the choice units first, then the three bias units."""
    k = env.n_actions - 1
    if n_units < k + 4:
        raise ConfigError(f"N must be at least {k + 4} for {env.protocol.name} ({k} choice units, 3 bias "
                          f"units, one more), got {n_units}")
    return rate.RateConfig(n_inputs=env.n_inputs, n_units=n_units, tau_ms=tau_ms, output_unit=0,
                           bias_units=(k, k + 1, k + 2))


class NativePerturbationLearner(SongCriterion, PerturbationLearner):
    """Miconi's rule on a native task (:class:`TaskEnv`); module docstring. One update is one
    trial; :meth:`evaluate` runs ``n`` validation trials for Song's criterion."""

    trace_metric = "error"
    performance_names = ("reward", "p_decision", "p_correct")
    learner_name = "perturbation"  # the records' ``learner`` attribute

    def __init__(self, env: TaskEnv, config: PerturbationConfig = PerturbationConfig(),
                 network: rate.RateConfig | None = None, threshold: float = DEFAULT_THRESHOLD):
        if config.dt_ms != env.dt_ms:
            raise ConfigError(f"the rule's dt ({config.dt_ms:g} ms) differs from the task's ({env.dt_ms:g} ms)")
        if not (isinstance(threshold, (int, float)) and -1.0 < threshold < 1.0):
            raise ConfigError(f"the choice threshold is a tanh rate in (-1, 1), got {threshold!r}")
        self.env = env
        self.task = None
        self.config = config.resolved(NATIVE_DEFAULTS)
        self.network = network or network_for(env, 200, DEFAULT_TAU_MS)
        if self.network.n_inputs != env.n_inputs or self.network.kind != "tanh":
            raise ConfigError(f"the network must be a tanh network with {env.n_inputs} inputs for {env.protocol.name}")
        self.threshold = float(threshold)
        fixate = env.protocol.fixate_action
        self.choices = np.asarray([a for a in range(env.n_actions) if a != fixate], np.int32)
        self.n_choices = len(self.choices)
        self.n_steps, self.n_types, self.error_threshold = env.n_steps, env.n_conditions, -np.inf
        self.setup_rule(env.n_inputs)

    def init(self, key: jax.Array) -> PerturbationState:
        """Miconi's initial state, with the choice units' direct inputs and recurrent rows zeroed."""
        state = super().init(key)
        params = {"J": state.params["J"].at[:self.n_choices].set(0.0),
                  "W_in": state.params["W_in"].at[:self.n_choices].set(0.0)}
        return state._replace(params=params)

    # ---- the learner interface ---------------------------------------------------------------
    def evaluate(self, state: PerturbationState, key: jax.Array, n: int) -> dict[str, jax.Array]:
        """Song's performance numbers on ``n`` fresh trials (kicks on, no learning)."""
        trials, outcomes, _, _, _ = self.simulate(state.params, key, n)
        return self.env.performance(trials, outcomes)

    def describe(self) -> str:
        c = self.config
        return (f"Miconi's rule acting in {self.env.protocol.name} (S = {c.nonlinearity}, {c.update} update, "
                f"{c.reward_baseline} baseline, {self.network.n_units} units, dt {c.dt_ms:g} ms, "
                f"tau {self.network.tau_ms:g} ms, threshold {self.threshold:g})")

    # ---- acting ------------------------------------------------------------------------------
    def actions(self, rates: jax.Array) -> jax.Array:
        """The action of every step from the rates (..., N) of the state it reads: the choice
        whose unit's rate is highest if it exceeds the threshold, fixation otherwise."""
        choice_rates = rates[..., :self.n_choices]
        best = jnp.argmax(choice_rates, axis=-1)
        crossed = jnp.max(choice_rates, axis=-1) > self.threshold
        return jnp.where(crossed, jnp.asarray(self.choices)[best], self.env.protocol.fixate_action).astype(jnp.int32)

    def choose(self, rates: jax.Array, key: jax.Array) -> jax.Array:
        """The actions (n,) of one step of :meth:`simulate` from the rates (n, N) they read; ``key``
        is the step's own (this read-out is deterministic: :meth:`actions`; a learner whose
        network samples its actions draws them from it)."""
        return self.actions(rates)

    def act(self, params: rate.Params, xbar: jax.Array, key: jax.Array, trials: Trials):
        """Run one trial of ``trials`` (a batch of 1) with its kicks. Returns (inputs (T, n_in),
        kicks, xbar after, rates after each step, rates read by each step's action r_prev,
        fluctuations dx, actions (T,))."""
        k_in, k_x0, k_kick = jax.random.split(key, 3)
        inputs = self.env.inputs(k_in, trials)[:, 0]  # U[k] drives x_k -> x_{k+1}
        kicks = self.kicks(k_kick)
        x0 = rate.initial_state(k_x0, self.network)
        xbar, r, r_prev, dx = self.run(params, xbar, x0, inputs, kicks)
        return inputs, kicks, xbar, r, r_prev, dx, self.actions(r_prev)

    def trial(self, state: PerturbationState, learn: bool = True) -> tuple[PerturbationState, NativeTrial]:
        """One trial of condition ``trial mod n_conditions`` (or a random one), then the update."""
        key, k_trial, k_run, k_type = jax.random.split(state.key, 4)
        condition = state.trial % self.n_types
        if self.config.trial_order == "random":
            condition = jax.random.randint(k_type, (), 0, self.n_types)
        trials = self.env.sample_trials(k_trial, 1, condition[None])
        inputs, kicks, xbar, r, r_prev, dx, actions = self.act(state.params, state.xbar, k_run, trials)
        outcomes = self.env.outcomes(trials, actions[:, None])
        error = -jnp.sum(outcomes.reward)
        trace_mask = (jnp.arange(self.n_steps) < outcomes.end_step[0]).astype(jnp.float32)
        read = r if self.config.value_input == "rates" else inputs
        new, baseline, value_loss = self.reinforce(state, key, condition, read, kicks, xbar, r_prev, dx, error,
                                                   trace_mask, learn)
        return new, NativeTrial(condition, error, actions, baseline, value_loss)

    def simulate(self, params: rate.Params, key: jax.Array, n: int, condition: jax.Array | None = None,
                 keep_rates: bool = False, manipulation=None
                 ) -> tuple[Trials, Outcomes, jax.Array | None, jax.Array, jax.Array]:
        """``n`` trials at once (kicks on, no learning; conditions drawn uniformly unless given),
        stepped together with each step's kicks drawn as it comes, so memory is that of one
        step (not of whole trials). Returns the trials, their outcomes, the rates (T, n, N) each
        step's action read (``keep_rates``; None otherwise), the inputs (T, n, n_in) and the
        actions (T, n) (:meth:`choose`).
        ``manipulation``: a :class:`rewardrnn.manipulation.applied.Applied` acting on the network
        (:mod:`rewardrnn.manipulation.rate`) on the very same trials, inputs, starts and kicks
        (its extra noise from a stream of its own)."""
        k_trials, k_in, k_x0, k_kick = jax.random.split(key, 4)
        trials = self.env.sample_trials(k_trials, n, condition)
        inputs = self.env.inputs(k_in, trials)  # U[k] drives x_k -> x_{k+1}
        shape = (n, self.network.n_units)
        if manipulation is not None:
            cut = manipulated.cut_params(manipulation, params)
            k_extra = jax.random.fold_in(k_kick, keys.MANIPULATION_NOISE_STREAM)

        def body(x, step):
            t, u = step
            k_step = jax.random.fold_in(k_kick, t)
            kick = self.kick_values(k_step, shape, t >= self.config.kick_start)
            r_now = rate.rates(x, self.network)
            if manipulation is None:
                x_next = rate.step(params, self.network, x, u, kick, self.a)
            else:
                on = manipulation.on(self.env.epoch_flags(trials, t))
                r_now = manipulated.read_rates(manipulation, on, r_now)
                q_extra = jax.random.normal(jax.random.fold_in(k_extra, t), shape) if manipulation.noisy else None
                cut_drive = None if cut is None else rate.external_drive(cut, u, kick)
                x_next = manipulated.step(manipulation, on, params, cut, self.network, x,
                                          rate.external_drive(params, u, kick), cut_drive, q_extra, self.a)
            return x_next, (self.choose(r_now, k_step), r_now if keep_rates else None)

        x0 = rate.initial_state(k_x0, self.network, (n,))
        _, (actions, r_prev) = jax.lax.scan(body, x0, (jnp.arange(self.n_steps), inputs))
        return trials, self.env.outcomes(trials, actions), r_prev, inputs, actions
