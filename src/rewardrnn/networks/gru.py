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
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rewardrnn.errors import ConfigError
from rewardrnn.keys import fast_threefry

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


def effective_weights(params: Params, masks: Masks) -> tuple[jax.Array, ...]:
    """(W_in, b_in, W_rec, W_rec_gates), the recurrent blocks effective (masked, signed)."""
    return (params["W_in"], params["b_in"], *recurrent_weights(params, masks))


def drive(inputs: jax.Array, w_in: jax.Array, b_in: jax.Array) -> jax.Array:
    """The input drive ``u @ W_in + b_in`` (..., 3N) of every step at once: one large matrix
    product instead of one thin product per step (the inputs never depend on the state)."""
    return inputs @ w_in + b_in


def cell(x, d, q, w_rec, w_gates, a):
    """One step from state x with input drive d (3N, :func:`drive`) and noise q; returns x'
    and what the backward pass needs (lam, gam, h - x). Both gates come from one product."""
    n = x.shape[-1]
    r = jax.nn.relu(x)
    gates = jax.nn.sigmoid(r @ w_gates + d[..., n:])
    lam, gam = gates[..., :n], gates[..., n:]
    h_minus_x = (gam * r) @ w_rec + d[..., :n] + q - x
    return x + a * lam * h_minus_x, (lam, gam, h_minus_x)


def step(params: Params, masks: Masks, x: jax.Array, u: jax.Array, q: jax.Array, a: float) -> jax.Array:
    """One step x -> x' (see the module docstring); ``q`` is the noise already scaled."""
    w_in, b_in, w_rec, w_gates = effective_weights(params, masks)
    return cell(x, drive(u, w_in, b_in), q, w_rec, w_gates, a)[0]


class Trace(NamedTuple):
    """A run's states and what its backward pass needs, each (T, B, N) and zero from ``length``
    on: states x (``x[0] = x0``), update gate lam, reset gate gam and h - x of each step."""

    xs: jax.Array
    lam: jax.Array
    gam: jax.Array
    h_minus_x: jax.Array


#: Steps whose noise the step loops draw at once. JAX draws with threefry as a rolled loop on a
#: CPU, whose cost is mostly per call: one call per block of steps instead of one per step, and
#: at most a block's worth of steps drawn (and computed) after every trial has ended.
NOISE_BLOCK = 16


def padded_steps(steps: int) -> int:
    """``steps`` rounded up to whole noise blocks (the length of a step loop's buffers)."""
    return -(-steps // NOISE_BLOCK) * NOISE_BLOCK


def pad_steps(a: jax.Array, steps: int) -> jax.Array:
    """``a`` (T, ...) padded with zeros to ``steps`` rows."""
    if steps <= a.shape[0]:
        return a
    return jnp.concatenate([a, jnp.zeros((steps - a.shape[0],) + a.shape[1:], a.dtype)])


def block_loop(keep_going, step, draw, carry):
    """``carry = step(k, carry, noise_k)`` for k = 0, 1, 2, ... in blocks of NOISE_BLOCK steps,
    while ``keep_going(k, carry)`` holds at the start of a block (k its first step).
    ``draw(j)`` gives the noise of block j: a pytree of (NOISE_BLOCK, ...) arrays."""
    def block(c):
        j, carry = c
        noise = draw(j)
        run = lambda i, cc: step(j * NOISE_BLOCK + i, cc, jax.tree_util.tree_map(lambda a: a[i], noise))  # noqa: E731
        return j + 1, jax.lax.fori_loop(0, NOISE_BLOCK, run, carry)

    return jax.lax.while_loop(lambda c: keep_going(c[0] * NOISE_BLOCK, c[1]), block, (jnp.asarray(0), carry))[1]


def block_noise(keys: jax.Array, j, shape: tuple[int, ...], std: float = 1.0, sampler=jax.random.normal) -> jax.Array:
    """The noise of block ``j`` (NOISE_BLOCK, B, *shape): ``std * N(0, 1)`` (or ``std`` times
    another ``jax.random`` sampler's draws, e.g. ``jax.random.gumbel``), trial b's from
    ``fold_in(keys[b], j)``. Each trial has its own key, so a trial's noise does not depend on
    which other trials share its batch (nor on how a batch is split over devices), and only the
    blocks a loop reaches are drawn."""
    draw = lambda key: sampler(jax.random.fold_in(key, j), (NOISE_BLOCK,) + shape, jnp.float32)  # noqa: E731
    with fast_threefry():
        return std * jnp.swapaxes(jax.vmap(draw)(keys), 0, 1)


def empty_trace(x0: jax.Array, steps: int) -> Trace:
    """A trace of ``steps`` steps holding only ``x[0] = x0`` (B, N)."""
    zeros = jnp.zeros((steps,) + x0.shape, x0.dtype)
    return Trace(zeros.at[0].set(x0), zeros, zeros, zeros)


def record_step(trace: Trace, k, x_next, residuals) -> Trace:
    """``trace`` with step k's gates and h - x, and the state x[k+1], written in."""
    lam, gam, h_minus_x = residuals
    return Trace(trace.xs.at[k + 1].set(x_next), trace.lam.at[k].set(lam), trace.gam.at[k].set(gam),
                 trace.h_minus_x.at[k].set(h_minus_x))


def finish_trace(trace: Trace, steps: int, length: jax.Array | None = None) -> Trace:
    """A trace recorded in whole blocks cut to ``steps`` rows, its states from ``length`` on
    zeroed (when given)."""
    trace = Trace(*(a[:steps] for a in trace))
    if length is None:
        return trace
    return trace._replace(xs=jnp.where((jnp.arange(steps) < length)[:, None, None], trace.xs, 0.0))


def _forward(x0, d, draw, length, w_rec, w_gates, a) -> Trace:
    """The trace of ``x[k+1] = cell(x[k], d[k], q_k)`` for ``k + 1 < length``, the noise of each
    block of steps from ``draw(j)`` (:func:`block_loop`); rows from ``length`` on are zero."""
    steps = d.shape[0]
    rows = padded_steps(steps) + 1
    d = pad_steps(d, rows)

    def step(k, carry, q):
        x, trace = carry
        x, residuals = cell(x, d[k], q, w_rec, w_gates, a)
        return x, record_step(trace, k, x, residuals)

    _, trace = block_loop(lambda k, c: k + 1 < length, step, draw, (x0, empty_trace(x0, rows)))
    return finish_trace(trace, steps, length)


def noise_blocks(noise: jax.Array):
    """``draw(j)`` of :func:`block_loop` for noise given for every step (T, ...)."""
    padded = pad_steps(noise, padded_steps(noise.shape[0]))
    return lambda j: jax.lax.dynamic_slice_in_dim(padded, j * NOISE_BLOCK, NOISE_BLOCK)


@partial(jax.custom_vjp, nondiff_argnums=(8,))
def _run(x0, inputs, noise, length, w_in, b_in, w_rec, w_gates, a):
    """States (T, B, N): ``x[0] = x0`` and ``x[k+1] = cell(x[k], inputs[k], noise[k])`` for
    ``k + 1 < length``; rows from ``length`` on are zero (not computed)."""
    return _run_fwd(x0, inputs, noise, length, w_in, b_in, w_rec, w_gates, a)[0]


def _run_fwd(x0, inputs, noise, length, w_in, b_in, w_rec, w_gates, a):
    trace = _forward(x0, drive(inputs, w_in, b_in), noise_blocks(noise), length, w_rec, w_gates, a)
    return trace.xs, (trace, inputs, length, w_in, w_rec, w_gates)


@partial(jax.custom_vjp, nondiff_argnums=(8, 9))
def _run_keyed(x0, inputs, key, length, w_in, b_in, w_rec, w_gates, std, a):
    """:func:`_run` with the noise of each block of steps drawn by :func:`block_noise`."""
    return _run_keyed_fwd(x0, inputs, key, length, w_in, b_in, w_rec, w_gates, std, a)[0]


def _run_keyed_fwd(x0, inputs, key, length, w_in, b_in, w_rec, w_gates, std, a):
    n_units = x0.shape[-1]
    trace = _forward(x0, drive(inputs, w_in, b_in), lambda j: block_noise(key, j, (n_units,), std), length,
                     w_rec, w_gates, a)
    return trace.xs, (trace, inputs, length, w_in, w_rec, w_gates)


@partial(jax.custom_vjp, nondiff_argnums=(8,))
def _replay(x0, inputs, trace, length, w_in, b_in, w_rec, w_gates, a):
    """The states of a trace recorded elsewhere, as a function of the weights (for the gradient)."""
    return trace.xs


def _replay_fwd(x0, inputs, trace, length, w_in, b_in, w_rec, w_gates, a):
    return trace.xs, (trace, inputs, length, w_in, w_rec, w_gates)


def _backward(a, residuals, g_xs):
    """Hand-written backpropagation through time over the computed steps: the loop carries only
    dL/dx and stores the gradients of the pre-activations; the weight gradients are then summed
    over all steps and trials in a few large matrix products (autodiff would accumulate thin
    outer products inside the loop). Returns the cotangents of x0, the inputs and the weights."""
    trace, inputs, length, w_in, w_rec, w_gates = residuals
    xs, lam, gam, h_minus_x = trace
    zeros = jnp.zeros_like(xs)
    w_rec_t, w_gates_t = w_rec.T, w_gates.T

    def body(carry):
        k, g_next, g_h_all, g_gates_all = carry
        x, l, g, h = xs[k], lam[k], gam[k], h_minus_x[k]
        r = jax.nn.relu(x)
        g_h = g_next * a * l  # dL/dh, h = W_rec(gam*r) + drive_x + q
        g_gr = g_h @ w_rec_t
        g_pre = jnp.concatenate([g_next * a * h * l * (1 - l), g_gr * r * g * (1 - g)], axis=-1)
        g_r = g_gr * g + g_pre @ w_gates_t
        g_x = g_next * (1 - a * l) + g_r * (x > 0) + g_xs[k]
        return k - 1, g_x, g_h_all.at[k].set(g_h), g_gates_all.at[k].set(g_pre)

    last = length - 1
    carry = (last - 1, g_xs[last], zeros, jnp.concatenate([zeros, zeros], axis=-1))
    _, g_x0, g_h, g_pre = jax.lax.while_loop(lambda c: c[0] >= 0, body, carry)
    r = jax.nn.relu(xs)
    g_drive = jnp.concatenate([g_h, g_pre], axis=-1)  # (T, B, 3N), zero from length-1 on
    return (g_x0, g_drive @ w_in.T,
            jnp.einsum("tbi,tbj->ij", inputs, g_drive), g_drive.sum((0, 1)),
            jnp.einsum("tbi,tbj->ij", gam * r, g_h), jnp.einsum("tbi,tbj->ij", r, g_pre), g_h)


def _no_gradient(x) -> np.ndarray:
    """The zero cotangent of an integer argument."""
    return np.zeros(np.shape(x), jax.dtypes.float0)


def _run_bwd(a, residuals, g_xs):
    g_x0, g_in, g_w_in, g_b_in, g_w_rec, g_w_gates, g_noise = _backward(a, residuals, g_xs)
    return g_x0, g_in, g_noise, _no_gradient(residuals[2]), g_w_in, g_b_in, g_w_rec, g_w_gates


def _run_keyed_bwd(std, a, residuals, g_xs):
    g_x0, g_in, g_w_in, g_b_in, g_w_rec, g_w_gates, _ = _backward(a, residuals, g_xs)
    return g_x0, g_in, None, _no_gradient(residuals[2]), g_w_in, g_b_in, g_w_rec, g_w_gates


def _replay_bwd(a, residuals, g_xs):
    g_x0, g_in, g_w_in, g_b_in, g_w_rec, g_w_gates, _ = _backward(a, residuals, g_xs)
    trace = jax.tree_util.tree_map(jnp.zeros_like, residuals[0])
    return g_x0, g_in, trace, _no_gradient(residuals[2]), g_w_in, g_b_in, g_w_rec, g_w_gates


_run.defvjp(_run_fwd, _run_bwd)
_run_keyed.defvjp(_run_keyed_fwd, _run_keyed_bwd)
_replay.defvjp(_replay_fwd, _replay_bwd)


def _x0(params: Params, batch: int) -> jax.Array:
    return jnp.broadcast_to(params["x0"], (batch,) + params["x0"].shape)


def _length(length, steps: int) -> jax.Array:
    return jnp.asarray(steps if length is None else length, jnp.int32)


def run(params: Params, masks: Masks, inputs: jax.Array, noise: jax.Array, a: float,
        length: jax.Array | int | None = None) -> jax.Array:
    """States of whole trials, time-major: ``inputs`` (T, B, n_in) and ``noise`` (T, B, N) give
    ``x`` (T, B, N) with ``x[0] = x0`` and ``x[k+1] = step(x[k], inputs[k], noise[k])``.
    With ``length`` (a traced integer is fine) only the first ``length`` states are computed and
    the rest are zero: trials that have all ended need no more steps. The gradient is a
    hand-written BPTT over the computed steps (checked against autodiff in the tests)."""
    return _run(_x0(params, inputs.shape[1]), inputs, noise, _length(length, inputs.shape[0]),
                *effective_weights(params, masks), a)


def run_keyed(params: Params, masks: Masks, inputs: jax.Array, keys: jax.Array, std: float, a: float,
              length: jax.Array | int | None = None) -> jax.Array:
    """:func:`run` with the noise of step k drawn inside the loop from one key per trial
    (``keys`` (B,), :func:`block_noise`, block by block): no noise is drawn, or held in memory,
    for the blocks after ``length``."""
    return _run_keyed(_x0(params, inputs.shape[1]), inputs, keys, _length(length, inputs.shape[0]),
                      *effective_weights(params, masks), float(std), a)


def record(params: Params, masks: Masks, inputs: jax.Array, noise: jax.Array, a: float) -> Trace:
    """The :class:`Trace` of :func:`run` (states, gates and h - x of every step; forward only,
    no gradient): for rules that learn from the recorded run itself."""
    w_in, b_in, w_rec, w_gates = effective_weights(params, masks)
    return _forward(_x0(params, inputs.shape[1]), drive(inputs, w_in, b_in), noise_blocks(noise),
                    _length(None, inputs.shape[0]), w_rec, w_gates, a)


def replay(params: Params, masks: Masks, inputs: jax.Array, trace: Trace, a: float, length: jax.Array) -> jax.Array:
    """The states of ``trace``, recorded by a loop that ran these parameters on ``inputs`` (e.g.
    while sampling actions, :func:`record_step`), with their gradient with respect to the
    parameters: the states are not computed again, only backpropagated through."""
    return _replay(_x0(params, inputs.shape[1]), inputs, trace, _length(length, inputs.shape[0]),
                   *effective_weights(params, masks), a)


def stepper(params: Params, masks: Masks, a: float):
    """The step function ``(x, u, q) -> x'`` with the effective weights computed once, for loops
    that interleave the network with something else (e.g. sampling actions)."""
    w_in, b_in, w_rec, w_gates = effective_weights(params, masks)
    return lambda x, u, q: cell(x, drive(u, w_in, b_in), q, w_rec, w_gates, a)[0]


def readout(params: Params, x: jax.Array) -> jax.Array:
    """Linear readout of the rates: ``[x]+ @ W_out + b_out`` (policy logits or value)."""
    return jax.nn.relu(x) @ params["W_out"] + params["b_out"]


def states_from_rates(rates):
    """A state with the given rates ``[x]+``: x = r (silent units at 0, their threshold). The
    map loses how far below threshold a silent unit was; used to start searches from records."""
    return rates
