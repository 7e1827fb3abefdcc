"""A manipulation of Song et al.'s gated network as arrays (:class:`Applied`), and one
manipulated step (:func:`step`), for the actor-critic's simulation loop.

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

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from rewardrnn.networks import gru


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Applied:
    """One manipulation as arrays: ``silenced`` (N,) bool, ``current`` (N,), ``noise_std`` (),
    kept weights ``keep_rec`` (N, N; presynaptic rows), ``keep_in`` (n_inputs, N) and
    ``keep_out`` (N, n_actions), 1 kept and 0 cut, and ``during`` (n_flags,) the epoch flags in
    which it acts (the task's ``flag_names``). Static: whether it acts over the whole trial,
    and which parts are there (so that an absent part costs nothing)."""

    silenced: jax.Array
    current: jax.Array
    noise_std: jax.Array
    keep_rec: jax.Array
    keep_in: jax.Array
    keep_out: jax.Array
    during: jax.Array
    whole_trial: bool = dataclasses.field(metadata=dict(static=True), default=True)
    cuts: bool = dataclasses.field(metadata=dict(static=True), default=False)
    noisy: bool = dataclasses.field(metadata=dict(static=True), default=False)

    @classmethod
    def build(cls, n_units: int, n_inputs: int, n_actions: int, n_flags: int, *, silenced=(), current=None,
              noise_std: float = 0.0, keep_rec=None, keep_in=None, keep_out=None, during=None) -> Applied:
        """From numpy pieces (None: nothing of that kind); ``during`` (n_flags,) bool or None
        for the whole trial."""
        mask = np.zeros(n_units, bool)
        mask[np.asarray(silenced, int)] = True
        ones = lambda shape: np.ones(shape, np.float32)  # noqa: E731
        cuts = any(k is not None and not np.all(k == 1) for k in (keep_rec, keep_in, keep_out))
        return cls(silenced=jnp.asarray(mask), current=jnp.asarray(np.zeros(n_units) if current is None else current,
                                                                  jnp.float32),
                   noise_std=jnp.asarray(noise_std, jnp.float32),
                   keep_rec=jnp.asarray(ones((n_units, n_units)) if keep_rec is None else keep_rec, jnp.float32),
                   keep_in=jnp.asarray(ones((n_inputs, n_units)) if keep_in is None else keep_in, jnp.float32),
                   keep_out=jnp.asarray(ones((n_units, n_actions)) if keep_out is None else keep_out, jnp.float32),
                   during=jnp.asarray(np.ones(n_flags, bool) if during is None else during),
                   whole_trial=during is None, cuts=bool(cuts), noisy=bool(noise_std > 0))

    def on(self, flags: jax.Array) -> jax.Array:
        """(B,) whether the manipulation acts at this step, from the step's epoch flags (B, n_flags)."""
        if self.whole_trial:
            return jnp.ones(flags.shape[:-1], bool)
        return jnp.any(flags & self.during, axis=-1)


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
