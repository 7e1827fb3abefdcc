"""pyrl's linear value network (spec §3.4, Song et al. 2017 Fig. 1-S4): no memory, no noise.

The "state" at step k is the input vector itself, [policy rates r_{k-1}, one-hot a_{k-1}], and
at k = 0 a learnable vector ``x0`` (initialised to 0.5). The value is ``V_k = x_k @ W_out + b_out``
(no rectification); ``W_out`` starts at zero and ``b_out`` at R_ABORTED = -1, so that, as with
the gated value network, the first predictions are -1 everywhere. Same interface as
:mod:`rewardrnn.networks.gru` (``init``, ``run``, ``readout``) so that the learner can use either.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

Params = dict[str, jax.Array]
Masks = dict[str, jax.Array]


@dataclass(frozen=True)
class LinearConfig:
    """A linear readout of ``n_inputs`` values."""

    n_inputs: int
    n_outputs: int = 1
    out_bias: float = 0.0
    x0: float = 0.5
    tau_ms: float = 100.0  # unused: kept so that alpha / noise helpers accept either network
    var_rec: float = 0.0

    @property
    def n_units(self) -> int:
        """The state is the input: as many "units" as inputs (spec §3.4)."""
        return self.n_inputs


def init(key: jax.Array, config: LinearConfig) -> tuple[Params, Masks]:
    """W_out = 0, b_out = out_bias, x0 = 0.5; no masks."""
    del key
    return {
        "W_out": jnp.zeros((config.n_inputs, config.n_outputs), jnp.float32),
        "b_out": jnp.full(config.n_outputs, config.out_bias, jnp.float32),
        "x0": jnp.full(config.n_inputs, config.x0, jnp.float32),
    }, {}


def run(params: Params, masks: Masks, inputs: jax.Array, noise: jax.Array, a: float,
        length: jax.Array | int | None = None) -> jax.Array:
    """States (T, B, n_inputs): ``x[0] = x0`` and ``x[k+1] = inputs[k]`` (``noise``, ``a`` and
    ``length`` are accepted for the common interface; nothing is integrated, so all rows are
    computed)."""
    del masks, noise, a, length
    x0 = jnp.broadcast_to(params["x0"], inputs.shape[1:2] + params["x0"].shape)
    return jnp.concatenate([x0[None], inputs[:-1]], axis=0)


def readout(params: Params, x: jax.Array) -> jax.Array:
    """``V = x @ W_out + b_out`` (no rectification)."""
    return x @ params["W_out"] + params["b_out"]
