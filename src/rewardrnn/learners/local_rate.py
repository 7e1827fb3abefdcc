"""The local rule on Miconi's rate network acting in Song et al.'s tasks (``rewardrnn train TASK
--learner local --network rate``; beyond both papers).

Miconi's rule acting in Song's tasks learns *when* to answer and not *which* answer
(docs/unified-model.md): its credit is one scalar per trial over a trace of the whole trial.
This learner keeps his network as it acts there (:mod:`rewardrnn.learners.perturbation_native`:
tanh units, g = 1.5, dense J, fixed W_in, three clamped bias units, one *choice unit* per
non-fixate action, silent at the start, dt 10 ms, tau 100 ms) and his baselines
(``reward_baseline``: ``value``, Song's value network reading the rates, the default here;
``trial-type``, ``running``, ``none``), and replaces his perturbations and trace by the local
rule of :mod:`rewardrnn.learners.local`:

* **Policy.** The threshold read-out made stochastic: at step k the logits are ``beta r_c`` for
  each choice c (its unit's rate) and ``beta theta`` for fixation, and the action is drawn from
  their softmax ``pi_k`` (``beta``: ``choice_gain``, default 10; ``theta``: the choice threshold,
  default 0.5 here, :data:`DEFAULT_THRESHOLD`). The most probable action is the threshold read-out's (the highest choice unit if it
  exceeds theta, else fixation). No kicks: the policy's sampling is the exploration, as in
  Song's network.
* **Learning signal** at step k: the policy-gradient error ``(onehot(a_k) - pi_k) A_k`` with the
  advantage ``A_k = G_k + b_k`` (``G_k`` the return to go; ``b_k`` the baseline's prediction of
  the trial's error E = -R). A choice unit's rate *is* its action's logit (over beta), so it
  receives its exact error ``beta (onehot - pi)_c A_k``; every other unit receives the error of
  all actions through fixed random weights F (N x actions, N(0, 1/N), ``feedback="random"``,
  the default) or nothing (``feedback="readout"``: only the choice units learn, a reservoir's
  read-out, which separates the random feedback from the eligibility's truncation). The signal
  on the state is ``l_j[k] = f'(x_j[k]) * (that error)``, f' = 1 - r^2.
* **Eligibility.** For a leaky rate unit e-prop and RFLO coincide (Murray 2019; Bellec et al.
  2020): ``e_ji[k+1] = (1 - alpha) e_ji[k] + alpha r_i[k]``, the synapse's effect on x_j with
  every path through other units (and through the unit's own rate) dropped; the update
  ``Delta J_ji = sum_k l_j[k] e_ji[k]`` over the batch, computed in factorised form
  (:func:`rewardrnn.learners.local.filtered_signal`). W_in stays fixed (Miconi's), the bias
  units' rows are not trained (their state is clamped).
* **Optimiser.** Adam on ``-Delta J`` (learning rate ``lr``, global-norm clip 1: Song's), one
  update per ``batch`` trials (conditions cycled, as Miconi's trial types), from trial
  ``warmup_trials`` on (Miconi's 100). The value network takes one Adam step per update on the
  batch's mean per-bin loss (:meth:`ValueBaseline.learn_batch`).

``track_alignment`` adds the cosine of each update with the true gradient of the same batch's
policy objective (BPTT through the recorded, deterministic run), ``bptt_cosine``. The criterion
is Song's on ``n_validation`` trials sampled from the policy. Records and every verb are the
rate/native family's (:mod:`rewardrnn.records.perturbation_native`), the actions sampled.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rewardrnn.keys import FEEDBACK_STREAM, VALUE_NETWORK_STREAM
from rewardrnn.learners.local import cosine, filtered_signal
from rewardrnn.learners.perturbation import PerturbationConfig, PerturbationState
from rewardrnn.learners.perturbation_native import NativePerturbationLearner
from rewardrnn.networks import rate
from rewardrnn.tasks.engine import TaskEnv

#: Default inverse temperature of the choice units' softmax, trials per update and Adam's rate
#: (at 1e-3 every one of 10 rdm-fixed seeds collapsed into never deciding within 10,000 trials,
#: the choice units pinned near rate -1; at 3e-4 none did: docs/unified-model.md).
DEFAULT_CHOICE_GAIN, DEFAULT_BATCH, DEFAULT_LR = 10.0, 10, 3e-4
#: Default choice threshold (a rate). A fresh network's silent choice units (rate 0) each break
#: fixation with probability 1 / (2 + exp(beta theta)) per step: 0.045 at the threshold rule's
#: 0.3, so a fresh trial holds through rdm-fixed's 75-step fixation epoch (before its stimulus,
#: 8-150 steps more) with probability 0.001 and nothing is learned from trials that all abort
#: (pilot: 1 of 10 seeds deciding after 2,000 trials); 0.0067 at 0.5, probability 0.37 (pilot:
#: 9 of 10 seeds at P(decision) >= 0.6 after 1,000 trials; docs/unified-model.md).
DEFAULT_THRESHOLD = 0.5


#: The learner's state: :class:`PerturbationState`'s fields (``xbar`` kept, unused) plus the Adam
#: state of J (``opt``) and the fixed feedback weights F (``feedback``, N x actions).
LocalRateState = NamedTuple("LocalRateState", [(name, object) for name in PerturbationState._fields]
                            + [("opt", optax.OptState), ("feedback", jax.Array)])


class PolicyRun(NamedTuple):
    """One batch run by the policy (time-major, step k reads state x_k): the rates each action
    read ``r`` (T, B, N), the rates after each step ``r_next`` (T, B, N), the actions (T, B),
    the policy ``pi`` (T, B, actions), the initial states ``x0`` (B, N) and the drive (T, B, N)."""

    r: jax.Array
    r_next: jax.Array
    actions: jax.Array
    pi: jax.Array
    x0: jax.Array
    drive: jax.Array


class LocalRateLearner(NativePerturbationLearner):
    """The learner (module docstring); a :class:`rewardrnn.learners.base.Learner` whose update
    is ``batch`` trials."""

    learner_name = "local"

    def __init__(self, env: TaskEnv, config: PerturbationConfig, network: rate.RateConfig,
                 threshold: float = DEFAULT_THRESHOLD, choice_gain: float = DEFAULT_CHOICE_GAIN,
                 batch: int = DEFAULT_BATCH, lr: float = DEFAULT_LR, feedback: str = "random",
                 track_alignment: bool = False):
        super().__init__(env, config, network, threshold)  # feedback: one of FEEDBACKS (the config checks it)
        self.choice_gain, self.batch, self.lr = float(choice_gain), int(batch), float(lr)
        self.feedback_kind, self.track_alignment = feedback, bool(track_alignment)
        self.trials_per_update = self.batch
        self.optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(self.lr))
        n = network.n_units
        exact = np.zeros((n, env.n_actions), np.float32)  # a choice unit's rate is its action's logit / beta
        exact[np.arange(self.n_choices), self.choices] = self.choice_gain
        self.exact_feedback = jnp.asarray(exact)
        hidden = np.ones(n, np.float32)
        hidden[:self.n_choices] = 0.0
        hidden[list(network.bias_units)] = 0.0
        self.hidden = jnp.asarray(hidden)  # the units that learn through the feedback weights
        trained = np.ones(n, np.float32)
        trained[list(network.bias_units)] = 0.0
        self.trained_rows = jnp.asarray(trained)[:, None]

    def describe(self) -> str:
        return (f"a local rule (RFLO / e-prop eligibility, {self.feedback_kind} feedback, {self.config.reward_baseline} "
                f"baseline) on Miconi's rate network acting in {self.env.protocol.name} ({self.network.n_units} units, "
                f"dt {self.config.dt_ms:g} ms, tau {self.network.tau_ms:g} ms, softmax gain {self.choice_gain:g} "
                f"over threshold {self.threshold:g}, {self.batch} trials per update, Adam lr {self.lr:g})")

    # ---- state -------------------------------------------------------------------------------
    def init(self, key: jax.Array) -> LocalRateState:
        base = super().init(key)
        f = jax.random.normal(jax.random.fold_in(key, FEEDBACK_STREAM), self.exact_feedback.shape, jnp.float32)
        f = f / jnp.sqrt(float(self.network.n_units)) * self.hidden[:, None]
        return LocalRateState(*base, opt=self.optimizer.init(base.params["J"]), feedback=f)

    def updates(self, state: LocalRateState) -> jax.Array:
        return state.trial // self.batch

    def feedback(self, state: LocalRateState) -> jax.Array:
        """(N, actions): the choice units' exact map plus, for the hidden units, F (random) or 0."""
        if self.feedback_kind == "readout":
            return self.exact_feedback
        return self.exact_feedback + state.feedback

    # ---- acting ------------------------------------------------------------------------------
    def logits(self, rates: jax.Array) -> jax.Array:
        """(..., actions): ``beta r_c`` for each choice, ``beta theta`` for fixation."""
        z = jnp.full(rates.shape[:-1] + (self.env.n_actions,), self.choice_gain * self.threshold, rates.dtype)
        return z.at[..., jnp.asarray(self.choices)].set(self.choice_gain * rates[..., :self.n_choices])

    def choose(self, rates: jax.Array, key: jax.Array) -> jax.Array:
        """Actions drawn from the softmax policy (its own stream of the step's key)."""
        return jax.random.categorical(jax.random.fold_in(key, 1), self.logits(rates)).astype(jnp.int32)

    def kick_values(self, key, shape, on):
        """No perturbations: the policy's sampling explores."""
        return jnp.zeros(shape, jnp.float32)

    def run_policy(self, params: rate.Params, inputs: jax.Array, key: jax.Array) -> PolicyRun:
        """A batch (inputs (T, B, n_in)) run by the policy, the actions sampled step by step."""
        k_x0, k_act = jax.random.split(key)
        batch = inputs.shape[1]
        x0 = rate.initial_state(k_x0, self.network, (batch,))
        drive = rate.external_drive(params, inputs, 0.0)

        def body(x, step):
            t, d = step
            r = rate.rates(x, self.network)
            z = self.logits(r)
            a = jax.random.categorical(jax.random.fold_in(k_act, t), z).astype(jnp.int32)
            x_next = rate.advance(params, self.network, x, r, d, self.a)
            return x_next, (r, rate.rates(x_next, self.network), a, jax.nn.softmax(z))

        _, (r, r_next, actions, pi) = jax.lax.scan(body, x0, (jnp.arange(inputs.shape[0]), drive))
        return PolicyRun(r, r_next, actions, pi, x0, drive)

    def replay_rates(self, j: jax.Array, run: PolicyRun) -> jax.Array:
        """The rates (T, B, N) of the recorded run with recurrent weights ``j`` (deterministic:
        the same start and drive), differentiable in ``j`` (BPTT, for :meth:`bptt_gradient`)."""
        params = {"J": j}

        def body(x, d):
            r = rate.rates(x, self.network)
            return rate.advance(params, self.network, x, r, d, self.a), r

        return jax.lax.scan(body, run.x0, run.drive)[1]

    # ---- learning ----------------------------------------------------------------------------
    def output_error(self, run: PolicyRun, advantage: jax.Array, mask: jax.Array) -> jax.Array:
        """dObjective/dz (T, B, actions) of the batch's mean ``sum_k log pi(a_k) A_k``."""
        onehot = jax.nn.one_hot(run.actions, self.env.n_actions, dtype=run.pi.dtype)
        return (onehot - run.pi) * (advantage * mask)[..., None] / run.actions.shape[1]

    def local_update(self, feedback: jax.Array, run: PolicyRun, dz: jax.Array) -> jax.Array:
        """The rule's estimate (N, N) [post, pre] of dObjective/dJ from the output error ``dz``."""
        signal = (dz @ feedback.T) * (1.0 - run.r ** 2)  # l_j[k] on the state x_j[k]
        later = filtered_signal(signal, jnp.full_like(signal, 1.0 - self.a))
        n = signal.shape[-1]
        return self.a * later.reshape(-1, n).T @ run.r.reshape(-1, n) * self.trained_rows

    def bptt_gradient(self, params: rate.Params, run: PolicyRun, dz: jax.Array) -> jax.Array:
        """The true dObjective/dJ of the same batch (``dz`` held fixed)."""
        return jax.grad(lambda j: jnp.sum(jax.lax.stop_gradient(dz) * self.logits(self.replay_rates(j, run))))(
            params["J"]) * self.trained_rows

    def update(self, state: LocalRateState) -> tuple[LocalRateState, dict[str, jax.Array]]:
        """``batch`` trials, the baseline, the local update of J and the baselines' learning;
        metrics: the batch's mean error, the mean baseline, the value network's loss."""
        key, k_trials, k_in, k_run, k_type = jax.random.split(state.key, 5)
        conditions = (state.trial + jnp.arange(self.batch)) % self.n_types
        if self.config.trial_order == "random":
            conditions = jax.random.randint(k_type, (self.batch,), 0, self.n_types)
        trials = self.env.sample_trials(k_trials, self.batch, conditions)
        inputs = self.env.inputs(k_in, trials)
        run = self.run_policy(state.params, inputs, k_run)
        out = self.env.outcomes(trials, run.actions)
        errors = -jnp.sum(out.reward, axis=0)  # (B,)
        to_go = jnp.flip(jnp.cumsum(jnp.flip(out.reward, 0), 0), 0)  # G_k (T, B)
        baseline, value, value_loss = self.batch_baseline(state, conditions, run, inputs, errors, out.mask)
        advantage = to_go + baseline
        dz = self.output_error(run, advantage, out.mask)
        g = self.local_update(self.feedback(state), run, dz)
        metrics = {"error": jnp.mean(errors), "baseline": jnp.sum(baseline * out.mask) / jnp.sum(out.mask)}
        if self.value_baseline is not None:
            metrics["value_loss"] = value_loss
        if self.track_alignment:
            metrics["bptt_cosine"] = cosine(g, self.bptt_gradient(state.params, run, dz))
        step, opt = self.optimizer.update(-g, state.opt, state.params["J"])
        learning = state.trial >= self.config.warmup_trials
        j = jnp.where(learning, optax.apply_updates(state.params["J"], step), state.params["J"])
        opt = jax.tree_util.tree_map(lambda new, old: jnp.where(learning, new, old), opt, state.opt)
        params = dict(state.params, J=j)
        after = PerturbationState(*state[:8])
        for i in range(self.batch):  # the running averages and the counts, trial by trial
            after = self.after_trial(after, conditions[i], errors[i], params, state.xbar, key, value)
        return LocalRateState(*after, opt=opt, feedback=state.feedback), metrics

    def batch_baseline(self, state: LocalRateState, conditions, run: PolicyRun, inputs, errors, mask):
        """(b (T, B): the baseline's prediction of each trial's error at every step, the value
        state after its step, its loss) for ``reward_baseline``."""
        kind = self.config.reward_baseline
        zero = jnp.zeros((), jnp.float32)
        shape = run.actions.shape
        if kind == "trial-type":
            return jnp.broadcast_to(state.baselines[conditions], shape), state.value, zero
        if kind in ("running", "none"):
            level = state.baselines[0] if kind == "running" else zero
            return jnp.broadcast_to(level, shape), state.value, zero
        read = run.r_next if self.config.value_input == "rates" else inputs
        vb = self.value_baseline
        keys = jax.random.split(jax.random.fold_in(state.key, VALUE_NETWORK_STREAM), self.batch)
        predicted, value, loss = vb.learn_batch(state.value, jnp.swapaxes(read, 0, 1), errors, keys, mask.T)
        return jax.vmap(vb.per_step)(predicted).T, value, loss
