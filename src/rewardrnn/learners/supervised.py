"""Supervised learning of the same decision network on the same tasks: backpropagation through
time with a cross-entropy on the best action at every step of the protocol (NeuroGym's supervised
convention), beside the reward learners, so that a user can train one network both ways and
compare them (beyond both papers; Song et al. motivate reward-based training against it).

Targets, per trial and step (``targets``): FIXATE before the response epoch; during the response
epoch, the best choice: the non-fixate action whose outcome pays the most reward
(``Protocol.outcome_of_choice``), i.e. the correct action of a correct/wrong task, the more
valuable offer of the economic task, the correct target (never the sure one, which pays less)
of the wager task. Steps after the response epoch count for nothing. The loss is the mean over
the counted steps and trials of ``-log softmax(W_out r_k + b_out)[target_k]`` (``loss =
"cross-entropy"``, the default), or, with ``loss = "mse"``, PsychRNN's mean squared error of the
linear outputs ``z_k = W_out r_k + b_out`` against the target outputs, here the one-hot vector of
the same target action: ``mean_a (z_k[a] - onehot(target_k)[a])²`` (PsychRNN masks the steps
the same way; its tasks set their own output targets, this keeps the one target of every
learner so that the comparison is of losses only). Either way the network acts through
``softmax(z)`` (``act``), so validation is the same.

Everything else is the actor-critic's (:class:`~rewardrnn.learners.actor_critic.ActorCritic`):
the gated network and its options (N, Dale's principle, dt), its initialisation, Adam (lr 0.004,
clipping at global norm 1), the batches of trials (conditions, input noise, recurrent noise
drawn per trial), the validation (the network *acts* in the task, its trials judged by the task
and the task's stop criterion), records and every verb. It acts by its most probable action
(``act="greedy"``, the default: a supervised network's output is read, not sampled, in NeuroGym
and PsychRNN) or, with ``act="sample"``, by sampling its policy as the reward learners do. (A
cross-entropy-trained policy is calibrated, not sharpened: sampled, it breaks fixation over a
750-ms fixation at a per-step rate that the reward learners drive to zero, and it
probability-matches at low coherence; measured in docs/learners.md.) The value network is
kept (untrained: the supervised loss does not reach it) so that the run folder has the
actor-critic's layout. The network runs over the whole protocol (not stopped at a choice: it
is given the inputs, never its own actions), so every update computes the task's full
``tmax`` steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from rewardrnn.learners.actor_critic import ActorCritic, LearnerState
from rewardrnn.networks import gru
from rewardrnn.tasks.engine import Trials


class Supervised(ActorCritic):
    """The supervised learner (:class:`rewardrnn.learners.base.Learner`): the actor-critic's
    network, batches and validation with :meth:`losses` replaced by the cross-entropy on
    :meth:`targets`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.value_optimizer = optax.set_to_zero()  # the value network is not trained

    def describe(self) -> str:
        return (f"supervised learning (BPTT, {self.config.supervised_loss} on the best action) on {self.env.protocol.name}, "
                f"dt {self.env.dt_ms:g} ms")

    def targets(self, trials: Trials, n_steps: int) -> tuple[jax.Array, jax.Array]:
        """(target action (T, B) int32, counted steps (T, B) float): FIXATE before the response
        epoch, the best choice during it (module docstring), nothing after it."""
        env, protocol = self.env, self.env.protocol
        response = env.epoch_names.index(protocol.response_epoch)
        t_ms = jnp.arange(n_steps, dtype=jnp.float32)[:, None] * env.dt_ms
        before = t_ms < trials.epoch_start_ms[:, response]
        during = self.response_steps(trials, n_steps) > 0
        variables = env.variables(trials)
        choices = [a for a in range(env.n_actions) if a != protocol.fixate_action]
        rewards = jnp.stack([protocol.outcome_of_choice(variables, jnp.full(trials.condition.shape, a, jnp.int32)).reward
                             for a in choices], axis=-1)  # (B, choices)
        best = jnp.asarray(choices, jnp.int32)[jnp.argmax(rewards, axis=-1)]
        target = jnp.where(before, protocol.fixate_action, best[None, :]).astype(jnp.int32)
        return target, (before | during).astype(jnp.float32)

    def losses(self, policy, value, state: LearnerState, key: jax.Array):
        """(mean cross-entropy over the counted steps, metrics) of one batch (with a trial axis,
        this device's share, divided by the whole batch's count)."""
        batch = self._share(self.draw_batch(key, self.config.n_gradient))
        steps = batch.inputs.shape[0]
        states = gru.run_keyed(policy, state.policy_masks, batch.inputs, batch.noise_keys, self.policy_noise,
                               self.alpha)  # x[k]: the state the action of step k is read from
        target, counted = self.targets(batch.trials, steps)
        z = gru.readout(policy, states)
        if self.config.supervised_loss == "mse":
            per_step = jnp.mean((z - jax.nn.one_hot(target, z.shape[-1], dtype=z.dtype)) ** 2, axis=-1)
        else:
            per_step = -jnp.take_along_axis(jax.nn.log_softmax(z), target[..., None], axis=-1)[..., 0]
        n = self._across_trials(jnp.sum(counted))
        loss = jnp.sum(counted * per_step) / n
        hits = jnp.sum(counted * (jnp.argmax(z, axis=-1) == target)) / n
        return loss, {"supervised_loss": loss, "step_accuracy": hits}
