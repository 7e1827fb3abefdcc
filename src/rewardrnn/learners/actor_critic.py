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

Baselines (``ActorCriticConfig.baseline``; the paper's value network is the default, the others
test its prediction that value representation is "essential for learning, but not executing"):

* ``value``: the value network above (gated or linear, spec §3.3-3.4), Song et al.'s.
* ``none``: REINFORCE on the raw return, ``G_k - 0``; nothing is trained besides the policy.
* ``constant``: ``G_k - c`` with a fixed ``c`` (``baseline_constant``, default 0.5: halfway between
  a correct trial's reward +1 and an error's 0, spec song2017.md §9).
* ``running``: ``G_k - b`` with ``b`` a running average of the trials' return ``G_0``, updated
  after each batch by ``b <- (1 - rate) b + rate * mean(G_0)`` (``baseline_rate``, default 0.1
  per update), one ``b`` for all trials or, with ``baseline_per_condition``, one per condition of
  the grid (Miconi's per-trial-type baseline, for the actor-critic).

For these three the "value" parameters are the baseline values ``{"b": (n,)}`` and there are no
value masks; ``V`` is ``b`` at every step of a trial. ``lesion_value_at`` (any baseline): from that
update on, the baseline is removed (``G_k - 0``) and no longer trained, a lesion of the value
representation during learning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from rewardrnn.keys import MANIPULATION_NOISE_STREAM, fast_threefry
from rewardrnn.learners.base import SongCriterion
from rewardrnn.manipulation import gated
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
    entropy_bonus: float = 0.0  # beta of -beta * H(pi) over the response epoch's steps (not in the paper; 0: off)
    baseline: str = "value"  # value (Song's value network), none, constant or running (module docstring)
    baseline_constant: float = 0.5  # the constant baseline's value (reward units)
    baseline_rate: float = 0.1  # the running baseline's averaging weight per update
    baseline_per_condition: bool = False  # the running baseline: one average per condition of the grid
    lesion_value_at: int | None = None  # from this update on, no baseline (and none trained)
    greedy: bool = False  # act by the most probable action instead of sampling (the supervised learner's reading)
    supervised_loss: str = "cross-entropy"  # the supervised learner's loss: cross-entropy or mse (PsychRNN's)


#: The actor-critic's baselines: Song's value network, or one of the scalar baselines.
SCALAR_BASELINES = ("none", "constant", "running")


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


class Batch(NamedTuple):
    """Everything random about a batch of trials (:meth:`ActorCritic.draw_batch`): the trials,
    their inputs U (T, B, n_in) and one key per trial (B,) for each of the policy's recurrent
    noise, its action sampling and the value network's recurrent noise."""

    trials: Trials
    inputs: jax.Array
    noise_keys: jax.Array
    action_keys: jax.Array
    value_keys: jax.Array


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


def returns_to_go(rewards: jax.Array, factor: jax.Array | None = None) -> jax.Array:
    """G_k = sum_{k' >= k} R[k'] over the time axis 0 (rewards already masked); with ``factor``
    (shaped as ``rewards``, or (T, 1)), the recursion G_k = R_k + factor_k G_{k+1} (a discount at
    chosen steps, such as the last step of each trial of an episode)."""
    if factor is None:
        return jnp.flip(jnp.cumsum(jnp.flip(rewards, 0), 0), 0)

    def back(g_next, r_and_factor):
        r, f = r_and_factor
        g = r + f * g_next
        return g, g

    _, g = jax.lax.scan(back, jnp.zeros(rewards.shape[1:], rewards.dtype), (rewards, factor), reverse=True)
    return g


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
                 config: ActorCriticConfig, seed_axis: str | None = None,
                 trial_axis: tuple[str, int] | None = None):
        """``seed_axis``: name of the ``vmap`` axis over seeds, if the caller maps over seeds.
        The step loops then run until the last trial of *every* seed has ended, so that their
        counter stays a plain integer (a per-seed counter would turn every write into a scatter).
        ``trial_axis``: (name, size) of a device axis over which each update's trials are split
        (:meth:`with_trial_axis`)."""
        self.seed_axis = seed_axis
        self.trial_axis = trial_axis
        self.env = env
        self.policy_config = policy_config
        self.value_config = value_config
        self.config = config
        # The value network: gated (default) or pyrl's linear readout (spec §3.4); same interface.
        # None for a scalar baseline (none, constant, running: the module docstring).
        self.value_net = None if config.baseline in SCALAR_BASELINES else \
            linear if isinstance(value_config, linear.LinearConfig) else gru
        self.alpha = gru.alpha(policy_config, env.dt_ms)
        self.value_alpha = gru.alpha(value_config, env.dt_ms)
        self.policy_noise = gru.noise_std(policy_config, env.dt_ms)
        self.value_noise = gru.noise_std(value_config, env.dt_ms)
        self.policy_optimizer = _adam(config.lr, config.max_grad_norm)
        self.value_optimizer = (optax.sgd(config.baseline_rate) if config.baseline == "running" else
                                optax.set_to_zero() if config.baseline in SCALAR_BASELINES else
                                _adam(config.baseline_lr, config.max_grad_norm))

    # ---- the learner interface ---------------------------------------------------------------
    @property
    def trials_per_update(self) -> int:
        return self.config.n_gradient

    def with_seed_axis(self, name: str) -> ActorCritic:
        """The same learner for a caller that ``vmap``s over seeds along the axis ``name``."""
        return type(self)(self.env, self.policy_config, self.value_config, self.config, name, self.trial_axis)

    def with_trial_axis(self, name: str, size: int) -> ActorCritic | None:
        """The same learner for a caller that runs :meth:`update` on ``size`` devices along the
        mapped axis ``name`` (``shard_map``) with the state replicated: each device simulates
        and differentiates its share of the update's trials, and the gradients are summed
        across devices, so every device makes the same update, equal (up to float rounding) to
        the update on one device: the trials and their noise do not depend on the split. None
        when the trials per update do not split evenly."""
        if size < 2 or self.config.n_gradient % size:
            return None
        return type(self)(self.env, self.policy_config, self.value_config, self.config, self.seed_axis, (name, size))

    def evaluate(self, state: LearnerState, key: jax.Array, n: int) -> dict[str, jax.Array]:
        """Validation performance of the current policy on ``n`` fresh trials (:meth:`validate`)."""
        return self.validate(state.policy, state.policy_masks, key, n)

    def best_params(self, state: LearnerState) -> dict[str, gru.Params]:
        return {"policy": state.policy, "value": state.value}

    def updates(self, state: LearnerState) -> jax.Array:
        return state.updates

    def describe(self) -> str:
        baseline = "" if self.config.baseline == "value" else f", baseline {self.config.baseline}"
        lesion = "" if self.config.lesion_value_at is None else f", baseline removed at update {self.config.lesion_value_at:,}"
        return f"the actor-critic (Song et al. 2017) on {self.env.protocol.name}, dt {self.env.dt_ms:g} ms{baseline}{lesion}"

    # ---- scalar baselines --------------------------------------------------------------------
    def scalar_baseline_init(self) -> dict[str, jax.Array]:
        """The parameters of a scalar baseline: ``{"b": (n,)}``, n the grid's conditions for a
        per-condition running baseline, else 1; 0 for ``none`` and the start of ``running``."""
        config = self.config
        n = self.env.n_conditions if config.baseline == "running" and config.baseline_per_condition else 1
        start = config.baseline_constant if config.baseline == "constant" else 0.0
        return {"b": jnp.full(n, start, jnp.float32)}

    def scalar_baseline(self, value: dict[str, jax.Array], trials: Trials | None, steps: int, n: int) -> jax.Array:
        """V (T, B) of a scalar baseline: the trial's ``b`` at every step."""
        b = value["b"]
        per_trial = b[trials.condition] if b.shape[0] > 1 and trials is not None else jnp.broadcast_to(b[0], (n,))
        return jnp.broadcast_to(per_trial, (steps, n))

    def running_baseline_loss(self, value: dict[str, jax.Array], trials: Trials, reward: jax.Array) -> jax.Array:
        """A loss whose gradient with respect to ``b`` is ``b_c - mean(G_0 | c)`` over the batch's
        trials of each ``b``'s conditions (0 for a ``b`` with none): one SGD step at rate r is the
        running average ``b <- (1 - r) b + r mean(G_0)``. Counts are summed across the trial
        axis, so the devices' gradients add up to the batch's."""
        b = value["b"]
        slot = trials.condition if b.shape[0] > 1 else jnp.zeros_like(trials.condition)
        returns = reward.sum(0)  # G_0 of each trial
        count = jax.ops.segment_sum(jnp.ones_like(returns), slot, b.shape[0])
        total = jax.ops.segment_sum(returns, slot, b.shape[0])
        n = jax.lax.stop_gradient(jnp.maximum(self._across_trials(count), 1.0))
        return jnp.sum((0.5 * count * b ** 2 - total * b) / n)

    # ---- state -------------------------------------------------------------------------------
    def init(self, key: jax.Array) -> LearnerState:
        """Initial state of one seed (not jittable: spectral radii are computed in numpy)."""
        k_policy, k_value, k_train = jax.random.split(key, 3)
        policy, policy_masks = gru.init(k_policy, self.policy_config)
        if self.value_net is None:
            value, value_masks = self.scalar_baseline_init(), {}
        else:
            value, value_masks = self.value_net.init(k_value, self.value_config)
        return LearnerState(
            policy=policy, value=value, policy_masks=policy_masks, value_masks=value_masks,
            policy_opt=self.policy_optimizer.init(policy), value_opt=self.value_optimizer.init(value),
            key=k_train, updates=jnp.asarray(0, jnp.int32), skipped=jnp.asarray(0, jnp.int32))

    # ---- simulation --------------------------------------------------------------------------
    def draw_batch(self, key: jax.Array, n: int, condition: jax.Array | None = None) -> Batch:
        """Everything random about ``n`` trials, from ``key``: the trials (conditions at random
        unless ``condition`` is given), their inputs with their noise, and one key per trial
        for its recurrent, action and value-network noise (drawn step by step, see
        :meth:`simulate`)."""
        with fast_threefry():
            k_trials, k_in, k_each = jax.random.split(key, 3)
            trials = self.env.sample_trials(k_trials, n, condition)
            keys = jax.random.split(k_each, n * 3).reshape((n, 3) + k_each.shape)
            return Batch(trials, self.env.inputs(k_in, trials), keys[:, 0], keys[:, 1], keys[:, 2])

    def simulate(self, policy: gru.Params, masks: gru.Masks, batch: Batch, record: bool = False,
                 manipulation=None) -> tuple[jax.Array, gru.Trace | None]:
        """Run the policy on a batch step by step, sampling an action at each step, until every
        trial has ended (the loop runs in blocks of ``gru.NOISE_BLOCK`` steps: at most the rest
        of the block is computed after that). Each trial draws its recurrent noise and the
        Gumbel noise that samples its actions (``argmax(logits + gumbel)`` is a draw from
        ``softmax(logits)``) from its own keys, block by block (:func:`gru.block_noise`).
        Returns the actions (T, B; FIXATE after a trial's end) and, with ``record``, the
        policy's :class:`gru.Trace` (:func:`gru.replay` backpropagates through it without
        running the network again). ``manipulation``: a
        :class:`rewardrnn.manipulation.applied.Applied` acting on the network (silenced units,
        cuts, stimulation, extra noise from a stream of its own: the trials, their noise and
        the action draws are those of the intact run)."""
        trials, inputs = batch.trials, batch.inputs
        weights = gru.effective_weights(policy, masks)
        w_in, b_in, w_rec, w_gates = weights
        fixate, n_actions = self.env.protocol.fixate_action, self.env.n_actions
        steps, n_trials = inputs.shape[:2]
        n_units = self.policy_config.n_units
        rows = gru.padded_steps(steps) + 1
        padded_inputs = gru.pad_steps(inputs, rows)

        cut = None if manipulation is None else gated.cut_weights(manipulation, policy, weights)
        noisy = manipulation is not None and manipulation.noisy
        extra_keys = None
        if noisy:
            extra_keys = jax.vmap(lambda k: jax.random.fold_in(k, MANIPULATION_NOISE_STREAM))(batch.noise_keys)

        def draw(j):
            return (gru.block_noise(batch.noise_keys, j, (n_units,), self.policy_noise),
                    gru.block_noise(batch.action_keys, j, (n_actions,), sampler=jax.random.gumbel),
                    gru.block_noise(extra_keys, j, (n_units,)) if noisy else None)

        def step(k, carry, noise):
            x, alive, actions, trace = carry
            q, gumbel, q_extra = noise
            if manipulation is None:
                logits = gru.readout(policy, x)
                x_next, residuals = gru.cell(x, gru.drive(padded_inputs[k], w_in, b_in), q, w_rec, w_gates,
                                             self.alpha)
            else:
                on = manipulation.on(self.env.epoch_flags(trials, k))
                logits, x_next, residuals = gated.step(manipulation, on, policy, weights, cut, x, padded_inputs[k],
                                                       q, q_extra, self.alpha)
            action = jnp.argmax(logits if self.config.greedy else logits + gumbel, axis=-1).astype(jnp.int32)
            ends = self.env.judge(trials, k, action)[1]
            actions = actions.at[k].set(jnp.where(alive, action, fixate))
            if record:
                trace = gru.record_step(trace, k, x_next, residuals)
            return x_next, alive & ~ends, actions, trace

        x0 = jnp.broadcast_to(policy["x0"], (n_trials, n_units))
        carry = (x0, jnp.ones(n_trials, bool), jnp.full((rows, n_trials), fixate, jnp.int32),
                 gru.empty_trace(x0, rows) if record else None)
        _, _, actions, trace = gru.block_loop(lambda k, c: self._across_seeds(c[1].any()), step, draw, carry)
        return actions[:steps], (gru.finish_trace(trace, steps) if record else None)

    def _across_seeds(self, value: jax.Array) -> jax.Array:
        """The maximum of ``value`` over the seeds mapped along ``seed_axis`` (itself if none)."""
        if self.seed_axis is None:
            return value
        return jax.lax.pmax(value.astype(jnp.int32), self.seed_axis).astype(value.dtype)

    def _across_trials(self, value: jax.Array) -> jax.Array:
        """The sum of ``value`` over the devices that share an update's trials (itself if none)."""
        return value if self.trial_axis is None else jax.lax.psum(value, self.trial_axis[0])

    def _split(self, n: int) -> bool:
        """Whether a batch of ``n`` trials is split along ``trial_axis`` (it must split evenly)."""
        return self.trial_axis is not None and n % self.trial_axis[1] == 0

    def _share(self, batch: Batch) -> Batch:
        """This device's consecutive share of a batch split along ``trial_axis`` (all of it if
        it is not split)."""
        if not self._split(batch.inputs.shape[1]):
            return batch
        name, size = self.trial_axis
        n = batch.inputs.shape[1] // size
        start = jax.lax.axis_index(name) * n
        take = lambda a, axis: jax.lax.dynamic_slice_in_dim(a, start, n, axis)  # noqa: E731
        return Batch(jax.tree_util.tree_map(lambda a: take(a, 0), batch.trials), take(batch.inputs, 1),
                     take(batch.noise_keys, 0), take(batch.action_keys, 0), take(batch.value_keys, 0))

    def _whole(self, n: int, trials: Trials, outcomes: Outcomes) -> tuple[Trials, Outcomes]:
        """The trials and outcomes of a whole batch of ``n`` trials from every device's share
        (:meth:`_share`), in order."""
        if not self._split(n):
            return trials, outcomes
        gather = lambda a, axis: jax.lax.all_gather(a, self.trial_axis[0], axis=axis, tiled=True)  # noqa: E731
        outcomes = Outcomes(gather(outcomes.reward, 1), gather(outcomes.mask, 1),
                            *(gather(a, 0) for a in outcomes[2:]))
        return jax.tree_util.tree_map(lambda a: gather(a, 0), trials), outcomes

    def rollout(self, policy: gru.Params, masks: gru.Masks, batch: Batch) -> Rollout:
        """Run the policy on a batch (:meth:`simulate`). The states are differentiable
        (:func:`gru.replay` of the recorded loop) and exist up to the step at which the last
        trial of the batch ended (zero after: those steps are masked anyway)."""
        actions, trace = self.simulate(jax.lax.stop_gradient(policy), masks, batch, record=True)
        outcomes = self.env.outcomes(batch.trials, actions)
        length = self._across_seeds(outcomes.end_step.max() + 1)
        states = gru.replay(policy, masks, batch.inputs, trace, self.alpha, length)
        return Rollout(batch.trials, batch.inputs, states, gru.readout(policy, states), actions, outcomes)

    def value_inputs(self, states: jax.Array, actions: jax.Array) -> jax.Array:
        """Value-network inputs [policy rates, one-hot action]; row k drives the value state
        k -> k+1, so V_k sees r_{k-1} and a_{k-1} (pyrl's training graph, spec §3.3)."""
        rates = jax.lax.stop_gradient(jax.nn.relu(states))
        return jnp.concatenate([rates, jax.nn.one_hot(actions, self.env.n_actions)], axis=-1)

    def values(self, value: gru.Params, masks: gru.Masks, keys: jax.Array, states: jax.Array,
               actions: jax.Array, length: jax.Array | None = None,
               trials: Trials | None = None) -> tuple[jax.Array, jax.Array]:
        """Value-network states (T, B, N_v) and predictions V (T, B) for a rollout (computed up
        to ``length`` steps when given); ``keys`` (B,): one per trial, for the recurrent noise
        of the gated value network (:func:`gru.block_noise`). A scalar baseline has no states
        ((T, B, 0)) and V = its ``b`` (of the trial's condition, ``trials``, when per condition)."""
        if self.value_net is None:
            steps, n = actions.shape
            return jnp.zeros((steps, n, 0), jnp.float32), self.scalar_baseline(value, trials, steps, n)
        inputs = self.value_inputs(states, actions)
        if self.value_net is gru:
            value_states = gru.run_keyed(value, masks, inputs, keys, self.value_noise, self.value_alpha, length)
        else:
            value_states = linear.run(value, masks, inputs, None, self.value_alpha, length)
        return value_states, self.value_net.readout(value, value_states)[..., 0]

    # ---- learning ----------------------------------------------------------------------------
    def losses(self, policy, value, state: LearnerState, key: jax.Array):
        """(policy loss + value loss, metrics) for one batch; see the module docstring. With a
        trial axis, this device's share of the batch (the loss terms are divided by the whole
        batch's totals, so that the devices' gradients add up to the batch's)."""
        batch = self._share(self.draw_batch(key, self.config.n_gradient))
        roll = self.rollout(policy, state.policy_masks, batch)
        out = roll.outcomes
        length = self._across_seeds(out.end_step.max() + 1)
        _, v = self.values(value, state.value_masks, batch.value_keys, roll.states, roll.actions, length, roll.trials)
        choosing = self.response_steps(roll.trials, roll.actions.shape[0]) if self.config.entropy_bonus else None
        loss, metrics = self.objective(roll.logits, roll.actions, v, out.reward, out.mask, choosing,
                                       self.lesioned(state))
        if self.config.baseline == "running":
            kept = 1.0 - self.lesioned(state).astype(jnp.float32)
            loss = loss + kept * self.running_baseline_loss(value, roll.trials, out.reward)
        return loss, metrics

    def returns(self, reward: jax.Array, factor: jax.Array | None = None) -> jax.Array:
        """The returns G_k (T, B) that the baseline predicts and the policy gradient weighs:
        Song's undiscounted return-to-go of one trial; ``factor`` (T, B), the discount of an
        episode of trials at each trial's end (:func:`returns_to_go`; NeuroGym sessions,
        :mod:`rewardrnn.learners.actor_critic_host`; the episodic tasks,
        :mod:`rewardrnn.learners.episodic`)."""
        return returns_to_go(reward, factor)

    def lesioned(self, state: LearnerState) -> jax.Array:
        """Whether the baseline is removed at this update (``lesion_value_at``)."""
        at = self.config.lesion_value_at
        return jnp.asarray(False) if at is None else state.updates >= at

    def response_steps(self, trials: Trials, n_steps: int) -> jax.Array:
        """(T, B) 1 at the steps of the response epoch (where a choice is judged), else 0."""
        flags = self.env.epoch_flags(trials, jnp.arange(n_steps)[:, None])
        return flags[..., self.env.flag_names.index(self.env.protocol.response_epoch)].astype(jnp.float32)

    def objective(self, logits: jax.Array, actions: jax.Array, v: jax.Array, reward: jax.Array,
                  mask: jax.Array, choosing: jax.Array | None = None,
                  lesioned: jax.Array | bool = False,
                  factor: jax.Array | None = None) -> tuple[jax.Array, dict[str, jax.Array]]:
        """(policy loss + value loss, metrics) of a simulated batch, all time-major (T, B):
        policy logits, sampled actions, value predictions, masked rewards and the step mask.
        Sums over trials are divided by the batch's totals (across the trial axis, if any).
        ``choosing`` (T, B): the steps the entropy bonus counts, among the executed ones (those
        of the response epoch, :meth:`response_steps`; None: every executed step). ``lesioned``:
        the baseline is removed (V = 0 in the advantage) and not trained. ``factor``: the
        return's discount at each step (:meth:`returns`; None: Song's return). With a scalar
        baseline, the value loss is a number reported, not trained (the running average has a
        loss of its own, :meth:`running_baseline_loss`)."""
        n_trials = self._across_trials(jnp.asarray(actions.shape[1], jnp.float32))
        n_steps = self._across_trials(jnp.sum(mask))
        g = self.returns(reward, factor)
        if self.value_net is None:
            v = jax.lax.stop_gradient(v)
        value_loss = jnp.sum(mask * (v - g) ** 2) / n_steps
        v = jnp.where(lesioned, 0.0, v)
        target = g.at[0].set(reward[0]) if self.config.pyrl_t0_return else g
        advantage = jax.lax.stop_gradient(target - v)
        log_pi = jax.nn.log_softmax(logits)
        log_pi_a = jnp.take_along_axis(log_pi, actions[..., None], axis=-1)[..., 0]
        policy_loss = -jnp.sum(mask * log_pi_a * advantage) / n_trials
        metrics = {"value_loss": value_loss, "train_reward": reward.sum() / n_trials}
        value_loss = jnp.where(lesioned, 0.0, value_loss)  # a removed value network is not trained
        if self.config.entropy_bonus:  # a remedy for seeds stuck in a deterministic choice (off: the paper's loss)
            counted = mask if choosing is None else mask * choosing
            entropy = jnp.sum(counted * -jnp.sum(jnp.exp(log_pi) * log_pi, axis=-1))
            policy_loss = policy_loss - self.config.entropy_bonus * entropy / n_trials
            metrics["policy_entropy"] = entropy / jnp.maximum(self._across_trials(jnp.sum(counted)), 1.0)
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
        return self.apply_gradients(state, key, g_policy, g_value, metrics)

    def apply_gradients(self, state: LearnerState, key: jax.Array, g_policy, g_value,
                        metrics: dict[str, jax.Array]) -> tuple[LearnerState, dict[str, jax.Array]]:
        """The update of both networks by the gradients (or a rule's estimates of them) of this
        device's share of a batch: summed across the trial axis, clipped, Adam's step, skipped
        when not finite; ``key`` is the state's next key."""
        (g_policy, g_value), metrics = jax.tree_util.tree_map(self._across_trials, ((g_policy, g_value), metrics))
        policy, policy_opt, norm_p, ok_p = _apply(self.policy_optimizer, state.policy, state.policy_opt, g_policy)
        value, value_opt, norm_v, ok_v = _apply(self.value_optimizer, state.value, state.value_opt, g_value)
        if self.config.lesion_value_at is not None:  # a removed value network stays as it was (Adam's momentum too)
            frozen = self.lesioned(state)
            value, value_opt = jax.tree_util.tree_map(lambda new, old: jnp.where(frozen, old, new),
                                                      (value, value_opt), (state.value, state.value_opt))
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
        batch = self._share(self.draw_batch(key, n_trials))
        actions, _ = self.simulate(policy, masks, batch)
        trials, outcomes = self._whole(n_trials, batch.trials, self.env.outcomes(batch.trials, actions))
        return self.env.performance(trials, outcomes)


def _apply(optimizer, params, opt_state, grads):
    """Clip + Adam step, skipped (params and moments unchanged) if the norm is not finite."""
    norm = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree_util.tree_leaves(grads)))
    ok = jnp.isfinite(norm) & (norm <= MAX_FINITE_GRAD_NORM)
    safe = jax.tree_util.tree_map(lambda g: jnp.where(ok, g, 0.0), grads)
    updates, new_opt = optimizer.update(safe, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    keep = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, old)  # noqa: E731
    return keep(new_params, params), keep(new_opt, opt_state), norm, ok
