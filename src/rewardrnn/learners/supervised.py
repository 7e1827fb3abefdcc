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

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from rewardrnn.keys import ENV_TRAIN
from rewardrnn.learners.actor_critic import ActorCritic, LearnerState
from rewardrnn.learners.actor_critic_host import HostBatchActorCritic
from rewardrnn.learners.perturbation import PerturbationConfig, PerturbationLearner, PerturbationState
from rewardrnn.networks import gru, rate
from rewardrnn.tasks.miconi import ContinuousTask
from rewardrnn.tasks.engine import Trials
from rewardrnn.tasks.neurogym import Batch


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
        per_step = step_losses(z, target, self.config.supervised_loss)
        n = self._across_trials(jnp.sum(counted))
        loss = jnp.sum(counted * per_step) / n
        hits = jnp.sum(counted * (jnp.argmax(z, axis=-1) == target)) / n
        return loss, {"supervised_loss": loss, "step_accuracy": hits}


def step_losses(logits: jax.Array, target: jax.Array, loss: str) -> jax.Array:
    """Per-step loss (T, B) of linear outputs ``logits`` (T, B, actions) against target actions
    (T, B): ``-log softmax(z)[target]`` or, ``loss="mse"``, ``mean_a (z[a] - onehot[a])^2``."""
    if loss == "mse":
        return jnp.mean((logits - jax.nn.one_hot(target, logits.shape[-1], dtype=logits.dtype)) ** 2, axis=-1)
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), target[..., None], axis=-1)[..., 0]


class SupervisedOnHost(HostBatchActorCritic):
    """The supervised learner on a NeuroGym environment: NeuroGym's own supervised convention.
    Each update's ``n_gradient`` trials are read as NeuroGym's ``Dataset`` reads them (the
    trial's observations ``env.ob`` and ground truth ``env.gt``: fixation, then the correct
    choice, at every step; :meth:`~rewardrnn.tasks.neurogym.NeuroGymBatches.ground_truth`), and
    the loss is the mean over their steps of the cross-entropy on ``gt`` (or, ``loss="mse"``,
    PsychRNN's squared error on its one-hot vector). Validation, records and every verb are the
    NeuroGym actor-critic's: the network *acts* in freshly seeded environments, by its most
    probable action (``act="greedy"``) or by sampling, and the stop criterion is NeuroGym's
    performance. The value network is kept, untrained."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.core.value_optimizer = optax.set_to_zero()  # the value network is not trained

    def describe(self) -> str:
        return (f"supervised learning (BPTT, {self.core.config.supervised_loss} on NeuroGym's ground truth) on "
                f"{self.task[5:] if self.task.startswith('ngym:') else self.task} (dt {self.env.dt_ms:g} ms)")

    def training_batch(self, state: LearnerState, key: jax.Array, seed: int, update: int) -> Batch:
        return self._source(ENV_TRAIN, self.core.config.n_gradient).ground_truth(seed, ENV_TRAIN, update)

    def _losses(self, policy, value, state: LearnerState, key, noise_key, inputs, actions, reward, mask,
                factor=None):
        """The mean over the trials' steps of the loss on the ground-truth ``actions`` (T, B),
        the network run on the trials' observations with recurrent noise."""
        core = self.core
        steps, batch = actions.shape
        noise = jax.vmap(lambda t: core.policy_noise * jax.random.normal(
            jax.random.fold_in(noise_key, t), (batch, self.policy_config.n_units), jnp.float32))(jnp.arange(steps + 1))
        states = gru.run(policy, state.policy_masks, inputs, noise, core.alpha)[1:]  # x after input t
        z = gru.readout(policy, states)
        n = jnp.maximum(jnp.sum(mask), 1.0)
        loss = jnp.sum(mask * step_losses(z, actions, core.config.supervised_loss)) / n
        hits = jnp.sum(mask * (jnp.argmax(z, axis=-1) == actions)) / n
        return loss, {"supervised_loss": loss, "step_accuracy": hits}


class RateSupervisedState(NamedTuple):
    """Miconi's rate network learning by BPTT: :class:`PerturbationState`'s fields (the
    criterion's last 100 errors and trial counts; ``xbar`` and ``baselines`` kept, unused by the
    loss) and the Adam state of the recurrent weights ``J``."""

    params: rate.Params
    xbar: jax.Array
    baselines: jax.Array
    trial: jax.Array
    key: jax.Array
    recent_errors: jax.Array
    criterion_trial: jax.Array
    value: None
    opt: optax.OptState


class SupervisedRate(PerturbationLearner):
    """The supervised learner on Miconi's tasks (DNMS, selective integration): his rate network,
    trials and criterion, with his rule replaced by BPTT on his targets. Each update is a batch
    of ``batch`` trials (the config's default: one of each of the task's trial types, cycled as
    his rule's trials are; ``trial_order="random"``: random types); the network runs without perturbations
    (the kicks are his rule's exploration, not the task's); the loss is the mean squared error of
    the output neuron's rate against each trial's target over the response window (PsychRNN's
    loss; ``loss="abs"``: Miconi's own error, the mean absolute one), averaged over the batch;
    Adam (learning rate ``lr``, gradient clipped at global norm 1, Song et al.'s optimiser)
    updates the recurrent weights ``J`` only, the weights his rule learns (Dale's principle
    re-imposed after each step where the network has it). One trial per update, his rule's
    schedule, does not learn DNMS (at lr 1e-3 the error is still 0.99 after 3,000 trials), nor
    does lr 3e-3, which silences the output (error 0.98: below Miconi's threshold of 1, so his
    criterion counts those trials as good; measured in docs/learners.md). The criterion is Miconi's: more than 95 of the last
    100 training trials with error below the task's threshold (counted trial by trial; the
    trials to criterion are rounded up to the update). The config
    (:class:`~rewardrnn.training.perturbation_config.SupervisedMiconiTrainConfig`) resolves
    ``lr``, ``loss`` and ``batch``. Records and every verb are those of his
    rule's runs (the same network family), without kicks."""

    def __init__(self, task: ContinuousTask, config: PerturbationConfig, network: rate.RateConfig,
                 lr: float, loss: str, batch: int):
        super().__init__(task, config, network)
        self.lr, self.loss, self.batch = lr, loss, batch
        self.trials_per_update = batch
        self.optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr))

    def describe(self) -> str:
        return (f"supervised learning (BPTT, {self.loss} on the target, Adam lr {self.lr:g}, {self.batch} trials per "
                f"update) on {self.task.name} ({self.network.n_units} units)")

    def init(self, key: jax.Array) -> RateSupervisedState:
        base = super().init(key)
        return RateSupervisedState(*base[:-1], value=None, opt=self.optimizer.init(base.params["J"]))

    def kicks(self, key: jax.Array) -> jax.Array:
        """No perturbations: (T, N) zeros."""
        return jnp.zeros((self.n_steps, self.network.n_units), jnp.float32)

    def updates(self, state: RateSupervisedState) -> jax.Array:
        return state.trial // self.batch

    def evaluate(self, state: RateSupervisedState, key: jax.Array, n: int) -> dict[str, jax.Array]:
        """Miconi's numbers (:meth:`PerturbationLearner.evaluate`), the criterion's trial count
        given in updates (rounded up)."""
        perf = super().evaluate(state, key, n)
        trial = perf["criterion_update"]
        perf["criterion_update"] = jnp.where(trial >= 0, -(-trial // self.batch), -1)
        return perf

    def update(self, state: RateSupervisedState) -> tuple[RateSupervisedState, dict[str, jax.Array]]:
        """One batch of trials and the Adam step on their mean loss; metrics: the batch's mean
        error (Miconi's) and loss."""
        key, k_in, k_x0, k_type = jax.random.split(state.key, 4)
        trial_types = (state.trial + jnp.arange(self.batch)) % self.task.n_types
        if self.config.trial_order == "random":
            trial_types = jax.random.randint(k_type, (self.batch,), 0, self.task.n_types)
        inputs = jax.vmap(self.task.inputs)(jax.random.split(k_in, self.batch), trial_types)
        x0 = jax.vmap(lambda k: rate.initial_state(k, self.network))(jax.random.split(k_x0, self.batch))
        mask = self.task.response_mask()
        targets = jnp.asarray(self.task.targets)[trial_types]
        no_kicks = self.kicks(key)

        def batch_loss(j):
            def one(u, x, target):
                _, r, _, _ = self.run(dict(state.params, J=j), state.xbar, x, u, no_kicks)
                miss = r[:, self.network.output_unit] - target
                per_step = jnp.abs(miss) if self.loss == "abs" else miss ** 2
                error = jnp.sum(jnp.abs(miss) * mask) / jnp.sum(mask)
                return jnp.sum(per_step * mask) / jnp.sum(mask), error
            losses, errors = jax.vmap(one)(inputs, x0, targets)
            return jnp.mean(losses), errors

        (loss, errors), grad = jax.value_and_grad(batch_loss, has_aux=True)(state.params["J"])
        step, opt = self.optimizer.update(grad, state.opt, state.params["J"])
        params = dict(state.params, J=rate.impose_signs(optax.apply_updates(state.params["J"], step), self.network))
        after = PerturbationState(*state[:-1])
        for i in range(self.batch):  # Miconi's bookkeeping, trial by trial (his criterion counts trials)
            after = self.after_trial(after, trial_types[i], errors[i], params, state.xbar, key, None)
        return RateSupervisedState(*after, opt=opt), {"error": jnp.mean(errors), "supervised_loss": loss}
