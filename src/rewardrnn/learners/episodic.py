"""Song et al.'s actor-critic over *episodes* of trials (:mod:`rewardrnn.tasks.episodes`): the
learner of Wang et al. 2018's meta-reinforcement learning, with Song's gated decision network and
value network.

What changes from the one-trial actor-critic (:mod:`rewardrnn.learners.actor_critic`), and only
this:

* the network's state carries over from trial to trial through the whole episode (the episode
  is one sequence of T = trials x steps-per-trial steps, never reset);
* the inputs depend on the actions (the previous action and reward are inputs), so the sampling
  pass computes each step's input from the task's transition, and the differentiable pass runs
  on the inputs it saw (:func:`rewardrnn.tasks.episodes.play` rebuilds them exactly from the
  actions and the episode's latents);
* the return runs over the episode, discounted by ``discount`` per trial (``G_k = R_k + g_k
  G_{k+1}`` with ``g_k = discount`` at the last step of a trial and 1 inside one; 1: undiscounted,
  Song's return), so credit crosses trials; the value network predicts it;
* every step of the episode is acted on and counted (there is no trial end or abort).

The policy and value losses, Adam, clipping and the skip of non-finite updates are the
actor-critic's (:meth:`ActorCritic.objective`, :meth:`ActorCritic.apply_gradients`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rewardrnn.keys import MANIPULATION_NOISE_STREAM, fast_threefry
from rewardrnn.learners.actor_critic import ActorCritic, ActorCriticConfig, returns_to_go
from rewardrnn.manipulation import gated
from rewardrnn.networks import gru, linear
from rewardrnn.tasks import episodes
from rewardrnn.tasks.episodes import EpisodeTask


@dataclass(frozen=True)
class EpisodeEnv:
    """An episodic task at a time step: what the actor-critic reads of an environment (its step
    ``dt_ms``, its sizes). One step of the task is ``dt_ms`` of the network's time."""

    task: EpisodeTask
    dt_ms: float

    @property
    def n_inputs(self) -> int:
        return self.task.n_inputs

    @property
    def n_actions(self) -> int:
        return self.task.n_actions

    @property
    def n_steps(self) -> int:
        return self.task.n_steps


class EpisodeBatch(NamedTuple):
    """Everything random about a batch of episodes: their latents, the policy's recurrent noise
    (T, B, N, already scaled), the Gumbel noise of its action draws (T, B, n_actions) and one key
    per episode for the value network's noise."""

    latents: dict
    noise: jax.Array
    gumbel: jax.Array
    value_keys: jax.Array


class EpisodeActorCritic(ActorCritic):
    """The actor-critic over episodes (module docstring). ``discount`` per trial (the task's by
    default)."""

    def __init__(self, env: EpisodeEnv, policy_config: gru.GRUConfig, value_config: gru.GRUConfig | linear.LinearConfig,
                 config: ActorCriticConfig, discount: float | None = None, seed_axis: str | None = None,
                 trial_axis=None):
        super().__init__(env, policy_config, value_config, config, seed_axis, None)
        self.task = env.task
        self.discount = env.task.discount if discount is None else float(discount)
        if config.baseline != "value":
            raise ValueError("the episodic actor-critic trains Song's value network as its baseline")

    performance_names = ("reward", "p_better")

    @property
    def trials_per_update(self) -> int:
        return self.config.n_gradient * self.task.n_trials

    def with_seed_axis(self, name: str) -> EpisodeActorCritic:
        return type(self)(self.env, self.policy_config, self.value_config, self.config, self.discount, name)

    def with_trial_axis(self, name: str, size: int):
        return None  # one seed's episodes train on one device

    def describe(self) -> str:
        return (f"the actor-critic over episodes of {self.task.n_trials} trials ({self.task.name}), "
                f"discount {self.discount:g} per trial")

    # ---- the criterion (the task's) -------------------------------------------------------------
    def criterion_met(self, perf: dict) -> np.ndarray:
        return np.asarray(self.task.criterion.met(perf))

    def criterion_gap(self, perf: dict) -> np.ndarray:
        return np.asarray(self.task.criterion.gap(perf))

    def criterion_unmet(self, row: dict) -> str:
        return self.task.criterion.unmet(row)

    def describe_criterion(self) -> str:
        return self.task.criterion.describe()

    # ---- simulation -------------------------------------------------------------------------------
    def draw_episodes(self, key: jax.Array, n: int) -> EpisodeBatch:
        """The latents and every noise of ``n`` episodes, from ``key``."""
        steps, units = self.task.n_steps, self.policy_config.n_units
        with fast_threefry():
            k_lat, k_noise, k_gumbel, k_value = jax.random.split(key, 4)
            return EpisodeBatch(self.task.latents(k_lat, n),
                                self.policy_noise * jax.random.normal(k_noise, (steps, n, units)),
                                jax.random.gumbel(k_gumbel, (steps, n, self.env.n_actions)),
                                jax.random.split(k_value, n))

    def play_episodes(self, policy: gru.Params, masks: gru.Masks, batch: EpisodeBatch,
                      manipulation=None) -> dict[str, jax.Array]:
        """Run the policy through whole episodes, sampling an action at every step from
        ``softmax(logits)`` (``argmax(logits + gumbel)``; greedy with ``config.greedy``) and
        feeding the task's observation back as the next step's input. Returns the episodes'
        :func:`rewardrnn.tasks.episodes.play` record plus ``states`` (T, B, N), x_k from which
        step k's action was drawn (no gradient). ``manipulation``: a
        :class:`rewardrnn.manipulation.applied.Applied` acting at every step (episodes have no
        epochs; :mod:`rewardrnn.manipulation.gated`): the action is read from x_k with the
        silenced units at 0 and the cut readout, the step is the manipulated one, on the very
        same latents, noise and action draws as the intact play."""
        n = batch.noise.shape[1]
        if manipulation is None:
            step_fn = gru.stepper(policy, masks, self.alpha)
            read, advance = (lambda x: gru.readout(policy, x)), (lambda x, u, k: step_fn(x, u, batch.noise[k]))
        else:
            weights = gru.effective_weights(policy, masks)
            cut = gated.cut_weights(manipulation, policy, weights)
            w_out = policy["W_out"] if cut is None else cut[3]
            on = jnp.ones(n, bool)
            extra = (jax.random.normal(jax.random.fold_in(batch.value_keys[0], MANIPULATION_NOISE_STREAM),
                                       batch.noise.shape) if manipulation.noisy else None)

            def read(x):
                return jax.nn.relu(jnp.where(manipulation.silenced, 0.0, x)) @ w_out + policy["b_out"]

            def advance(x, u, k):
                return gated.step(manipulation, on, policy, weights, cut, x, u, batch.noise[k],
                                  None if extra is None else extra[k], self.alpha)[1]

        def one(carry, k):
            x, memory = carry
            logits = read(x)
            pick = logits if self.config.greedy else logits + batch.gumbel[k]
            action = jnp.argmax(pick, axis=-1).astype(jnp.int32)
            reward, memory, observation, _ = self.task.transition(batch.latents, k, action, memory)
            return (advance(x, observation, k), memory), (x, action)

        x0 = jnp.broadcast_to(policy["x0"], (n, self.policy_config.n_units))
        _, (states, actions) = jax.lax.scan(one, (x0, self.task.memory(n)), jnp.arange(self.task.n_steps))
        played = episodes.play(self.task, batch.latents, actions)
        played["states"] = states
        return played

    def returns(self, reward: jax.Array, factor: jax.Array | None = None) -> jax.Array:
        """G_k over the episode (axis 0), discounted by ``discount`` at each trial's end."""
        per_trial = self.task.steps_per_trial
        last = (jnp.arange(reward.shape[0]) % per_trial) == per_trial - 1
        return returns_to_go(reward, jnp.where(last, self.discount, 1.0)[:, None])

    # ---- learning -----------------------------------------------------------------------------------
    def losses(self, policy, value, state, key: jax.Array):
        """(policy loss + value loss, metrics) for one batch of episodes: the sampling pass, then
        the differentiable pass on the inputs the network saw (same noise: the same states)."""
        batch = self.draw_episodes(key, self.config.n_gradient)
        played = self.play_episodes(jax.lax.stop_gradient(policy), state.policy_masks, batch)
        states = gru.run(policy, state.policy_masks, played["inputs"], batch.noise, self.alpha)
        actions, reward = played["actions"], played["reward"]
        _, v = self.values(value, state.value_masks, batch.value_keys, states, actions)
        mask = jnp.ones_like(reward)
        loss, metrics = self.objective(gru.readout(policy, states), actions, v, reward, mask)
        metrics["train_p_better"] = episodes.performance(self.task, batch.latents, played)["p_better"]
        return loss, metrics

    def evaluate(self, state, key: jax.Array, n: int) -> dict[str, jax.Array]:
        return self.validate(state.policy, state.policy_masks, key, n)

    def validate(self, policy: gru.Params, masks: gru.Masks, key: jax.Array, n_episodes: int) -> dict[str, jax.Array]:
        """Performance of the current policy (sampling, noise on) on ``n_episodes`` fresh
        episodes: mean reward per trial and P(better option) (:func:`episodes.performance`)."""
        batch = self.draw_episodes(key, n_episodes)
        played = self.play_episodes(policy, masks, batch)
        return episodes.performance(self.task, batch.latents, played)


def build(task: EpisodeTask, *, N: int | None = None, dt_ms: float = 100.0, lr: float = 0.004,
          baseline_lr: float = 0.004, n_gradient: int | None = None, discount: float | None = None,
          value_units: int | None = None, rho: float = 1.0) -> EpisodeActorCritic:
    """The actor-critic over ``task``'s episodes with this module's defaults: Song's gated
    (GRU) policy of ``N`` units (the task's, 48 as Wang et al. 2018's LSTM) at dt = tau = 100 ms
    (one step per ``dt_ms`` of network time; with dt = tau the GRU is the standard discrete one),
    Song's value network (a GRU of ``value_units``, N by default, reading the policy's states and
    its action, its read-out bias 0 because the episode's return starts at 0), Adam at ``lr`` /
    ``baseline_lr`` (Song's 0.004), ``n_gradient`` episodes per update (the task's), no entropy
    bonus, ``discount`` per trial (the task's), both networks' recurrent weights scaled to
    spectral radius ``rho`` at initialisation: 1.0 here, where Song's one-trial tasks use 2.0
    (spec §3.6, ``rho=2.0`` as a named option). Over episodes of 100+ steps Song's 2.0 lets the
    rectified units run away in some episodes of some seeds, and their updates are then skipped
    (non-finite gradients): 17/30 seeds reached the criteria at 2.0, 30/30 at 1.0
    (docs/episodes.md)."""
    units = task.N if N is None else int(N)
    value_units = units if value_units is None else int(value_units)
    policy = gru.GRUConfig(n_inputs=task.n_inputs, n_outputs=task.n_actions, n_units=units, tau_ms=dt_ms,
                            rho=rho)
    value = gru.GRUConfig(n_inputs=units + task.n_actions, n_outputs=1, n_units=value_units, p0=1.0, tau_ms=dt_ms,
                          rho=rho,
                          input_scale_units=units, out_bias=0.0)
    config = ActorCriticConfig(n_gradient=task.n_gradient if n_gradient is None else int(n_gradient), lr=lr,
                               baseline_lr=baseline_lr, entropy_bonus=0.0)
    return EpisodeActorCritic(EpisodeEnv(task, dt_ms), policy, value, config, discount)
