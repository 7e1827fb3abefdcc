"""Miconi's (2017) leaky tanh rate network (spec miconi2017.md §2).

Column convention as in Miconi's code: ``J[i, j]`` is the weight from neuron ``j`` onto neuron
``i`` (rows are postsynaptic). One Euler step (dt = 1 ms, tau = 30 ms)::

    h  = J tanh(x) + W_in u + xi            # xi: the exploratory kick, added to the drive
    x' = x + (dt / tau) (h - x)
    x'[bias] = (+1, +1, -1)                  # clamped bias neurons 1, 10, 11 (r = +-0.7616)

The rate is ``r = tanh(x)``; neuron 0 is the output and gets no direct input (row 0 of ``W_in``
is zero). ``J ~ N(0, g^2 / N)`` with g = 1.5 (the "early chaotic regime"), dense with self
connections; ``W_in ~ U(-1, 1)`` and fixed. Each trial starts from ``x ~ U(-0.1, 0.1)``, then
the clamps. Batched states are (B, N).

The E/I variant (``kind="ei"``, spec §4.4, after Mastrogiuseppe & Ostojic): threshold-linear
units ``r = clip(x + 2, 0, 20)`` (so the clamped bias neurons fire at 3, 3, 1); presynaptic
neurons 0 .. N/2-1 are excitatory (J >= 0) and the rest inhibitory (J <= 0), signs re-imposed
after every update (:func:`impose_signs`); each row starts with N/4 random excitatory entries of
+1 and N/4 random inhibitory entries of -1.2, all times 0.15.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from rewardrnn.errors import ConfigError

Params = dict[str, jax.Array]
#: Unit types: Miconi's tanh network, and the E/I network of the revision's Dale's-law experiment.
KINDS = ("tanh", "ei")
#: E/I network constants (spec §4.4): threshold shift, saturation, initial weights.
EI_SHIFT, EI_MAX, EI_EXC, EI_INH, EI_SCALE = 2.0, 20.0, 1.0, -1.2, 0.15


@dataclass(frozen=True)
class RateConfig:
    """Sizes and constants of Miconi's network (spec §2; defaults: DNMS)."""

    n_inputs: int
    n_units: int = 200
    tau_ms: float = 30.0
    g: float = 1.5
    output_unit: int = 0
    bias_units: tuple[int, ...] = (1, 10, 11)
    bias_values: tuple[float, ...] = (1.0, 1.0, -1.0)
    x_init: float = 0.1
    kind: str = "tanh"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"network kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        if not (isinstance(self.n_units, int) and self.n_units >= 2):
            raise ConfigError(f"N (number of neurons) must be an integer >= 2, got {self.n_units!r}")
        if not self.tau_ms > 0:
            raise ConfigError(f"tau must be > 0 ms, got {self.tau_ms!r}")
        used = (self.output_unit,) + tuple(self.bias_units)  # the bias units may be none
        if max(used) >= self.n_units or len(set(used)) != len(used):
            raise ConfigError(f"output unit {self.output_unit} and bias units {self.bias_units} must be "
                              f"distinct neurons below N={self.n_units}")
        if len(self.bias_units) != len(self.bias_values):
            raise ConfigError("give one clamped value per bias unit")


def rates(x: jax.Array, config: RateConfig) -> jax.Array:
    """Firing rates: tanh(x), or clip(x + 2, 0, 20) for the E/I network."""
    if config.kind == "ei":
        return jnp.clip(x + EI_SHIFT, 0.0, EI_MAX)
    return jnp.tanh(x)


def excitatory(config: RateConfig) -> jax.Array:
    """(N,) True for the excitatory (presynaptic) neurons of the E/I network: the first half."""
    return jnp.arange(config.n_units) < config.n_units // 2


def impose_signs(j: jax.Array, config: RateConfig) -> jax.Array:
    """J with Dale's law re-imposed (E/I network; unchanged otherwise): columns of excitatory
    neurons >= 0, of inhibitory neurons <= 0."""
    if config.kind != "ei":
        return j
    return jnp.where(excitatory(config), jnp.maximum(j, 0.0), jnp.minimum(j, 0.0))


def init(key: jax.Array, config: RateConfig) -> Params:
    """``J`` (N, N) ~ N(0, g^2/N) [post, pre] (or the E/I network's sparse signed start) and
    ``W_in`` (N, n_inputs) ~ U(-1, 1), row of the output neuron zeroed."""
    k_j, k_in = jax.random.split(key)
    n = config.n_units
    if config.kind == "ei":
        half = n // 2
        ranks = jnp.argsort(jax.random.uniform(k_j, (n, n)).reshape(n, 2, half), axis=-1).reshape(n, n)
        chosen = ranks < half // 2  # N/4 random entries per row among the E columns and among the I columns
        j = EI_SCALE * jnp.where(excitatory(config), EI_EXC, EI_INH) * chosen
    else:
        j = config.g / math.sqrt(n) * jax.random.normal(k_j, (n, n), jnp.float32)
    w_in = jax.random.uniform(k_in, (n, config.n_inputs), jnp.float32, -1.0, 1.0)
    return {"J": j, "W_in": w_in.at[config.output_unit].set(0.0)}


def clamp(x: jax.Array, config: RateConfig) -> jax.Array:
    """Set the bias neurons to their clamped values."""
    if not config.bias_units:
        return x
    return x.at[..., jnp.asarray(config.bias_units, jnp.int32)].set(jnp.asarray(config.bias_values, x.dtype))


def initial_state(key: jax.Array, config: RateConfig, batch: tuple[int, ...] = ()) -> jax.Array:
    """x ~ U(-x_init, x_init), then the clamps (spec §2, "Initial state per trial")."""
    x = jax.random.uniform(key, batch + (config.n_units,), jnp.float32, -config.x_init, config.x_init)
    return clamp(x, config)


def step(params: Params, config: RateConfig, x: jax.Array, u: jax.Array, kick: jax.Array, a: float) -> jax.Array:
    """One Euler step x -> x' (module docstring); ``a = dt / tau``, ``kick`` is added to the drive.
    The recurrent input uses the rates of the previous state."""
    return advance(params, config, x, rates(x, config), external_drive(params, u, kick), a)


def external_drive(params: Params, u: jax.Array, kick: jax.Array) -> jax.Array:
    """The drive that does not depend on the state, ``u W_in^T + kick``: of every step of a
    trial at once, one matrix product instead of one per step."""
    return u @ params["W_in"].T + kick


def advance(params: Params, config: RateConfig, x: jax.Array, r: jax.Array, drive: jax.Array, a: float) -> jax.Array:
    """:func:`step` from the state x, its rates r and its :func:`external_drive`."""
    return clamp(x + a * (r @ params["J"].T + drive - x), config)


def states_from_rates(r: jax.Array, config: RateConfig) -> jax.Array:
    """The state with rates ``r``: artanh r (clipped inside (-1, 1)) for tanh units, ``r - 2`` for
    the E/I network (silent units at their threshold, saturated ones at the ceiling); the clamped
    bias units at their values."""
    r = jnp.asarray(r)
    if config.kind == "ei":
        x = jnp.clip(r, 0.0, EI_MAX) - EI_SHIFT
    else:
        x = jnp.arctanh(jnp.clip(r, -1 + 1e-6, 1 - 1e-6))
    return clamp(x, config)
