"""Song, Yang & Wang's gated continuous-time recurrent unit (pyrl's "modified GRU", spec §3.1).

Row-vector convention as in pyrl: ``W[i, j]`` is the weight from unit (or input) ``i`` to unit
``j``. One step from state ``x`` (rates ``r = [x]+``) with input ``u`` and noise ``q``::

    [v_x, v_lam, v_gam] = u @ W_in + b_in
    lam = sigmoid(r @ W_rec_lam + v_lam)          # update gate
    gam = sigmoid(r @ W_rec_gam + v_gam)          # reset gate
    x'  = (1 - alpha*lam) * x + alpha*lam * ((gam * r) @ W_rec + v_x + q)

with ``alpha = dt / tau`` and ``q ~ N(0, (2 tau / dt) var_rec)``: the noise sits *inside* the
gated term. ``W_rec_gates = [W_rec_lam | W_rec_gam]``; ``W_in`` columns are [state | lam | gam].
Parameters are a dict of arrays; the fixed sparsity masks are a separate dict (never trained).

Dale's principle (``dale_ratio``, not in pyrl; as in Song, Yang & Wang 2016 and PsychRNN's
``dale_ratio``): the first ``round(dale_ratio * N)`` units are excitatory, the rest inhibitory.
The recurrent parameters then hold magnitudes and the effective weights are
``[W]+ * sign(presynaptic unit)``, for W_rec and both gate blocks: every outgoing connection of a
unit has that unit's sign, signs are fixed and magnitudes are trained (a magnitude driven below
zero is cut at zero, PsychRNN's and Song 2016's rectification). The masks dict carries the signs
(``dale_sign``, one per unit). Input and readout weights are not constrained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from rewardrnn.errors import ConfigError

Params = dict[str, jax.Array]
Masks = dict[str, jax.Array]


@dataclass(frozen=True)
class GRUConfig:
    """Sizes and initialisation constants of one network (defaults: spec §3.6).

    ``input_scale`` is pyrl's ``Win``: a scalar or an (n_inputs, 3N) initial-scale matrix.
    ``input_scale_units`` is the N in the input-weight scale sqrt(p0 * N) / n_inputs; pyrl uses
    the *policy* N for the value network too (spec §3.5), so the value network passes it here.
    """

    n_inputs: int
    n_outputs: int
    n_units: int = 100
    p0: float = 0.1
    rho: float = 2.0
    tau_ms: float = 100.0
    var_rec: float = 0.01
    input_scale: float | tuple = 1.0
    input_scale_units: int | None = None
    out_bias: float = 0.0
    x0: float = 0.5
    dale_ratio: float | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.n_units, int) and self.n_units >= 1):
            raise ConfigError(f"N (number of units) must be an integer >= 1, got {self.n_units!r}")
        if not 0 < self.p0 <= 1:
            raise ConfigError(f"p0 (connection probability) must be in (0, 1], got {self.p0!r}")
        if int(self.p0 * self.n_units) < 1:
            raise ConfigError(f"p0={self.p0} with N={self.n_units} leaves no recurrent input per unit "
                              f"(K = int(p0*N) = 0); use p0 >= {1 / self.n_units:g}")
        if not self.rho > 0:
            raise ConfigError(f"rho (spectral radius) must be > 0, got {self.rho!r}")
        if not self.tau_ms > 0:
            raise ConfigError(f"tau must be > 0 ms, got {self.tau_ms!r}")
        if not self.var_rec >= 0:
            raise ConfigError(f"var_rec must be >= 0, got {self.var_rec!r}")
        if self.dale_ratio is not None and not 0 < self.n_excitatory < self.n_units:
            raise ConfigError(f"dale_ratio={self.dale_ratio!r} with N={self.n_units} must leave at least one "
                              "excitatory and one inhibitory unit")

    @property
    def in_degree(self) -> int:
        """K = int(p0 * N), the fixed number of recurrent inputs of each unit."""
        return int(self.p0 * self.n_units)

    @property
    def n_excitatory(self) -> int:
        """Excitatory units under Dale's principle (the first ones); N without it."""
        return self.n_units if self.dale_ratio is None else int(round(self.dale_ratio * self.n_units))

    def dale_signs(self) -> np.ndarray:
        """+1 for excitatory and -1 for inhibitory units (all +1 without Dale's principle)."""
        signs = np.ones(self.n_units, np.float32)
        signs[self.n_excitatory:] = -1.0
        return signs


def alpha(config: GRUConfig, dt_ms: float) -> float:
    """Euler factor dt / tau (0.1 at the paper's dt = 10 ms, tau = 100 ms)."""
    a = dt_ms / config.tau_ms
    if not 0 < a <= 1:
        raise ConfigError(f"dt={dt_ms:g} ms must lie in (0, tau={config.tau_ms:g} ms] so that alpha = dt/tau <= 1")
    return a


def noise_std(config: GRUConfig, dt_ms: float) -> float:
    """Std of the recurrent noise q: sqrt((2 tau / dt) var_rec) (0.447 at the defaults)."""
    return math.sqrt(2 * config.tau_ms / dt_ms * config.var_rec)


def in_degree_mask(key: jax.Array, n_pre: int, n_post: int, k: int) -> np.ndarray:
    """A 0/1 (n_pre, n_post) mask in which every column (postsynaptic unit) has exactly ``k``
    ones at random rows, drawn independently per column (pyrl's fixed in-degree masks)."""
    if k >= n_pre:
        return np.ones((n_pre, n_post), np.float32)
    ranks = np.argsort(np.argsort(np.asarray(jax.random.uniform(key, (n_pre, n_post))), axis=0), axis=0)
    return (ranks < k).astype(np.float32)


def spectral_radius(w: np.ndarray) -> float:
    """Largest absolute eigenvalue of a square matrix."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(w, np.float64)))))


def _gamma_signed(key: jax.Array, shape: tuple[int, int]) -> np.ndarray:
    """Gamma(shape 4, scale 1/4) magnitudes (mean 1, var 1/4) with random signs (spec §3.5)."""
    k_mag, k_sign = jax.random.split(key)
    magnitude = jax.random.gamma(k_mag, 4.0, shape) / 4.0
    sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, shape), 1.0, -1.0)
    return np.asarray(magnitude * sign, np.float32)


def init(key: jax.Array, config: GRUConfig) -> tuple[Params, Masks]:
    """Initial parameters and fixed masks (spec §3.5).

    W_in = scale * N(0, 1) with scale = input_scale * sqrt(p0 * N_ref) / n_inputs; b_in = 0;
    recurrent blocks W_rec, W_rec_lam, W_rec_gam: signed Gamma(4, 1/4) entries, masked to in-degree
    K, each masked block rescaled to spectral radius rho; W_out = 0; b_out = out_bias; x0 = 0.5.

    With Dale's principle the signs come from the presynaptic unit instead of a coin, and the
    inhibitory magnitudes are multiplied by n_E / n_I so that excitation and inhibition balance
    on average (Song, Yang & Wang 2016); the parameters are the magnitudes.
    """
    n, n_in = config.n_units, config.n_inputs
    keys = jax.random.split(key, 7)
    n_ref = config.input_scale_units or n
    scale = np.asarray(config.input_scale, np.float32) * math.sqrt(config.p0 * n_ref) / n_in
    if scale.ndim and scale.shape != (n_in, 3 * n):
        raise ConfigError(f"input_scale matrix must have shape {(n_in, 3 * n)}, got {scale.shape}")
    w_in = scale * np.asarray(jax.random.normal(keys[0], (n_in, 3 * n)), np.float32)

    k = config.in_degree
    masks, blocks = [], []
    signs = config.dale_signs()[:, None]
    balance = np.where(signs > 0, 1.0, config.n_excitatory / max(n - config.n_excitatory, 1)).astype(np.float32)
    for i in range(3):  # W_rec, W_rec_lam, W_rec_gam: masks and rescaling per block
        mask = in_degree_mask(keys[1 + i], n, n, k)
        w = _gamma_signed(keys[4 + i], (n, n)) * mask
        if config.dale_ratio is not None:
            w = np.abs(w) * balance * signs  # signs of the presynaptic units
        w = w * (config.rho / spectral_radius(w))
        blocks.append((np.abs(w) if config.dale_ratio is not None else w).astype(np.float32))
        masks.append(mask)
    params = {
        "W_in": jnp.asarray(w_in),
        "b_in": jnp.zeros(3 * n, jnp.float32),
        "W_rec_gates": jnp.asarray(np.concatenate(blocks[1:], axis=1)),
        "W_rec": jnp.asarray(blocks[0]),
        "W_out": jnp.zeros((n, config.n_outputs), jnp.float32),
        "b_out": jnp.full(config.n_outputs, config.out_bias, jnp.float32),
        "x0": jnp.full(n, config.x0, jnp.float32),
    }
    mask_dict = {"W_rec": jnp.asarray(masks[0]), "W_rec_gates": jnp.asarray(np.concatenate(masks[1:], axis=1))}
    if config.dale_ratio is not None:
        mask_dict["dale_sign"] = jnp.asarray(config.dale_signs())
    return params, mask_dict


def recurrent_weights(params: Params, masks: Masks) -> tuple[jax.Array, jax.Array]:
    """Effective (W_rec, W_rec_gates): masked, and sign-constrained under Dale's principle."""
    w_rec, w_gates = params["W_rec"], params["W_rec_gates"]
    if "dale_sign" in masks:
        sign = masks["dale_sign"][:, None]
        w_rec, w_gates = jax.nn.relu(w_rec) * sign, jax.nn.relu(w_gates) * sign
    return w_rec * masks["W_rec"], w_gates * masks["W_rec_gates"]


def _split_gates(params: Params, masks: Masks):
    """Effective recurrent blocks W_rec, W_rec_lam, W_rec_gam."""
    n = params["W_rec"].shape[0]
    w_rec, w_gates = recurrent_weights(params, masks)
    return w_rec, w_gates[:, :n], w_gates[:, n:]


def _cell(x, u, q, w_in, b_in, w_rec, w_lam, w_gam, a):
    """One step from state x with input u and noise q; returns x' and what the backward pass
    needs (lam, gam, h - x)."""
    n = x.shape[-1]
    r = jax.nn.relu(x)
    drive = u @ w_in + b_in
    lam = jax.nn.sigmoid(r @ w_lam + drive[..., n:2 * n])
    gam = jax.nn.sigmoid(r @ w_gam + drive[..., 2 * n:])
    h_minus_x = (gam * r) @ w_rec + drive[..., :n] + q - x
    return x + a * lam * h_minus_x, (lam, gam, h_minus_x)


def step(params: Params, masks: Masks, x: jax.Array, u: jax.Array, q: jax.Array, a: float) -> jax.Array:
    """One step x -> x' (see the module docstring); ``q`` is the noise already scaled."""
    return _cell(x, u, q, params["W_in"], params["b_in"], *_split_gates(params, masks), a)[0]


@partial(jax.custom_vjp, nondiff_argnums=(9,))
def _run(x0, inputs, noise, length, w_in, b_in, w_rec, w_lam, w_gam, a):
    """States (T, B, N): ``x[0] = x0`` and ``x[k+1] = cell(x[k], inputs[k], noise[k])`` for
    ``k + 1 < length``; rows from ``length`` on are zero (not computed)."""
    return _run_fwd(x0, inputs, noise, length, w_in, b_in, w_rec, w_lam, w_gam, a)[0]


def _run_fwd(x0, inputs, noise, length, w_in, b_in, w_rec, w_lam, w_gam, a):
    steps = inputs.shape[0]
    zeros = jnp.zeros((steps,) + x0.shape, x0.dtype)

    def body(carry):
        k, x, xs, lam, gam, h_minus_x = carry
        x, (l, g, h) = _cell(x, inputs[k], noise[k], w_in, b_in, w_rec, w_lam, w_gam, a)
        return k + 1, x, xs.at[k + 1].set(x), lam.at[k].set(l), gam.at[k].set(g), h_minus_x.at[k].set(h)

    carry = (jnp.asarray(0), x0, zeros.at[0].set(x0), zeros, zeros, zeros)
    _, _, xs, lam, gam, h_minus_x = jax.lax.while_loop(lambda c: c[0] + 1 < length, body, carry)
    return xs, (xs, lam, gam, h_minus_x, inputs, length, w_in, w_rec, w_lam, w_gam)


def _run_bwd(a, residuals, g_xs):
    """Hand-written backpropagation through time over the computed steps: the loop carries only
    dL/dx and stores the gradients of the pre-activations; the weight gradients are then summed
    over all steps and trials in a few large matrix products (autodiff would accumulate thin
    outer products inside the loop)."""
    xs, lam, gam, h_minus_x, inputs, length, w_in, w_rec, w_lam, w_gam = residuals
    zeros = jnp.zeros_like(xs)

    def body(carry):
        k, g_next, g_h_all, g_lam_all, g_gam_all = carry
        x, l, g, h = xs[k], lam[k], gam[k], h_minus_x[k]
        r = jax.nn.relu(x)
        g_h = g_next * a * l  # dL/dh, h = W_rec(gam*r) + drive_x + q
        g_pre_lam = g_next * a * h * l * (1 - l)
        g_gr = g_h @ w_rec.T
        g_pre_gam = g_gr * r * g * (1 - g)
        g_r = g_gr * g + g_pre_lam @ w_lam.T + g_pre_gam @ w_gam.T
        g_x = g_next * (1 - a * l) + g_r * (x > 0) + g_xs[k]
        return k - 1, g_x, g_h_all.at[k].set(g_h), g_lam_all.at[k].set(g_pre_lam), g_gam_all.at[k].set(g_pre_gam)

    last = length - 1
    carry = (last - 1, g_xs[last], zeros, zeros, zeros)
    _, g_x0, g_h, g_pre_lam, g_pre_gam = jax.lax.while_loop(lambda c: c[0] >= 0, body, carry)
    r = jax.nn.relu(xs)
    g_drive = jnp.concatenate([g_h, g_pre_lam, g_pre_gam], axis=-1)  # (T, B, 3N), zero from length-1 on
    g_length = np.zeros((), jax.dtypes.float0)
    return (g_x0, g_drive @ w_in.T, g_h, g_length,
            jnp.einsum("tbi,tbj->ij", inputs, g_drive),
            g_drive.sum((0, 1)),
            jnp.einsum("tbi,tbj->ij", gam * r, g_h),
            jnp.einsum("tbi,tbj->ij", r, g_pre_lam),
            jnp.einsum("tbi,tbj->ij", r, g_pre_gam))


_run.defvjp(_run_fwd, _run_bwd)


def run(params: Params, masks: Masks, inputs: jax.Array, noise: jax.Array, a: float,
        length: jax.Array | int | None = None) -> jax.Array:
    """States of whole trials, time-major: ``inputs`` (T, B, n_in) and ``noise`` (T, B, N) give
    ``x`` (T, B, N) with ``x[0] = x0`` and ``x[k+1] = step(x[k], inputs[k], noise[k])``.
    With ``length`` (a traced integer is fine) only the first ``length`` states are computed and
    the rest are zero: trials that have all ended need no more steps. The gradient is a
    hand-written BPTT over the computed steps (checked against autodiff in the tests)."""
    x0 = jnp.broadcast_to(params["x0"], inputs.shape[1:2] + params["x0"].shape)
    length = jnp.asarray(inputs.shape[0] if length is None else length, jnp.int32)
    return _run(x0, inputs, noise, length, params["W_in"], params["b_in"], *_split_gates(params, masks), a)


def stepper(params: Params, masks: Masks, a: float):
    """The step function ``(x, u, q) -> x'`` with the masked weights computed once, for loops
    that interleave the network with something else (e.g. sampling actions)."""
    weights = (params["W_in"], params["b_in"], *_split_gates(params, masks))
    return lambda x, u, q: _cell(x, u, q, *weights, a)[0]


def readout(params: Params, x: jax.Array) -> jax.Array:
    """Linear readout of the rates: ``[x]+ @ W_out + b_out`` (policy logits or value)."""
    return jax.nn.relu(x) @ params["W_out"] + params["b_out"]


def states_from_rates(rates):
    """A state with the given rates ``[x]+``: x = r (silent units at 0, their threshold). The
    map loses how far below threshold a silent unit was; used to start searches from records."""
    return rates
