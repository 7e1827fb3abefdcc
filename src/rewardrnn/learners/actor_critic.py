"""Song, Yang & Wang 2017's actor-critic: REINFORCE on a policy (decision) network with a value
network as the baseline (spec §4).

One update (spec §4.1-4.6, all numbers there):

* draw ``n_gradient`` trials (conditions at random), their inputs ``U`` and the recurrent noise;
* run the policy network over the whole trial, sample an action at every step from
  ``softmax(W_out r_k + b_out)``, judge the actions (trial ends, rewards ``R``, mask ``M``);
* run the value network on ``[r_{k-1}, onehot(a_{k-1})]`` (policy rates with no gradient into the
  policy); ``V_k`` predicts the return-to-go ``G_k = sum_{k' >= k} R[k'] M[k']`` (no discount);
* value loss ``sum M (V - G)^2 / sum M``; policy loss ``-(1/B) sum_b sum_k M log pi(a_k) (G_k - V_k)``
  with ``V`` held constant (the value predictions of the *pre-update* value parameters);
* each network has its own Adam (lr 0.004, beta 0.9/0.999, eps 1e-8) after clipping its gradient
  to global norm 1. An update whose gradient norm is not finite (or > 1e10) is skipped and counted.

Two passes per batch, as pyrl (which simulates trials one by one, then re-simulates them with the
stored noise to differentiate): ``act`` runs the policy step by step, sampling actions, and stops
as soon as every trial of the batch has ended; the differentiable pass then re-runs the same
inputs and noise over just those steps (the policy gets no action feedback, so the trajectory is
the same) and so does the value network. Trials end long before tmax once the network has
learned to decide, so most of the 276 steps are never computed.

Deviations, as named options or documented choices:

* ``pyrl_t0_return``: pyrl's code uses ``R[0]`` instead of ``G_0`` in the t = 0 term (spec §4.4
  quirk). Off here means the paper's equations; the trainer's default turns it on, because with
  G_0 the gradient is exactly zero at the paper's initialisation (see ``TrainConfig``).
* pyrl's NaN guard zeroes the gradient but still updates Adam's moments; here the update is
  skipped entirely (issue 2) and counted in ``skipped``.
* pyrl folds Adam's bias correction into the step size, so its eps is ``eps * sqrt(1-beta2^t)``
  relative to optax's; with eps = 1e-8 the difference is negligible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from rewardrnn.learners.base import SongCriterion
from rewardrnn.networks import gru, linear
from rewardrnn.tasks.engine import Outcomes, TaskEnv, Trials

#: pyrl's guard: a gradient norm above this (or not finite) zeroes the update (spec §4.6).
MAX_FINITE_GRAD_NORM = 1e10


@dataclass(frozen=True)
class ActorCriticConfig:
    """Learning constants (spec §4.6): learning rates, clipping norm, trials per update."""

    n_gradient: int
    lr: float = 0.004
    baseline_lr: float = 0.004
    max_grad_norm: float = 1.0
    pyrl_t0_return: bool = False
    entropy_bonus: float = 0.0  # beta of -beta * H(pi) in the policy loss (not in the paper; 0: off)


class LearnerState(NamedTuple):
    """Everything one seed's training needs; a pytree (stackable over seeds)."""

    policy: gru.Params
    value: gru.Params
    policy_masks: gru.Masks
    value_masks: gru.Masks
    policy_opt: optax.OptState
    value_opt: optax.OptState
    key: jax.Array
    updates: jax.Array  # int32: parameter updates done
    skipped: jax.Array  # int32: updates skipped for a non-finite gradient


class Rollout(NamedTuple):
    """A simulated batch: trials, inputs U (T, B, n_in), policy states x (T, B, N), logits
    (T, B, n_actions), actions (T, B) and their outcomes."""

    trials: Trials
    inputs: jax.Array
    states: jax.Array
    logits: jax.Array
    actions: jax.Array
    outcomes: Outcomes


def _adam(lr: float, max_norm: float) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(max_norm), optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8))


def returns_to_go(rewards: jax.Array) -> jax.Array:
    """G_k = sum_{k' >= k} R[k'] over the time axis 0 (rewards already masked)."""
    return jnp.flip(jnp.cumsum(jnp.flip(rewards, 0), 0), 0)


class ActorCritic(SongCriterion):
    """The learner (:class:`rewardrnn.learners.base.Learner`): ``init(key) -> LearnerState`` and
    ``update(state) -> (state, metrics)``, both pure; ``act`` samples the actions of given
    parameters on a batch of trials (validation, records), ``rollout`` adds the differentiable
    states. The stop criterion is the task's (spec §4.7); the best parameters are those of the
    best validation reward."""

    host_stepped = False
    trace_metric = None
    performance_names = ("reward", "p_decision", "p_correct")

    def __init__(self, env: TaskEnv, policy_config: gru.GRUConfig, value_config: gru.GRUConfig | linear.LinearConfig,
                 config: ActorCriticConfig, seed_axis: str | None = None):
        """``seed_axis``: name of the ``vmap`` axis over seeds, if the caller maps over seeds.
        The step loops then run until the last trial of *every* seed has ended, so that their
        counter stays a plain integer (a per-seed counter would turn every write into a scatter)."""
        self.seed_axis = seed_axis
        self.env = env
        self.policy_config = policy_config
        self.value_config = value_config
        self.config = config
        # The value network: gated (default) or pyrl's linear readout (spec §3.4); same interface.
        self.value_net = linear if isinstance(value_config, linear.LinearConfig) else gru
        self.alpha = gru.alpha(policy_config, env.dt_ms)
        self.value_alpha = gru.alpha(value_config, env.dt_ms)
        self.policy_noise = gru.noise_std(policy_config, env.dt_ms)
        self.value_noise = gru.noise_std(value_config, env.dt_ms)
        self.policy_optimizer = _adam(config.lr, config.max_grad_norm)
        self.value_optimizer = _adam(config.baseline_lr, config.max_grad_norm)

    # ---- the learner interface ---------------------------------------------------------------
    @property
    def trials_per_update(self) -> int:
        return self.config.n_gradient

    def with_seed_axis(self, name: str) -> ActorCritic:
        """The same learner for a caller that ``vmap``s over seeds along the axis ``name``."""
        return ActorCritic(self.env, self.policy_config, self.value_config, self.config, name)

    def evaluate(self, state: LearnerState, key: jax.Array, n: int) -> dict[str, jax.Array]:
        """Validation performance of the current policy on ``n`` fresh trials (:meth:`validate`)."""
        return self.validate(state.policy, state.policy_masks, key, n)

    def best_params(self, state: LearnerState) -> dict[str, gru.Params]:
        return {"policy": state.policy, "value": state.value}

    def updates(self, state: LearnerState) -> jax.Array:
        return state.updates

    def describe(self) -> str:
        return f"the actor-critic (Song et al. 2017) on {self.env.protocol.name}, dt {self.env.dt_ms:g} ms"

    # ---- state -------------------------------------------------------------------------------
    def init(self, key: jax.Array) -> LearnerState:
        """Initial state of one seed (not jittable: spectral radii are computed in numpy)."""
        k_policy, k_value, k_train = jax.random.split(key, 3)
        policy, policy_masks = gru.init(k_policy, self.policy_config)
        value, value_masks = self.value_net.init(k_value, self.value_config)
        return LearnerState(
            policy=policy, value=value, policy_masks=policy_masks, value_masks=value_masks,
            policy_opt=self.policy_optimizer.init(policy), value_opt=self.value_optimizer.init(value),
            key=k_train, updates=jnp.asarray(0, jnp.int32), skipped=jnp.asarray(0, jnp.int32))

    # ---- simulation --------------------------------------------------------------------------
    def noise(self, key: jax.Array, trials: Trials) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Everything random in a batch of trials, drawn at once: inputs U (T, B, n_in) with their
        noise, recurrent noise (T, B, N) and the Gumbel noise (T, B, n_actions) that samples the
        actions (``argmax(logits + gumbel)`` is a draw from ``softmax(logits)``)."""
        k_in, k_noise, k_act = jax.random.split(key, 3)
        inputs = self.env.inputs(k_in, trials)
        shape = inputs.shape[:2]
        noise = self.policy_noise * jax.random.normal(k_noise, shape + (self.policy_config.n_units,), jnp.float32)
        return inputs, noise, jax.random.gumbel(k_act, shape + (self.env.n_actions,), jnp.float32)

    def act(self, policy: gru.Params, masks: gru.Masks, trials: Trials, inputs: jax.Array,
            noise: jax.Array, gumbel: jax.Array) -> jax.Array:
        """Run the policy step by step, sampling an action at each step, until every trial has
        ended (no step is computed after that). Returns the actions (T, B), FIXATE after a
        trial's end."""
        return self._act_loop(policy, masks, trials, inputs, lambda k: (noise[k], gumbel[k]))

    def act_drawing_noise(self, policy: gru.Params, masks: gru.Masks, trials: Trials, key: jax.Array) -> jax.Array:
        """:meth:`act` with the recurrent and action noise of step k drawn at step k (from
        ``fold_in(key, k)``) rather than for the whole trial up front: the same distribution,
        another random stream, and no noise drawn for the steps after every trial has ended.
        For behaviour-only simulation (``evaluate``), where nothing is differentiated."""
        k_in, k_steps = jax.random.split(key)
        inputs = self.env.inputs(k_in, trials)
        shape = (inputs.shape[1],)

        def draw(k):
            k_noise, k_act = jax.random.split(jax.random.fold_in(k_steps, k))
            return (self.policy_noise * jax.random.normal(k_noise, shape + (self.policy_config.n_units,), jnp.float32),
                    jax.random.gumbel(k_act, shape + (self.env.n_actions,), jnp.float32))

        return self._act_loop(policy, masks, trials, inputs, draw)

    def _act_loop(self, policy, masks, trials, inputs, draw) -> jax.Array:
        step = gru.stepper(policy, masks, self.alpha)
        fixate = self.env.protocol.fixate_action

        def body(carry):
            k, x, alive, actions = carry
            noise_k, gumbel_k = draw(k)
            action = jnp.argmax(gru.readout(policy, x) + gumbel_k, axis=-1).astype(jnp.int32)
            ends = self.env.judge(trials, k, action)[1]
            actions = actions.at[k].set(jnp.where(alive, action, fixate))
            return k + 1, step(x, inputs[k], noise_k), alive & ~ends, actions

        batch = inputs.shape[1]
        x0 = jnp.broadcast_to(policy["x0"], (batch,) + policy["x0"].shape)
        carry = (jnp.asarray(0), x0, jnp.ones(batch, bool), jnp.full(inputs.shape[:2], fixate, jnp.int32))
        return jax.lax.while_loop(lambda c: self._across_seeds(c[2].any()), body, carry)[3]

    def _across_seeds(self, value: jax.Array) -> jax.Array:
        """The maximum of ``value`` over the seeds mapped along ``seed_axis`` (itself if none)."""
        if self.seed_axis is None:
            return value
        return jax.lax.pmax(value.astype(jnp.int32), self.seed_axis).astype(value.dtype)

    def rollout(self, policy: gru.Params, masks: gru.Masks, key: jax.Array, trials: Trials) -> Rollout:
        """Run the policy on ``trials`` with input and recurrent noise, sampling its actions. The
        states are differentiable and computed only up to the step at which the last trial of
        the batch ended (zero after: those steps are masked anyway)."""
        inputs, noise, gumbel = self.noise(key, trials)
        actions = self.act(jax.lax.stop_gradient(policy), masks, trials, inputs, noise, gumbel)
        outcomes = self.env.outcomes(trials, actions)
        length = self._across_seeds(outcomes.end_step.max() + 1)
        states = gru.run(policy, masks, inputs, noise, self.alpha, length)
        return Rollout(trials, inputs, states, gru.readout(policy, states), actions, outcomes)

    def value_inputs(self, states: jax.Array, actions: jax.Array) -> jax.Array:
        """Value-network inputs [policy rates, one-hot action]; row k drives the value state
        k -> k+1, so V_k sees r_{k-1} and a_{k-1} (pyrl's training graph, spec §3.3)."""
        rates = jax.lax.stop_gradient(jax.nn.relu(states))
        return jnp.concatenate([rates, jax.nn.one_hot(actions, self.env.n_actions)], axis=-1)

    def values(self, value: gru.Params, masks: gru.Masks, key: jax.Array, states: jax.Array,
               actions: jax.Array, length: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """Value-network states (T, B, N_v) and predictions V (T, B) for a rollout (computed up
        to ``length`` steps when given)."""
        inputs = self.value_inputs(states, actions)
        noise = None
        if self.value_net is gru:
            shape = inputs.shape[:2] + (self.value_config.n_units,)
            noise = self.value_noise * jax.random.normal(key, shape, jnp.float32)
        value_states = self.value_net.run(value, masks, inputs, noise, self.value_alpha, length)
        return value_states, self.value_net.readout(value, value_states)[..., 0]

    # ---- learning ----------------------------------------------------------------------------
    def losses(self, policy, value, state: LearnerState, key: jax.Array):
        """(policy loss + value loss, metrics) for one batch; see the module docstring."""
        k_trials, k_roll, k_value = jax.random.split(key, 3)
        trials = self.env.sample_trials(k_trials, self.config.n_gradient)
        roll = self.rollout(policy, state.policy_masks, k_roll, trials)
        out = roll.outcomes
        length = self._across_seeds(out.end_step.max() + 1)
        _, v = self.values(value, state.value_masks, k_value, roll.states, roll.actions, length)
        return self.objective(roll.logits, roll.actions, v, out.reward, out.mask)

    def objective(self, logits: jax.Array, actions: jax.Array, v: jax.Array, reward: jax.Array,
                  mask: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        """(policy loss + value loss, metrics) of a simulated batch, all time-major (T, B):
        policy logits, sampled actions, value predictions, masked rewards and the step mask."""
        g = returns_to_go(reward)
        value_loss = jnp.sum(mask * (v - g) ** 2) / jnp.sum(mask)
        target = g.at[0].set(reward[0]) if self.config.pyrl_t0_return else g
        advantage = jax.lax.stop_gradient(target - v)
        log_pi = jax.nn.log_softmax(logits)
        log_pi_a = jnp.take_along_axis(log_pi, actions[..., None], axis=-1)[..., 0]
        policy_loss = -jnp.sum(mask * log_pi_a * advantage) / actions.shape[1]
        metrics = {"value_loss": value_loss, "train_reward": reward.sum(0).mean()}
        if self.config.entropy_bonus:  # a remedy for seeds stuck in a deterministic policy (off: the paper's loss)
            entropy = -jnp.sum(jnp.exp(log_pi) * log_pi, axis=-1)
            policy_loss = policy_loss - self.config.entropy_bonus * jnp.sum(mask * entropy) / actions.shape[1]
            metrics["policy_entropy"] = jnp.sum(mask * entropy) / jnp.sum(mask)
        return policy_loss + value_loss, metrics

    def update(self, state: LearnerState) -> tuple[LearnerState, dict[str, jax.Array]]:
        """One parameter update of both networks (pure; jit it)."""
        return self.update_with(state, self.losses)

    def update_with(self, state: LearnerState, losses, *batch) -> tuple[LearnerState, dict[str, jax.Array]]:
        """One update of both networks by the gradient of ``losses(policy, value, state, key,
        *batch)`` (:meth:`losses`, or the loss of a batch simulated elsewhere, e.g. NeuroGym)."""
        key, k_batch = jax.random.split(state.key)
        grad_fn = jax.grad(losses, argnums=(0, 1), has_aux=True)
        (g_policy, g_value), metrics = grad_fn(state.policy, state.value, state, k_batch, *batch)
        policy, policy_opt, norm_p, ok_p = _apply(self.policy_optimizer, state.policy, state.policy_opt, g_policy)
        value, value_opt, norm_v, ok_v = _apply(self.value_optimizer, state.value, state.value_opt, g_value)
        skipped = ~(ok_p & ok_v)
        new = state._replace(policy=policy, value=value, policy_opt=policy_opt, value_opt=value_opt,
                             key=key, updates=state.updates + 1,
                             skipped=state.skipped + skipped.astype(jnp.int32))
        metrics.update(policy_grad_norm=norm_p, value_grad_norm=norm_v)
        return new, metrics

    def validate(self, policy: gru.Params, masks: gru.Masks, key: jax.Array, n_trials: int) -> dict[str, jax.Array]:
        """Performance of the current policy on ``n_trials`` fresh trials (stochastic policy,
        noise on, spec §4.7): mean reward, P(decision), P(correct | decision). Only the
        action-sampling pass runs, and only until every trial has ended."""
        k_trials, k_roll = jax.random.split(key)
        trials = self.env.sample_trials(k_trials, n_trials)
        actions = self.act(policy, masks, trials, *self.noise(k_roll, trials))
        return self.env.performance(trials, self.env.outcomes(trials, actions))


def _apply(optimizer, params, opt_state, grads):
    """Clip + Adam step, skipped (params and moments unchanged) if the norm is not finite."""
    norm = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree_util.tree_leaves(grads)))
    ok = jnp.isfinite(norm) & (norm <= MAX_FINITE_GRAD_NORM)
    safe = jax.tree_util.tree_map(lambda g: jnp.where(ok, g, 0.0), grads)
    updates, new_opt = optimizer.update(safe, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    keep = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, old)  # noqa: E731
    return keep(new_params, params), keep(new_opt, opt_state), norm, ok
