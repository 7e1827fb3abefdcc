"""A manipulation (:class:`~rewardrnn.manipulation.applied.Applied`) acting on one step of Song
et al.'s gated network (:func:`step`: the native tasks' loop, where the readout reads the state
before the step; :func:`host_step`: NeuroGym's, where it reads the state after it).

At a step where the manipulation is on for a trial (:meth:`Applied.on`: its epochs, or always):

* silenced units' states are set to 0 before the step (rate ``[x]+ = 0``: nothing reaches the
  readout, the gates or the other units; the unit still integrates its input during the step,
  and is set to 0 again at the next silenced step);
* the cut weights are zero: recurrent ``W_rec`` and both gate blocks for a cut connection, the
  three input columns (state and both gates) of a cut input weight, a readout weight;
* the stimulation current is added to the state part of the input drive (``v_x``);
* extra noise (std ``noise_std``, drawn by the caller from a stream of its own) is added to the
  recurrent noise ``q``.

Where it is off, the step is the intact network's, bit for bit (limited to epochs, the cut
network's step is computed beside the intact one and chosen per trial; the cut weights are
computed once per simulation, :func:`cut_weights`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from rewardrnn.manipulation.applied import Applied
from rewardrnn.networks import gru


def cut_weights(applied: Applied, policy: gru.Params, weights: tuple) -> tuple | None:
    """The effective (W_in, W_rec, W_rec_gates, W_out) with the cuts applied, computed once per
    simulation (outside the step loop); None when nothing is cut. ``weights``: the intact
    (W_in, b_in, W_rec, W_rec_gates) of :func:`gru.effective_weights`."""
    if not applied.cuts:
        return None
    w_in, _, w_rec, w_gates = weights
    return (w_in * jnp.tile(applied.keep_in, (1, 3)), w_rec * applied.keep_rec,
            w_gates * jnp.tile(applied.keep_rec, (1, 2)), policy["W_out"] * applied.keep_out)


def step(applied: Applied, on: jax.Array, policy: gru.Params, weights: tuple, cut: tuple | None, x: jax.Array,
         u: jax.Array, q: jax.Array, q_extra: jax.Array | None, a: float):
    """(logits, x', residuals) of one step of the gated network from state ``x`` (B, N) with
    input ``u`` and noise ``q``, manipulated where ``on`` (B,). ``weights``: the effective
    (W_in, b_in, W_rec, W_rec_gates) (:func:`gru.effective_weights`); ``cut``: the cut weights
    (:func:`cut_weights`); ``q_extra``: standard normal draws (B, N) for the extra noise, or
    None. A manipulation over the whole trial runs the cut network alone; one limited to epochs
    runs both and picks per trial."""
    w_in, b_in, w_rec, w_gates = weights
    col = on[:, None]
    x = jnp.where(col & applied.silenced, 0.0, x)
    if applied.noisy:
        q = q + jnp.where(col, applied.noise_std * q_extra, 0.0)
    n = x.shape[-1]
    current = jnp.where(col, applied.current, 0.0)

    def run(w_in, w_rec, w_gates, w_out):
        drive = gru.drive(u, w_in, b_in).at[..., :n].add(current)
        logits = jax.nn.relu(x) @ w_out + policy["b_out"]
        return (logits, *gru.cell(x, drive, q, w_rec, w_gates, a))

    if cut is None:
        return run(w_in, w_rec, w_gates, policy["W_out"])
    manipulated = run(*cut)
    if applied.whole_trial:
        return manipulated
    intact = run(w_in, w_rec, w_gates, policy["W_out"])
    pick = lambda m, i: jnp.where(col if m.ndim == 2 else on, m, i)  # noqa: E731
    return jax.tree_util.tree_map(pick, manipulated, intact)


def host_step(applied: Applied, on: jax.Array, policy: gru.Params, weights: tuple, cut: tuple | None, x: jax.Array,
              u: jax.Array, q: jax.Array, q_extra: jax.Array | None, a: float) -> tuple[jax.Array, jax.Array]:
    """(x', logits) of one manipulated step of NeuroGym's loop (:mod:`rewardrnn.learners.actor_critic_host`),
    where the readout reads the state *after* the step: :func:`step`, then the logits of x' with
    the silenced units at 0 and the cut readout, where ``on``."""
    _, x_next, _ = step(applied, on, policy, weights, cut, x, u, q, q_extra, a)
    col = on[:, None]
    shown = jnp.where(col & applied.silenced, 0.0, x_next)
    logits = gru.readout(policy, shown)
    if cut is not None:
        manipulated = jax.nn.relu(shown) @ cut[3] + policy["b_out"]
        logits = manipulated if applied.whole_trial else jnp.where(col, manipulated, logits)
    return x_next, logits


def run_value(applied: Applied, on: jax.Array, value: gru.Params, masks: gru.Masks, inputs: jax.Array,
              keys: jax.Array, std: float, a: float, extra_keys: jax.Array | None) -> jax.Array:
    """The predictions V (T, B) of the actor-critic's gated value network run under ``applied``
    on its inputs (T, B, n_in: the decision network's rates and one-hot actions,
    :meth:`~rewardrnn.learners.actor_critic.ActorCritic.value_inputs`), manipulated at the steps
    where ``on`` (T, B). The recurrent noise is the intact run's (``keys``: one per trial,
    :func:`gru.block_noise`), the extra noise from ``extra_keys``. V_k is the readout of state
    k with the silenced units at 0 (and the readout cut) where the manipulation acts at step k,
    as the intact ``readout(x_k)`` of :func:`gru.run_keyed` elsewhere."""
    weights = gru.effective_weights(value, masks)
    cut = cut_weights(applied, value, weights)
    steps, n_trials = inputs.shape[:2]
    n = value["x0"].shape[-1]
    rows = gru.padded_steps(steps) + 1
    padded_inputs, padded_on = gru.pad_steps(inputs, rows), gru.pad_steps(on, rows)

    def draw(j):
        return (gru.block_noise(keys, j, (n,), std),
                gru.block_noise(extra_keys, j, (n,)) if applied.noisy else None)

    def one(k, carry, noise):
        x, v = carry
        logits, x_next, _ = step(applied, padded_on[k], value, weights, cut, x, padded_inputs[k], noise[0],
                                 noise[1], a)
        return x_next, v.at[k].set(logits[:, 0])

    x0 = jnp.broadcast_to(value["x0"], (n_trials, n))
    _, v = gru.block_loop(lambda k, c: k < steps, one, draw, (x0, jnp.zeros((rows, n_trials), jnp.float32)))
    return v[:steps]
