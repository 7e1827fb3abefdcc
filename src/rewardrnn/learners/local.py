"""A local, online learning rule for Song et al.'s decision network with Song's value network as
its baseline (the "unified model" the commentary asks for: beyond both papers).

The actor-critic (:mod:`rewardrnn.learners.actor_critic`) computes the gradient of its policy
loss ``L = -(1/B) sum_b sum_k M log pi(a_k) (G_k - V_k)`` by backpropagation through time. This
learner keeps the loss, the trials, the value network and its training, the optimiser (Adam, lr
0.004, global-norm clip 1) and the validation, and replaces BPTT in the decision network by a
rule each synapse can compute from what it sees:

* **Learning signal** (per step k, per unit j): the policy-gradient error at the output,
  ``dL/dz_k = -(onehot(a_k) - pi_k) M_k A_k / B`` (the chosen action's one-hot minus pi, times
  the advantage ``A_k = G_k - V_k`` of Song's value network), sent back to the units through
  fixed feedback weights ``F`` (N x actions): ``l_j[k] = [x_j[k] > 0] (F dL/dz_k)_j``
  (``feedback="random"``, the default: F ~ N(0, 1/N) drawn once per seed, Lillicrap et al.'s
  feedback alignment as in RFLO and e-prop; ``feedback="readout"``: F = W_out, the transposed
  readout, which separates the two approximations: then only the truncation of the eligibility
  below differs from the gradient).
* **Eligibility trace** of the synapse i -> j, an approximation of ``dx_j[k] / dW_ij`` that
  ignores every path through other units: ``e_ij[k+1] = d_j[k] e_ij[k] + psi_ij[k]``,
  ``e_ij[0] = 0``, with ``psi_ij[k]`` the synapse's immediate effect on ``x_j[k+1]`` and
  ``d_j[k]`` the unit's own memory of it. Two rules (``rule``):

  - ``eprop`` (Bellec et al. 2020, reward-based e-prop, for this gated unit): ``d_j = 1 -
    alpha lam_j[k]``, the unit's internal Jacobian ``dx_j[k+1]/dx_j[k]`` with its rate held
    fixed (in e-prop recurrent inputs arrive through the units' outputs, here their rates);
    ``psi_ij = alpha lam_j gam_i r_i`` for W_rec, ``alpha lam_j u_i`` for the input weights and
    ``alpha lam_j`` for the bias of the state, and ``alpha (h_j - x_j) lam_j (1 - lam_j) r_i``
    (``u_i``, 1) for the update gate's recurrent (input, bias) weights, which are local too.
  - ``rflo`` (Murray 2019, random-feedback local online learning): the unit treated as a leaky
    one, ``d = 1 - alpha``, ``psi_ij = alpha r_i`` (``alpha u_i``, ``alpha``); the gates are
    not trained.

  The reset gate ``gam_i`` scales unit i's *output* to every other unit, so its weights have no
  local eligibility: they keep their initial values under both rules (so does ``x0``).
* **Update**: ``Delta W_ij`` estimates ``dL/dW_ij = sum_k l_j[k] e_ij[k]`` (summed over the
  batch's trials), the readout (W_out, b_out) by its exact, local gradient (the delta rule
  ``r_k (dL/dz_k)``), passed to Adam with the actor-critic's clipping.

The traces are online: with ``psi_ij = p_i q_j`` and a decay per postsynaptic unit,
``sum_k l_j[k] e_ij[k] = sum_s p_i[s] q_j[s] L_j[s]`` with ``L_j[s] = sum_{k>s} l_j[k]
prod_{s<u<k} d_j[u]``, the same number computed as one matrix product per trial instead of N x N
traces per step (:func:`eligibility_update`; the step-by-step traces are
:func:`online_traces`, and the tests check the two against each other and a hand computation).
The advantage ``G_k - V_k`` needs the trial's return, so the rule, like Song's REINFORCE and
Miconi's, applies its update at the end of the trial (a third factor arriving late).

With ``feedback="readout"`` and a trial whose only judged step is the first after x0, the update
is the exact gradient (the eligibility misses nothing); ``track_alignment`` adds the cosine of
the update with the true BPTT gradient of the same batch (the recurrent, gate and input weights)
to the metrics (``bptt_cosine``, computed beside the update: one BPTT backward pass more, 0.88 x
the throughput on rdm-fixed, benchmarks/results/local_speed.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rewardrnn.keys import FEEDBACK_STREAM
from rewardrnn.learners.actor_critic import ActorCritic, ActorCriticConfig, LearnerState
from rewardrnn.learners.actor_critic_host import HostBatchActorCritic
from rewardrnn.networks import gru

#: The local rules: e-prop's eligibility for the gated unit, or RFLO's leaky one.
RULES = ("eprop", "rflo")
#: The rules' names in descriptions.
RULE_NAMES = {"eprop": "e-prop", "rflo": "RFLO"}
#: Where the output error reaches the units from: fixed random weights, or the readout itself.
FEEDBACKS = ("random", "readout")


@dataclass(frozen=True)
class LocalRuleConfig(ActorCriticConfig):
    """The actor-critic's constants plus the rule (:data:`RULES`), the feedback
    (:data:`FEEDBACKS`) and whether to measure the alignment with BPTT each update."""

    rule: str = "eprop"
    feedback: str = "random"
    track_alignment: bool = False


class Factors(NamedTuple):
    """The per-step factors of one batch's eligibility (all (T, B, .), step k being x[k] ->
    x[k+1]): the decay ``d`` (T, B, N) of each postsynaptic unit, the presynaptic rates of the
    recurrent synapses ``pre_rec`` (T, B, N) and of the update gate ``pre_gate`` (T, B, N), the
    inputs ``u`` (T, B, n_in), and the postsynaptic factors of the state ``post_state`` and of
    the update gate ``post_gate`` (T, B, N; zeros where the rule does not train the gate)."""

    d: jax.Array
    pre_rec: jax.Array
    pre_gate: jax.Array
    u: jax.Array
    post_state: jax.Array
    post_gate: jax.Array


def factors(rule: str, trace: gru.Trace, inputs: jax.Array, alpha: float) -> Factors:
    """The eligibility's factors of a recorded run (module docstring) under ``rule``."""
    rates = jax.nn.relu(trace.xs)
    if rule == "rflo":
        ones = jnp.ones_like(trace.lam)
        return Factors((1.0 - alpha) * ones, rates, rates, inputs, alpha * ones, jnp.zeros_like(ones))
    lam = trace.lam
    return Factors(1.0 - alpha * lam, trace.gam * rates, rates, inputs, alpha * lam,
                   alpha * trace.h_minus_x * lam * (1.0 - lam))


def filtered_signal(signal: jax.Array, decay: jax.Array) -> jax.Array:
    """``L[s] = sum_{k>s} signal[k] prod_{s<u<k} decay[u]`` (T, B, N) by one reverse scan:
    ``L[T-1] = 0``, ``L[s] = signal[s+1] + decay[s+1] L[s+1]``."""
    nxt = jnp.concatenate([signal[1:], jnp.zeros_like(signal[:1])])
    d_next = jnp.concatenate([decay[1:], jnp.zeros_like(decay[:1])])

    def back(carry, step):
        s, d = step
        out = s + d * carry
        return out, out

    return jax.lax.scan(back, jnp.zeros_like(signal[0]), (nxt, d_next), reverse=True)[1]


def _outer(pre: jax.Array, post: jax.Array) -> jax.Array:
    """sum over steps and trials of pre_i post_j: (n_pre, n_post)."""
    return pre.reshape(-1, pre.shape[-1]).T @ post.reshape(-1, post.shape[-1])


def eligibility_update(f: Factors, signal: jax.Array) -> tuple[jax.Array, ...]:
    """The rule's estimates of the gradient with respect to the *effective* weights (W_in
    (n_in, 3N), b_in (3N), W_rec (N, N), W_rec_gates (N, 2N)): ``sum_k signal_j[k] e_ij[k]``
    over the batch (``signal`` (T, B, N): ``dL/dx``'s local estimate ``l``)."""
    later = filtered_signal(signal, f.d)
    m_state, m_gate = f.post_state * later, f.post_gate * later
    zeros_in = jnp.zeros((f.u.shape[-1], signal.shape[-1]), signal.dtype)
    w_in = jnp.concatenate([_outer(f.u, m_state), _outer(f.u, m_gate), zeros_in], axis=1)
    b_in = jnp.concatenate([m_state.sum((0, 1)), m_gate.sum((0, 1)), jnp.zeros(signal.shape[-1], signal.dtype)])
    n = signal.shape[-1]
    w_gates = jnp.concatenate([_outer(f.pre_gate, m_gate), jnp.zeros((n, n), signal.dtype)], axis=1)
    return w_in, b_in, _outer(f.pre_rec, m_state), w_gates


def online_traces(f: Factors) -> dict[str, jax.Array]:
    """The eligibility traces step by step (T, B, n_pre, N): ``e[k+1] = d[k] e[k] + psi[k]``,
    ``e[0] = 0``, for the recurrent weights (``rec``), the update gate's recurrent weights
    (``gate``) and the input weights of the state (``in``). Memory T x B x N^2: for tests and
    small networks; :func:`eligibility_update` gives the same update without them."""
    def run(pre, post):
        def step(e, k):
            psi = pre[k][:, :, None] * post[k][:, None, :]
            return f.d[k][:, None, :] * e + psi, e
        zero = jnp.zeros(pre.shape[1:] + post.shape[-1:], pre.dtype)
        return jax.lax.scan(step, zero, jnp.arange(pre.shape[0]))[1]

    return {"rec": run(f.pre_rec, f.post_state), "gate": run(f.pre_gate, f.post_gate), "in": run(f.u, f.post_state)}


def feedback_matrix(key: jax.Array, n_units: int, n_actions: int) -> jax.Array:
    """Fixed random feedback weights F (N, actions) ~ N(0, 1/N) (Lillicrap et al. 2016's scale)."""
    return jax.random.normal(key, (n_units, n_actions), jnp.float32) / jnp.sqrt(float(n_units))


def cosine(a, b) -> jax.Array:
    """The cosine between two pytrees of arrays, as flat vectors (0 if either is zero)."""
    dot = sum(jnp.vdot(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))
    norm = lambda t: jnp.sqrt(sum(jnp.sum(x ** 2) for x in jax.tree_util.tree_leaves(t)))  # noqa: E731
    return dot / jnp.maximum(norm(a) * norm(b), 1e-30)


#: The decision network's parameters whose credit crosses time (the alignment is measured on them).
THROUGH_TIME = ("W_in", "b_in", "W_rec", "W_rec_gates")


class LocalActorCritic(ActorCritic):
    """The learner (:class:`rewardrnn.learners.base.Learner`): the actor-critic with the
    decision network's BPTT replaced by the local rule (module docstring). The fixed random
    feedback weights are kept with the network's fixed masks (``policy_masks["feedback"]``)."""

    def describe(self) -> str:
        return (f"a local rule ({RULE_NAMES[self.config.rule]} eligibility, {self.config.feedback} feedback) with Song's value network on "
                f"{self.env.protocol.name}, dt {self.env.dt_ms:g} ms")

    def init(self, key: jax.Array) -> LearnerState:
        state = super().init(key)
        n, actions = self.policy_config.n_units, self.env.n_actions
        masks = dict(state.policy_masks, feedback=feedback_matrix(jax.random.fold_in(key, FEEDBACK_STREAM), n, actions))
        return state._replace(policy_masks=masks)

    def feedback(self, state: LearnerState) -> jax.Array:
        """F (N, actions): the fixed random weights or the current readout."""
        return state.policy["W_out"] if self.config.feedback == "readout" else state.policy_masks["feedback"]

    def update(self, state: LearnerState) -> tuple[LearnerState, dict[str, jax.Array]]:
        """One update on a native task: simulate a batch (recording the gates), then
        :meth:`rule_update`."""
        key, k_batch = jax.random.split(state.key)
        batch = self._share(self.draw_batch(k_batch, self.config.n_gradient))
        actions, trace = self.simulate(state.policy, state.policy_masks, batch, record=True)
        out = self.env.outcomes(batch.trials, actions)
        length = self._across_seeds(out.end_step.max() + 1)
        trace = trace._replace(xs=jnp.where((jnp.arange(trace.xs.shape[0]) < length)[:, None, None], trace.xs, 0.0))

        def value_of(value):
            return self.values(value, state.value_masks, batch.value_keys, trace.xs, actions, length, batch.trials)[1]

        choosing = self.response_steps(batch.trials, actions.shape[0]) if self.config.entropy_bonus else None
        return self.rule_update(state, key, trace, batch.inputs, actions, out.reward, out.mask, value_of, length,
                                trials=batch.trials, choosing=choosing)

    def rule_update(self, state: LearnerState, key: jax.Array, trace: gru.Trace, inputs: jax.Array,
                    actions: jax.Array, reward: jax.Array, mask: jax.Array, value_of, length,
                    offset: int = 0, trials=None, choosing=None,
                    factor=None) -> tuple[LearnerState, dict[str, jax.Array]]:
        """The update from a recorded run: ``trace`` (rows 0..T-1, ``xs[0] = x0``, row k the
        step driven by ``inputs[k]``) whose action of step t is read from row ``t + offset``
        (0 on native tasks; 1 where the action follows the step's input, NeuroGym);
        ``actions``, ``reward``, ``mask`` per action step; ``value_of(value)`` the value
        network's predictions per action step (differentiable in its parameters). The value
        network's gradient is the actor-critic's; the decision network's, the local rule's.
        ``factor``: the return's discount at each trial's end of a session (:meth:`returns`)."""
        policy, masks = state.policy, state.policy_masks
        logits = gru.readout(policy, trace.xs[offset:offset + actions.shape[0]])
        v, value_vjp = jax.vjp(value_of, state.value)
        lesioned = self.lesioned(state)
        (dz, dv), metrics = jax.grad(
            lambda z, vv: self.objective(z, actions, vv, reward, mask, choosing, lesioned, factor),
            argnums=(0, 1), has_aux=True)(logits, v)
        g_value = value_vjp(dv)[0]
        if self.config.baseline == "running":
            kept = 1.0 - lesioned.astype(jnp.float32)
            g_value = jax.tree_util.tree_map(
                lambda g: kept * g, jax.grad(self.running_baseline_loss)(state.value, trials, reward))
        dz = jnp.pad(dz, ((offset, trace.xs.shape[0] - offset - dz.shape[0]), (0, 0), (0, 0)))  # onto the rows
        g_policy = self.local_gradient(policy, masks, self.feedback(state), trace, inputs, dz)
        if self.config.track_alignment:
            true = self.bptt_gradient(policy, masks, inputs, trace, length, dz)
            local_part, true_part = ({k: self._across_trials(g[k]) for k in THROUGH_TIME} for g in (g_policy, true))
            devices = 1 if self.trial_axis is None else self.trial_axis[1]  # apply_gradients sums metrics over them
            metrics["bptt_cosine"] = cosine(local_part, true_part) / devices
        return self.apply_gradients(state, key, g_policy, g_value, metrics)

    def local_gradient(self, policy: gru.Params, masks: gru.Masks, feedback: jax.Array, trace: gru.Trace,
                       inputs: jax.Array, dz: jax.Array) -> gru.Params:
        """The rule's update direction for every decision-network parameter (a gradient
        estimate: Adam descends it) from a recorded batch and the output error ``dz = dL/dz``
        (T, B, actions): the local rule for W_in, b_in, W_rec and the update gate, the exact
        delta rule for the readout, zero for the reset gate and x0."""
        rates = jax.nn.relu(trace.xs)
        signal = (trace.xs > 0) * (dz @ feedback.T)
        effective = eligibility_update(factors(self.config.rule, trace, inputs, self.alpha), signal)
        _, to_params = jax.vjp(lambda p: gru.effective_weights(p, masks), policy)
        g = to_params(effective)[0]
        return dict(g, W_out=_outer(rates, dz), b_out=dz.sum((0, 1)), x0=jnp.zeros_like(policy["x0"]))

    def bptt_gradient(self, policy, masks, inputs, trace, length, dz) -> gru.Params:
        """The true gradient of the same batch's policy loss (BPTT through the recorded run,
        :func:`gru.replay`), the output error ``dz`` held fixed."""
        def loss(p):
            states = gru.replay(p, masks, inputs, trace, self.alpha, length)
            return jnp.sum(jax.lax.stop_gradient(dz) * gru.readout(p, states))
        return jax.grad(loss)(policy)


class LocalOnHost(HostBatchActorCritic):
    """The local rule on a NeuroGym environment: the NeuroGym actor-critic's trials (the policy
    acting in freshly seeded environments), validation and verbs, with each update's batch
    re-run to record its gates (the same inputs and noise: the trajectory is the one that acted)
    and learned by :meth:`LocalActorCritic.rule_update`; the value network as the actor-critic's."""

    core_class = LocalActorCritic

    def describe(self) -> str:
        name = self.task[5:] if self.task.startswith("ngym:") else self.task
        return (f"a local rule ({RULE_NAMES[self.core.config.rule]} eligibility, {self.core.config.feedback} feedback) with Song's value network on "
                f"{name} (dt {self.env.dt_ms:g} ms, {self.core.config.n_gradient} environments per update"
                f"{self.describe_episodes()})")

    def host_update(self, state: LearnerState, noise_key, inputs, actions, reward, mask, factor=None):
        core = self.core
        steps, batch = actions.shape
        key, k_batch = jax.random.split(state.key)  # as ActorCritic.update_with: k_batch for the value noise
        # inputs (T + 1, B, n_in), as the actor-critic's pass reads them: row T drives nothing read
        trace = gru.record(state.policy, state.policy_masks, inputs, self.recurrent_noise(noise_key, steps, batch),
                           core.alpha)

        def value_of(value):  # the NeuroGym actor-critic's value pass (_losses)
            return core.values(value, state.value_masks, jax.random.split(k_batch, batch), trace.xs[1:], actions)[1]

        return core.rule_update(state, key, trace, inputs, actions, reward, mask, value_of, steps + 1, offset=1,
                                factor=factor)
