"""A manipulation (:class:`~rewardrnn.manipulation.applied.Applied`) acting on one step of
Miconi's rate network (:mod:`rewardrnn.networks.rate`), on his tasks and acting in Song's.

At a step where the manipulation is on for a trial:

* silenced units' rates are 0: ``r_i = 0`` in the recurrent input ``J r`` and wherever the rate
  is read (the choice units' threshold, Miconi's output neuron), so nothing leaves them; their
  state still integrates (a clamped bias unit keeps its clamp, but sends nothing);
* the cut weights are zero: ``J[post, pre]`` for a cut recurrent connection pre -> post, a
  column of ``W_in`` for a cut input weight (the rate network has no readout weights: its
  choice units, or its output neuron, are units, silenced or cut as units);
* the stimulation current and the extra noise (std ``noise_std`` per step, times standard
  normal draws of a stream of their own) are added to the drive, where the inputs and kicks act:
  ``h = J r + W_in u + kick + current + noise``, so a noise std s moves x by ``(dt / tau) s``
  per step (Song's ``var_rec`` convention, as for the gated network).

Where it is off, the step is the intact network's, bit for bit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rewardrnn.manipulation.applied import Applied
from rewardrnn.networks import rate


def cut_params(applied: Applied, params: rate.Params) -> rate.Params | None:
    """``J`` and ``W_in`` with the cuts applied (``keep_rec`` is [pre, post], ``J`` [post, pre]),
    computed once per simulation; None when nothing is cut."""
    if not applied.cuts:
        return None
    return {"J": params["J"] * applied.keep_rec.T, "W_in": params["W_in"] * applied.keep_in.T}


def read_rates(applied: Applied, on: jax.Array, r: jax.Array) -> jax.Array:
    """The rates ``r`` (..., N) with the silenced units at 0 where ``on`` (...)."""
    return jnp.where(on[..., None] & applied.silenced, 0.0, r)


def step(applied: Applied, on: jax.Array, params: rate.Params, cut: rate.Params | None, config: rate.RateConfig,
         x: jax.Array, drive: jax.Array, cut_drive: jax.Array | None, q_extra: jax.Array | None,
         a: float) -> jax.Array:
    """x' of one step of the rate network from state ``x`` (..., N), manipulated where ``on``
    (...). ``drive``: the intact external drive ``u W_in^T + kick`` of this step
    (:func:`rate.external_drive`); ``cut`` and ``cut_drive``: the cut parameters
    (:func:`cut_params`) and their external drive, or None; ``q_extra``: standard normal draws
    (..., N) for the extra noise, or None."""
    col = on[..., None]
    r = read_rates(applied, on, rate.rates(x, config))
    extra = jnp.where(col, applied.current, 0.0)
    if applied.noisy:
        extra = extra + jnp.where(col, applied.noise_std * q_extra, 0.0)
    intact = lambda: rate.advance(params, config, x, r, drive + extra, a)  # noqa: E731
    if cut is None:
        return intact()
    manipulated = rate.advance(cut, config, x, r, cut_drive + extra, a)
    return manipulated if applied.whole_trial else jnp.where(col, manipulated, intact())
