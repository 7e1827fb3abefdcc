"""Song et al.'s actor-critic fed by trials simulated on the host (NeuroGym environments):
``rewardrnn train ngym:PerceptualDecisionMaking-v0``.

The environments are a source of batches (:class:`rewardrnn.tasks.neurogym.NeuroGymBatches`):
at each time step one compiled call advances the decision network of every environment and
samples their actions. The gradient pass is compiled as for the native tasks: it re-runs the
network on the recorded observations and noise (the policy gets no action feedback, so the
trajectory is the same), with the value network and the loss of
:meth:`~rewardrnn.learners.actor_critic.ActorCritic.objective`.

The t = 0 term uses G_0 (the paper's equation): NeuroGym's fixation breaks do not end a trial
unless the environment is built with ``abort=True``, so pyrl's R[0] workaround is not needed.
Validation: ``n_validation`` trials with the stochastic policy; the stop criterion is NeuroGym's
own performance (mean of ``info["performance"]``) >= ``target``. The best parameters are those of
the best validation reward.

Sessions (``episode_trials`` K > 1, issue "value-based learning across trials"): each
environment plays an episode of K consecutive trials through which the decision network's state
carries over (:meth:`NeuroGymBatches.run`), the way a session of NeuroGym's ``DawTwoStep-v0`` is
meant to be played; the return runs over the episode, discounted by
``discount`` at each trial's end (:meth:`Batch.trial_end_discount`), so credit crosses trials;
trials are counted one by one (an update is ``n_gradient`` x K trials), and validation and
records are over the episodes' trials.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rewardrnn.keys import ENV_EVALUATION, ENV_TRAIN, ENV_VALIDATION, HOST_BATCH_STREAM, MANIPULATION_NOISE_STREAM, fold
from rewardrnn.learners.actor_critic import ActorCritic, ActorCriticConfig, LearnerState
from rewardrnn.manipulation import gated
from rewardrnn.networks import gru
from rewardrnn.tasks.neurogym import Batch, EnvSizes, NeuroGymBatches


class Simulated(NamedTuple):
    """A host-simulated batch and, when asked for, the decision network's states (T, B, N) after
    each input and the action probabilities (T, B, n_actions)."""

    batch: Batch
    states: np.ndarray | None
    action_prob: np.ndarray | None


class HostBatchActorCritic:
    """The actor-critic (:class:`ActorCritic`) on a NeuroGym task: a
    :class:`rewardrnn.learners.base.Learner` with ``host_stepped = True`` (the trainer calls
    :meth:`train_chunk` and :meth:`validate_seed` for one seed at a time)."""

    host_stepped = True
    core_class = ActorCritic  # the learner whose update and options this one runs on host-simulated batches
    trace_metric = None
    performance_names = ("reward", "performance", "p_respond")

    def __init__(self, task: str, env_kwargs: dict, env: EnvSizes, policy: gru.GRUConfig, value: gru.GRUConfig,
                 learning: ActorCriticConfig, target: float, max_trial_steps: int, wrappers: tuple[str, ...] = (),
                 episode_trials: int = 1, discount: float = 1.0):
        self.task, self.env_kwargs, self.env, self.wrappers = task, dict(env_kwargs), env, tuple(wrappers)
        self.episode_trials, self.discount = int(episode_trials), float(discount)
        self.core = self.core_class(env, policy, value, learning)
        self.target = target
        self.max_trial_steps = max_trial_steps
        self.policy_config, self.value_config = policy, value
        self._sources: dict[tuple[str, int], NeuroGymBatches] = {}
        core = self.core

        def act(logits, k_act):  # sample the policy, or (the supervised learner's reading) take its argmax
            gumbel = 0.0 if core.config.greedy else jax.random.gumbel(k_act, logits.shape, jnp.float32)
            return jnp.argmax(logits + gumbel, axis=-1)

        def step(policy, masks, x, u, key):
            k_noise, k_act = jax.random.split(key)
            q = core.policy_noise * jax.random.normal(k_noise, x.shape, jnp.float32)
            x = gru.stepper(policy, masks, core.alpha)(x, u, q)
            logits = gru.readout(policy, x)
            return x, act(logits, k_act), jax.nn.softmax(logits)

        self._step = jax.jit(step)

        def manipulated_step(policy, masks, applied, flags, x, u, key):
            on = applied.on(flags)  # flags (B, periods): the environments' periods, or none for a whole trial
            k_noise, k_act = jax.random.split(key)
            q = core.policy_noise * jax.random.normal(k_noise, x.shape, jnp.float32)
            q_extra = None
            if applied.noisy:
                q_extra = jax.random.normal(jax.random.fold_in(key, MANIPULATION_NOISE_STREAM), x.shape, jnp.float32)
            weights = gru.effective_weights(policy, masks)
            x, logits = gated.host_step(applied, on, policy, weights, gated.cut_weights(applied, policy, weights), x,
                                        u, q, q_extra, core.alpha)
            return x, act(logits, k_act), jax.nn.softmax(logits)

        self._manipulated_step = jax.jit(manipulated_step)
        self._update = jax.jit(self.host_update)

    # ---- the learner interface ---------------------------------------------------------------
    @property
    def trials_per_update(self) -> int:
        return self.core.config.n_gradient * self.episode_trials

    def init(self, key: jax.Array) -> LearnerState:
        return self.core.init(key)

    def update(self, state):  # pragma: no cover - the trainer calls train_chunk for host learners
        raise TypeError("the actor-critic on NeuroGym is stepped on the host: use train_chunk")

    def with_seed_axis(self, name: str) -> HostBatchActorCritic:
        return self

    def with_trial_axis(self, name: str, size: int) -> None:
        return None  # simulated on the host, one seed at a time

    def evaluation_key(self, state: LearnerState) -> jax.Array:
        return state.key

    def score(self, perf: dict) -> np.ndarray:
        return np.asarray(perf["reward"])

    def criterion_met(self, perf: dict) -> np.ndarray:
        return np.asarray(perf["performance"]) >= self.target

    def criterion_gap(self, perf: dict) -> np.ndarray:
        return np.maximum(0.0, self.target - np.asarray(perf["performance"], np.float64))

    def criterion_unmet(self, row: dict) -> str:
        performance = float(row["performance"])
        return f"performance {performance:.3f} < {self.target:g}" if performance < self.target else ""

    def describe_criterion(self) -> str:
        return f"NeuroGym performance >= {self.target:g}"

    def best_params(self, state: LearnerState) -> dict[str, gru.Params]:
        return {"policy": state.policy, "value": state.value}

    def updates(self, state: LearnerState) -> jax.Array:
        return state.updates

    def describe(self) -> str:
        return (f"the actor-critic on NeuroGym {self.task[5:]} (dt {self.env.dt_ms:g} ms, "
                f"{self.core.config.n_gradient} environments per update{self.describe_episodes()})")

    def describe_episodes(self) -> str:
        """``, episodes of K trials (discount d per trial)`` for sessions; empty for one trial."""
        if self.episode_trials == 1:
            return ""
        return f", episodes of {self.episode_trials} trials, discount {self.discount:g} per trial"

    # ---- host stepping -----------------------------------------------------------------------
    def train_chunk(self, state: LearnerState, seed: int, n_updates: int,
                    on_update=None) -> tuple[LearnerState, dict[str, float]]:
        """``n_updates`` updates of one seed; returns the state and the chunk's mean metrics.
        ``on_update()`` is called after each update (a live display)."""
        metrics = []
        for _ in range(n_updates):
            updates = int(state.updates)
            key = fold(jax.random.PRNGKey(seed), HOST_BATCH_STREAM, updates)
            b = self.training_batch(state, key, seed, updates)
            arrays = {"inputs": b.inputs, "actions": b.actions, "reward": b.reward, "mask": b.mask}
            if self.episode_trials > 1:  # a session: the return's discount at each trial's end
                arrays["factor"] = b.trial_end_discount(self.discount)
            padded = {k: jnp.asarray(v) for k, v in _padded(arrays, _bucket(b.actions.shape[0])).items()}
            state, m = self._update(state, key, *(padded[k] for k in ("inputs", "actions", "reward", "mask")),
                                    padded.get("factor"))
            metrics.append({k: float(v) for k, v in m.items()})
            if on_update is not None:
                on_update()
        return state, {k: float(np.mean([m[k] for m in metrics])) for k in metrics[0]}

    def training_batch(self, state: LearnerState, key: jax.Array, seed: int, update: int) -> Batch:
        """The batch of update ``update``: ``n_gradient`` trials in which the policy acts."""
        return self.simulate(state.policy, state.policy_masks, key, seed, ENV_TRAIN, update,
                             self.core.config.n_gradient).batch

    def validate_seed(self, state: LearnerState, seed: int, n: int) -> dict[str, float]:
        """Mean reward, NeuroGym performance and P(respond) per trial of ``n`` fresh trials (of
        ``ceil(n / K)`` episodes of K trials, for sessions)."""
        updates = int(state.updates)
        key = fold(jax.random.PRNGKey(seed), HOST_BATCH_STREAM, updates, 1)
        b = self.simulate(state.policy, state.policy_masks, key, seed, ENV_VALIDATION, updates,
                          self.episodes_for(n)).batch
        return {"reward": float(b.reward_total.mean()), "performance": float(b.performance.mean()),
                "p_respond": float(b.responded.mean())}

    def episodes_for(self, n_trials: int) -> int:
        """The episodes that hold ``n_trials`` trials (themselves, one trial per episode)."""
        return max(1, -(-int(n_trials) // self.episode_trials))

    def simulate(self, policy, masks, key: jax.Array, seed: int, stream: int, update: int, n: int,
                 keep_states: bool = False, manipulation=None) -> Simulated:
        """``n`` episodes (trials, unless sessions) of the policy in freshly seeded environments. The recurrent noise of step
        ``t`` is drawn from ``fold_in(key, t)``, so the gradient pass can draw it again.
        ``manipulation``: a :class:`rewardrnn.manipulation.applied.Applied` acting on the network
        (:func:`rewardrnn.manipulation.gated.host_step`) on the very same environments, noise and
        action draws; its ``during`` flags are the environment's periods (:meth:`periods`)."""
        source = self._source(stream, n)
        x = [jnp.broadcast_to(policy["x0"], (n, self.policy_config.n_units))]
        states, probs = [], []

        def act(obs: np.ndarray, t: int, in_period: np.ndarray | None = None) -> np.ndarray:
            step_key = jax.random.fold_in(key, t)
            if manipulation is None:
                x[0], action, prob = self._step(policy, masks, x[0], jnp.asarray(obs), step_key)
            else:
                flags = np.zeros((n, 0), bool) if in_period is None else in_period
                x[0], action, prob = self._manipulated_step(policy, masks, manipulation, flags, x[0],
                                                            jnp.asarray(obs), step_key)
            if keep_states:
                states.append(np.asarray(x[0]))
                probs.append(np.asarray(prob))
            return np.asarray(action)

        limited = manipulation is not None and not manipulation.whole_trial
        batch = source.run(act, seed, stream, update, source.periods if limited else ())
        if not keep_states:
            return Simulated(batch, None, None)
        return Simulated(batch, np.stack(states), np.stack(probs))

    def periods(self) -> tuple[str, ...]:
        """The environment's period names (NeuroGym's ``timing``; none for a plain gymnasium env)."""
        return self._source(ENV_EVALUATION, 1).periods

    def _source(self, stream: int, n: int) -> NeuroGymBatches:
        source = self._sources.get((stream, n))
        if source is None:
            source = self._sources[(stream, n)] = NeuroGymBatches(
                self.task, self.env_kwargs, n, self.max_trial_steps * self.episode_trials, self.wrappers, self.episode_trials)
        return source

    def host_update(self, state: LearnerState, noise_key, inputs, actions, reward, mask, factor=None):
        """One update from a host-simulated batch (jitted once per padded length); ``factor``
        (T, B): the return's discount at each trial's end of a session (None: one trial)."""
        return self.core.update_with(state, self._losses, noise_key, inputs, actions, reward, mask, factor)

    def recurrent_noise(self, noise_key: jax.Array, steps: int, batch: int) -> jax.Array:
        """(steps + 1, B, N): the recurrent noise of each step as :meth:`simulate` drew it (the
        last row, after the last input, zero)."""
        noise = jax.vmap(lambda t: self.core.policy_noise * jax.random.normal(
            jax.random.split(jax.random.fold_in(noise_key, t))[0], (batch, self.policy_config.n_units),
            jnp.float32))(jnp.arange(steps))
        return jnp.concatenate([noise, jnp.zeros_like(noise[:1])])

    def _losses(self, policy, value, state: LearnerState, key, noise_key, inputs, actions, reward, mask, factor=None):
        """The loss of a host-simulated batch, for :meth:`ActorCritic.update_with`."""
        core = self.core
        steps, batch = actions.shape
        noise = self.recurrent_noise(noise_key, steps, batch)
        states = gru.run(policy, state.policy_masks, inputs, noise, core.alpha)[1:]  # x after input t
        _, v = core.values(value, state.value_masks, jax.random.split(key, batch), states, actions)
        return core.objective(gru.readout(policy, states), actions, v, reward, mask, factor=factor)


def _padded(batch: dict[str, np.ndarray], steps: int) -> dict[str, np.ndarray]:
    """Pad the time axis to ``steps`` (a few compiled shapes instead of one per trial length)."""
    pad = steps - batch["actions"].shape[0]
    return {k: np.concatenate([v, np.zeros((pad,) + v.shape[1:], v.dtype)]) for k, v in batch.items()}


def _bucket(steps: int) -> int:
    return int(2 ** np.ceil(np.log2(max(steps, 8))))
