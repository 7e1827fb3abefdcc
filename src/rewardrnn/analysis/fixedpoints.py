"""Fixed points and slow points of a trained network (Sussillo & Barak 2013), in pure JAX.

For a deterministic step ``x' = F(x, u)`` (noise off) of any network here, the *speed* of a state
under a constant input ``u`` is::

    q(x) = 1/2 || F(x, u) - x ||^2          (state units squared, per time step)

Fixed points have q = 0; slow points are local minima of q above 0. :func:`find` minimises q from
many candidate states at once, each paired with its own input:

1. **Robust stage**: Adam on every point independently (the summed q is separable), with a
   per-point learning rate multiplied by ``GROW`` (1.02) after a step that lowered q and by
   ``SHRINK`` (0.7) after one that did not (fixed-point-finder's adaptive rate, but per point;
   every step is kept). A point stops when q < ``tol_q`` or its rate falls below ``min_lr``; the
   loop stops when every point of the chunk has. Candidates run in chunks of ``chunk`` points (bounded memory), one compiled
   shape for all chunks.
2. **Outliers**: points that ended farther from their condition's candidate centroid than
   ``outlier_scale`` times the candidates' median distance to it *and are still moving*
   (q >= ``precise_below``) are dropped (they ran off). A far point that is slow is kept: an
   untrained network, or a value network that a trial never lets settle, has its fixed points
   well outside the states its trials visit.
3. **De-duplication**: greedy leader clustering on the device, per input condition: the slowest
   point not yet assigned leads, every unassigned point within ``unique_tol`` (Euclidean, state
   units) joins it; the leaders are kept, with the size of their cluster.
4. **Precise stage**: Levenberg-Marquardt on the exact Jacobian A = dF/dx - I for the leaders
   with q < ``precise_below`` (points that are converging to a true fixed point): step
   (A^T A + mu I) d = -A^T (F - x), accepted only if q falls (mu / 3), else mu x 2. Then the
   leaders are de-duplicated once more.
5. **Linearisation**: the Jacobians with respect to the state (eigenvalues, right and left
   eigenvectors of the slowest modes) and to the input.

Discrete time: the network is simulated with the map F, so a mode with eigenvalue ``lam``
decays (``|lam| < 1``) or grows (``|lam| > 1``) by ``|lam|`` per step of ``dt`` ms; its time
constant is ``tau = -dt / ln|lam|`` ms (negative: a growth time). A point is *stable* when every
``|lam| < 1 - marginal_tol``, *marginal* when none exceeds ``1 + marginal_tol`` but some lies
within ``marginal_tol`` of 1 (a line- or plane-attractor direction), a *saddle* with unstable and
stable modes, and *unstable* when every mode grows.

The *selection vector* of a mode (Mante et al. 2013) is its left eigenvector ``l`` (normalised so
that ``l^H r = 1`` with the right eigenvector ``r``, ``||r|| = 1``): an input pulse ``du`` moves the
state along that mode by ``l^H (dF/du) du``; ``selection`` holds ``l^H dF/du`` per input channel.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from rewardrnn.errors import ConfigError

#: ``F(x, u) -> x'`` for one state (N,) and one input (n_in,); jit-able, deterministic.
StepFunction = Callable[[jax.Array, jax.Array], jax.Array]
STABILITY = ("stable", "marginal", "saddle", "unstable")
GROW, SHRINK = 1.02, 0.7


@dataclass(frozen=True)
class Dynamics:
    """A network's deterministic dynamics as the finder needs them: the step ``F(x, u)``, the
    rates of a state (for figures and for reading candidates out of records), the inverse map
    from recorded rates to states, the time step (ms) and the input channel names."""

    step: StepFunction
    rates: Callable[[jax.Array], jax.Array]
    states_from_rates: Callable[[np.ndarray], np.ndarray]
    dt_ms: float
    inputs: tuple[str, ...]
    name: str = "network"


@dataclass(frozen=True)
class FinderOptions:
    """Tolerances and budgets of :func:`find` (see the module docstring). ``q`` is in squared
    state units per step; distances in state units."""

    learning_rate: float = 0.1  # initial Adam rate per point (0.01 reached a 3.5x higher median q in the same time)
    max_steps: int = 1000
    tol_q: float = 1e-12
    min_lr: float = 1e-7
    chunk: int = 4096
    outlier_scale: float = 10.0
    unique_tol: float = 0.05
    precise_below: float = 1e-4
    precise_steps: int = 12
    marginal_tol: float = 1e-3
    n_slow_modes: int = 3
    float64: bool = False

    def __post_init__(self) -> None:
        for name in ("learning_rate", "min_lr", "outlier_scale", "unique_tol", "marginal_tol"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("max_steps", "chunk", "n_slow_modes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if self.tol_q < 0 or self.precise_below < 0 or self.precise_steps < 0:
            raise ConfigError("tol_q, precise_below and precise_steps must be >= 0")


def speed(step: StepFunction, x: jax.Array, u: jax.Array) -> jax.Array:
    """q(x) = 1/2 ||F(x, u) - x||^2 of one state."""
    d = step(x, u) - x
    return 0.5 * jnp.sum(d * d)


# ---- 1. the robust stage -----------------------------------------------------------------------
def _adam_chunk(step: StepFunction, options: FinderOptions):
    """A jitted function (x (C, N), u (C, n_in), live (C,)) -> (x, q, steps (C,)) running the
    per-point Adam with adaptive rates until every live point has stopped."""
    b1, b2, eps = 0.9, 0.999, 1e-8
    q_and_grad = jax.vmap(jax.value_and_grad(lambda x, u: speed(step, x, u)))

    @jax.jit
    def run(x, u, live):
        q, g = q_and_grad(x, u)
        zeros = jnp.zeros_like(x)
        lr = jnp.full(x.shape[:1], options.learning_rate, x.dtype)
        active = live & (q >= options.tol_q)
        n_steps = jnp.zeros(x.shape[:1], jnp.int32)

        def cond(c):
            k, _, _, _, _, _, _, active, _ = c
            return (k < options.max_steps) & jnp.any(active)

        def body(c):
            k, x, q, g, m, v, lr, active, n_steps = c
            m_new = b1 * m + (1 - b1) * g
            v_new = b2 * v + (1 - b2) * g * g
            t = (k + 1).astype(x.dtype)
            direction = (m_new / (1 - b1 ** t)) / (jnp.sqrt(v_new / (1 - b2 ** t)) + eps)
            x_try = x - lr[:, None] * direction
            q_try, g_try = q_and_grad(x_try, u)
            better = q_try < q
            keep = active[:, None]
            x, g = jnp.where(keep, x_try, x), jnp.where(keep, g_try, g)
            q = jnp.where(active, q_try, q)
            m = jnp.where(keep, m_new, m)
            v = jnp.where(keep, v_new, v)
            lr = jnp.where(active, jnp.where(better, lr * GROW, lr * SHRINK), lr)
            n_steps = n_steps + active
            active = active & (q >= options.tol_q) & (lr >= options.min_lr)
            return k + 1, x, q, g, m, v, lr, active, n_steps

        init = (jnp.asarray(0), x, q, g, zeros, zeros, lr, active, n_steps)
        _, x, q, _, _, _, _, _, n_steps = jax.lax.while_loop(cond, body, init)
        return x, q, n_steps

    return run


def _chunked(fn, options: FinderOptions, x: np.ndarray, u: np.ndarray):
    """Apply ``fn(x, u, live)`` over chunks of ``options.chunk`` points (the last one padded so
    that one compiled shape serves all); returns the outputs concatenated, padding removed."""
    n = len(x)
    if n == 0:  # nothing left (e.g. every point ran away): run one dummy row for the output shapes
        live = jnp.zeros(1, bool)
        return [np.asarray(o)[:0] for o in fn(jnp.zeros((1,) + x.shape[1:], x.dtype),
                                              jnp.zeros((1,) + u.shape[1:], u.dtype), live)]
    size = min(options.chunk, n)
    outs = []
    for start in range(0, n, size):
        stop = min(start + size, n)
        pad = size - (stop - start)
        xs = np.concatenate([x[start:stop], np.repeat(x[stop - 1:stop], pad, 0)])
        us = np.concatenate([u[start:stop], np.repeat(u[stop - 1:stop], pad, 0)])
        live = np.arange(size) < stop - start
        outs.append([np.asarray(o)[:stop - start] for o in fn(jnp.asarray(xs), jnp.asarray(us), jnp.asarray(live))])
    return [np.concatenate(parts) for parts in zip(*outs)]


# ---- 2-3. outliers and de-duplication ------------------------------------------------------------
@jax.jit
def _outliers(x, x0, group, scale):
    """True for points farther from their group's candidate centroid than ``scale`` x the median
    distance of that group's candidates to it (at least a tenth of the candidates' mean norm);
    groups: integers 0..G-1, G <= len(x)."""
    n_groups = x.shape[0]
    counts = jax.ops.segment_sum(jnp.ones(x.shape[0], x.dtype), group, n_groups)
    centroid = jax.ops.segment_sum(x0, group, n_groups) / jnp.maximum(counts, 1)[:, None]
    d0 = jnp.linalg.norm(x0 - centroid[group], axis=1)
    # median per group: sort distances by (group, distance), take the middle element of each group
    order = jnp.lexsort((d0, group))
    starts = jnp.cumsum(counts) - counts
    middle = order[(starts + jnp.floor((counts - 1) / 2)).astype(jnp.int32)]
    median = d0[middle]
    floor = 0.1 * jnp.mean(jnp.linalg.norm(x0, axis=1)) + 1e-6  # candidates all alike: no zero radius
    return jnp.linalg.norm(x - centroid[group], axis=1) > scale * jnp.maximum(median[group], floor)


def _leaders(x, q, group, keep, tol) -> tuple[np.ndarray, np.ndarray]:
    """(is_leader, cluster size) as numpy arrays; see :func:`_leader_clustering`."""
    if len(x) == 0:
        return np.zeros(0, bool), np.zeros(0, np.int32)
    return tuple(np.asarray(a) for a in _leader_clustering(jnp.asarray(x), jnp.asarray(q), jnp.asarray(group),
                                                           jnp.asarray(keep), tol))


@jax.jit
def _leader_clustering(x, q, group, keep, tol):
    """Greedy leader clustering (module docstring, step 3): (is_leader (n,), cluster size (n,)).
    Points with ``keep`` false take no part."""
    n = x.shape[0]
    order = jnp.argsort(jnp.where(keep, q, jnp.inf))
    x, group, keep = x[order], group[order], keep[order]

    def body(i, c):
        assigned, leader, size = c
        free = keep[i] & ~assigned[i]
        near = (jnp.linalg.norm(x - x[i], axis=1) <= tol) & (group == group[i]) & keep & ~assigned
        joins = free & near
        return assigned | joins, leader.at[i].set(free), size.at[i].set(jnp.where(free, jnp.sum(joins, dtype=jnp.int32), 0))

    _, leader, size = jax.lax.fori_loop(0, n, body, (jnp.zeros(n, bool), jnp.zeros(n, bool),
                                                            jnp.zeros(n, jnp.int32)))
    inverse = jnp.argsort(order)
    return leader[inverse], size[inverse]


# ---- 4. the precise stage ------------------------------------------------------------------------
def _levenberg_marquardt(step: StepFunction, options: FinderOptions):
    def residual(x, u):
        return step(x, u) - x

    jac = jax.vmap(jax.jacfwd(residual))
    res = jax.vmap(residual)

    @jax.jit
    def run(x, u, live):
        r = res(x, u)
        q = 0.5 * jnp.sum(r * r, axis=1)
        mu = jnp.full(x.shape[:1], 1e-3, x.dtype)
        eye = jnp.eye(x.shape[1], dtype=x.dtype)

        def body(_, c):
            x, r, q, mu = c
            a = jac(x, u)
            at = jnp.swapaxes(a, 1, 2)
            lhs = at @ a + mu[:, None, None] * eye
            d = -jnp.linalg.solve(lhs, (at @ r[..., None]))[..., 0]
            x_try = x + d
            r_try = res(x_try, u)
            q_try = 0.5 * jnp.sum(r_try * r_try, axis=1)
            better = live & (q_try < q)
            x = jnp.where(better[:, None], x_try, x)
            r = jnp.where(better[:, None], r_try, r)
            q = jnp.where(better, q_try, q)
            mu = jnp.where(better, mu / 3, mu * 2)
            return x, r, q, mu

        x, _, q, _ = jax.lax.fori_loop(0, options.precise_steps, body, (x, r, q, mu))
        return x, q

    return run


# ---- 5. linearisation ----------------------------------------------------------------------------
def _linearise(step: StepFunction, rates, n_slow: int):
    """A jitted function (x, u, live) -> (eigenvalues (P, N), right and left vectors of the
    ``n_slow`` slowest non-trivial modes, dF/du, selection, trivial (P, N) per mode).

    Trivial modes: a unit whose rate does not change with its state at x* (a silent ReLU or
    threshold-linear unit, a saturated one) acts on no other unit, so its column of the Jacobian
    is its own leak on the diagonal: an eigenvalue (e.g. 1 - alpha * gate) with a one-hot right
    eigenvector, whatever the network does. Ordering the units [active K; silent S], the
    Jacobian is block triangular [[A_KK, 0], [A_SK, diag c]]; its eigenvalues are those of A_KK
    (the network's modes) and c (the trivial ones), and the left eigenvectors of the network's
    modes vanish on S. The decomposition is computed on the block-diagonal [[A_KK, 0], [0, diag c]]
    (same eigenvalues, same left vectors); a mode is trivial when its right vector lies on the
    silent units. Modes are ordered non-trivial first, each group slowest first."""
    jx = jax.vmap(jax.jacfwd(step, argnums=0))
    ju = jax.vmap(jax.jacfwd(step, argnums=1))
    rate_slope = jax.vmap(lambda x: jax.jvp(rates, (x,), (jnp.ones_like(x),))[1])  # elementwise rates

    @jax.jit
    def run(x, u, live):
        a = jx(x, u)
        b = ju(x, u)  # (P, N, n_in)
        silent = rate_slope(x) == 0  # (P, N)
        active = ~silent
        split = jnp.where(active[:, :, None] & active[:, None, :], a, 0.0)
        split = split + jnp.where(silent, jnp.diagonal(a, axis1=1, axis2=2), 0.0)[:, :, None] * jnp.eye(a.shape[1], dtype=a.dtype)
        w, vl, vr = jax.lax.linalg.eig(split, compute_left_eigenvectors=True, compute_right_eigenvectors=True)
        on_silent = jnp.sum(jnp.abs(vr) ** 2 * silent[:, :, None], axis=1) / jnp.sum(jnp.abs(vr) ** 2, axis=1)
        trivial = on_silent > 0.5
        order = jnp.argsort(jnp.where(trivial, 10.0, 0.0) - jnp.abs(w), axis=1)  # network's modes first, slowest first
        w = jnp.take_along_axis(w, order, axis=1)
        trivial = jnp.take_along_axis(trivial, order, axis=1)
        slow = order[:, :n_slow]
        vr = jnp.take_along_axis(vr, slow[:, None, :], axis=2)  # (P, N, k) columns
        vl = jnp.take_along_axis(vl, slow[:, None, :], axis=2)
        vr = vr / jnp.linalg.norm(vr, axis=1, keepdims=True)
        overlap = jnp.sum(jnp.conj(vl) * vr, axis=1)  # l^H r per mode
        vl = vl / jnp.conj(overlap)[:, None, :]
        selection = jnp.einsum("pnk,pni->pki", jnp.conj(vl), b.astype(vl.dtype))
        return w, vr, vl, b, selection, trivial

    return run


@partial(jax.jit, static_argnums=0)
def _rates_and_slow_direction(rates, x, direction):
    """Rates at each point, and how they change along the real part of its slowest mode
    (d rates / dx applied to it): the mode as seen in rate space, for the figures."""
    return jax.vmap(lambda x, v: jax.jvp(rates, (x,), (v,)))(jnp.asarray(x), jnp.asarray(direction, x.dtype))


def classify(eigenvalues: np.ndarray, marginal_tol: float, trivial: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """(stability label per point, number of unstable modes) from discrete-time eigenvalues
    (P, N); see the module docstring. ``trivial`` (P, N): modes left out (silent units' leaks)."""
    mod = np.abs(eigenvalues)
    if trivial is not None:
        mod = np.where(trivial, 0.0, mod)  # counted as neither growing, marginal nor (below) stable
        stable_modes = ((mod < 1 - marginal_tol) & ~trivial).sum(1)
    else:
        stable_modes = (mod < 1 - marginal_tol).sum(1)
    unstable = (mod > 1 + marginal_tol).sum(1)
    near = (np.abs(mod - 1) <= marginal_tol).any(1)
    label = np.where(unstable == 0, np.where(near, "marginal", "stable"),
                     np.where(stable_modes + near > 0, "saddle", "unstable"))
    return label, unstable


def time_constants(eigenvalues: np.ndarray, dt_ms: float) -> np.ndarray:
    """tau = -dt / ln|lambda| (ms) per mode; negative for growing modes, inf at |lambda| = 1."""
    with np.errstate(divide="ignore"):
        return -dt_ms / np.log(np.abs(eigenvalues))


# ---- the whole search ----------------------------------------------------------------------------
def find(dynamics: Dynamics, candidates: np.ndarray, inputs: np.ndarray, condition: np.ndarray,
         labels: list[str], options: FinderOptions = FinderOptions()) -> xr.Dataset:
    """Fixed and slow points of ``dynamics`` from ``candidates`` (P, N) states, each paired with
    the input ``inputs`` (P, n_in); ``condition`` (P,) indexes ``labels`` (the input conditions;
    points are de-duplicated within a condition only). Returns the dataset of
    :func:`to_dataset`'s layout (one row per distinct point)."""
    candidates = np.asarray(candidates)
    if candidates.ndim != 2 or len(candidates) == 0:
        raise ConfigError(f"candidates must be a non-empty (points, units) array, got shape {candidates.shape}")
    if inputs.shape != (len(candidates), len(dynamics.inputs)):
        raise ConfigError(f"inputs must have shape {(len(candidates), len(dynamics.inputs))}, got {inputs.shape}")
    dtype = np.float64 if options.float64 else np.float32
    with jax.enable_x64(options.float64):
        x0 = candidates.astype(dtype)
        u = np.asarray(inputs, dtype)
        clock = _Clock()
        x, q, n_steps = _chunked(_adam_chunk(dynamics.step, options), options, x0, u)
        clock.lap("robust")
        group = jnp.asarray(condition, jnp.int32)
        far = np.asarray(_outliers(jnp.asarray(x), jnp.asarray(x0), group, options.outlier_scale))
        outlier = far & ~(np.asarray(q) < options.precise_below)
        keep = ~outlier & np.isfinite(q)
        leader, _ = _leaders(x, q, condition, keep, options.unique_tol)
        clock.lap("unique")
        idx = np.flatnonzero(leader)
        x, q, u_kept, cond, n_steps = x[idx], q[idx], u[idx], np.asarray(condition)[idx], n_steps[idx]
        precise = q < options.precise_below
        if precise.any() and options.precise_steps:
            xp, qp = _chunked(_levenberg_marquardt(dynamics.step, options), options, x[precise], u_kept[precise])
            x[precise], q[precise] = xp, qp
        clock.lap("precise")
        leader, size = _leaders(x, q, cond, np.ones(len(x), bool), options.unique_tol)
        idx = np.flatnonzero(leader)
        x, q, u_kept, cond, n_steps, precise = x[idx], q[idx], u_kept[idx], cond[idx], n_steps[idx], precise[idx]
        w, vr, vl, b, selection, trivial = _chunked(
            _linearise(dynamics.step, dynamics.rates, min(options.n_slow_modes, x.shape[1])), options, x, u_kept)
        rates, slow_rates = (np.asarray(a) for a in _rates_and_slow_direction(dynamics.rates, x, vr[:, :, 0].real))
        clock.lap("linearise")
    found = {"state": x, "rates": rates, "slow_rate_direction": slow_rates, "q": q, "input": u_kept, "condition": cond, "adam_steps": n_steps,
             "refined": precise, "cluster_size": size[idx], "eigenvalues": w, "right": vr, "left": vl,
             "input_jacobian": b, "selection": selection, "trivial": trivial}
    ds = to_dataset(found, dynamics, labels, options, n_candidates=len(candidates), n_outliers=int(outlier.sum()))
    ds.attrs["stage_s"] = json.dumps(clock.laps)
    return ds


class _Clock:
    """Wall seconds of the stages of :func:`find` (compilation included)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(self.laps.get(name, 0.0) + now - self._last, 3)
        self._last = now


def to_dataset(found: dict, dynamics: Dynamics, labels: list[str], options: FinderOptions,
               n_candidates: int, n_outliers: int) -> xr.Dataset:
    """The result as an xarray dataset: dims ``point`` x ``unit`` / ``mode`` (all N eigenvalues,
    slowest first) / ``slow_mode`` (the ``n_slow_modes`` slowest, with eigenvectors) /
    ``input``. Complex numbers are stored as ``*_real`` / ``*_imag`` pairs (NetCDF has none)."""
    w = np.asarray(found["eigenvalues"])
    trivial = np.asarray(found.get("trivial", np.zeros(w.shape, bool)), bool)
    stability, n_unstable = classify(w, options.marginal_tol, trivial)
    tau = time_constants(w, dynamics.dt_ms)
    dt = dynamics.dt_ms
    ds = xr.Dataset(
        {
            "state": (("point", "unit"), found["state"], {"description": "fixed/slow point x*"}),
            "rates": (("point", "unit"), found["rates"], {"description": "rates at x*"}),
            "slow_rate_direction": (("point", "unit"), found["slow_rate_direction"],
                                    {"description": "d rates/dx applied to Re of the slowest mode's right vector"}),
            "q": ("point", found["q"], {"description": "speed 1/2 ||F(x*, u) - x*||^2 (state units^2 per step)"}),
            "speed_per_ms": ("point", np.sqrt(2 * found["q"]) / dt,
                             {"description": "||F(x*, u) - x*|| / dt (state units per ms)"}),
            "input_value": (("point", "input"), found["input"], {"description": "the constant input u"}),
            "condition_index": ("point", found["condition"]),
            "cluster_size": ("point", found["cluster_size"], {"description": "candidates that ended at this point"}),
            "adam_steps": ("point", found["adam_steps"]),
            "refined": ("point", found["refined"].astype(np.int8),
                        {"description": "1 if the Levenberg-Marquardt stage ran on this point"}),
            "eig_real": (("point", "mode"), w.real), "eig_imag": (("point", "mode"), w.imag),
            "timescale_ms": (("point", "mode"), tau, {"description": "-dt / ln|lambda| (negative: growth)"}),
            "trivial": (("point", "mode"), trivial.astype(np.int8),
                        {"description": "1 for a silent unit's own leak (one-hot right vector), not the network's "
                                        "dynamics; modes: non-trivial first, each group slowest first"}),
            "n_trivial_modes": ("point", trivial.sum(1)),
            "n_unstable": ("point", n_unstable),
            "stability": ("point", stability.astype(str)),
            "right_real": (("point", "unit", "slow_mode"), found["right"].real),
            "right_imag": (("point", "unit", "slow_mode"), found["right"].imag),
            "left_real": (("point", "unit", "slow_mode"), found["left"].real),
            "left_imag": (("point", "unit", "slow_mode"), found["left"].imag),
            "input_jacobian": (("point", "unit", "input"), found["input_jacobian"],
                               {"description": "dF/du at x*"}),
            "selection_real": (("point", "slow_mode", "input"), found["selection"].real,
                               {"description": "l^H dF/du: how an input pulse moves the state along each slow mode"}),
            "selection_imag": (("point", "slow_mode", "input"), found["selection"].imag),
        },
        coords={"point": np.arange(len(found["q"])), "unit": np.arange(found["state"].shape[1]),
                "mode": np.arange(w.shape[1]), "slow_mode": np.arange(found["right"].shape[2]),
                "input": list(dynamics.inputs),
                "condition": ("point", np.asarray(labels, dtype=object)[found["condition"]].astype(str))},
        attrs={"network": dynamics.name, "dt_ms": dt, "n_candidates": n_candidates, "n_outliers": n_outliers,
               "condition_labels": json.dumps([str(label) for label in labels]),
               **{f"option_{k}": (int(v) if isinstance(v, bool) else v) for k, v in asdict(options).items()}},
    )
    return ds


def eigenvalues(ds: xr.Dataset) -> np.ndarray:
    """The complex eigenvalues (point, mode) of a fixed-point dataset."""
    return ds["eig_real"].values + 1j * ds["eig_imag"].values


def left_vectors(ds: xr.Dataset) -> np.ndarray:
    """Complex left eigenvectors (point, unit, slow_mode)."""
    return ds["left_real"].values + 1j * ds["left_imag"].values


def selection(ds: xr.Dataset) -> np.ndarray:
    """Complex selection vectors l^H dF/du (point, slow_mode, input)."""
    return ds["selection_real"].values + 1j * ds["selection_imag"].values


def right_vectors(ds: xr.Dataset) -> np.ndarray:
    """Complex right eigenvectors (point, unit, slow_mode), unit norm."""
    return ds["right_real"].values + 1j * ds["right_imag"].values


#: Speed tiers (q, squared state units per step): below FIXED_Q a point is fixed to float32
#: precision (rounding alone leaves ||F(x) - x|| near sqrt(N) * 1.2e-7 * |x|, q near 1e-12 for
#: N = 100 and |x| ~ 1: FIXED_Q is 100x that); below SLOW_Q it is slow (||F - x|| < 0.014 per
#: step: a state that takes over 70 steps to move by one unit; the slow manifold of a trained
#: mante network, median q 1.8e-6, passes).
FIXED_Q, SLOW_Q = 1e-10, 1e-4
#: A non-trivial mode within this of |lambda| = 1 counts as "near 1" (a line-attractor direction:
#: with dt = 10 ms, |lambda| = 0.99 is a 1-s time constant).
NEAR_ONE = 0.01


def summary(ds: xr.Dataset, fixed_q: float = FIXED_Q, slow_q: float = SLOW_Q) -> dict:
    """JSON-able numbers of a fixed-point dataset, by speed tier: *fixed* (q < ``fixed_q``),
    *slow* (``fixed_q`` <= q < ``slow_q``) and the rest; stability counts over the fixed and
    slow points, from the network's (non-trivial) modes only. Per input condition
    (``conditions`` -> label): ``n_fixed``, ``n_slow``, ``n_other``, ``by_stability``, and over its
    fixed and slow points (medians): ``slowest_nontrivial_abs_eig`` (|lambda| of the slowest
    non-trivial mode; also its maximum), ``second_nontrivial_abs_eig``,
    ``slowest_nontrivial_timescale_ms``, ``n_trivial_modes``, ``n_modes_near_1`` (non-trivial
    modes within ``NEAR_ONE`` of |lambda| = 1), ``line_attractor_fraction`` (points with exactly
    one such mode and none growing: Mante et al.'s line attractor) and ``selection``: per input
    channel, |l^H dF/du_channel| for the left eigenvector l of the slowest non-trivial mode
    (state units per input unit per step)."""
    if not (0 < fixed_q <= slow_q):
        raise ConfigError(f"the speed tiers need 0 < fixed q <= slow q, got {fixed_q!r} and {slow_q!r}")
    q = ds["q"].values
    stability = ds["stability"].values
    fixed, slow = q < fixed_q, (q >= fixed_q) & (q < slow_q)
    kept = fixed | slow
    w = np.abs(eigenvalues(ds))
    trivial = ds["trivial"].values.astype(bool) if "trivial" in ds else np.zeros(w.shape, bool)
    network_modes = np.where(trivial, np.nan, w)
    near = (np.abs(network_modes - 1) < NEAR_ONE).sum(1)
    growing = (network_modes > 1 + NEAR_ONE).sum(1)
    tau = ds["timescale_ms"].values
    sel = np.abs(selection(ds))[:, 0, :] if ds.sizes.get("slow_mode", 0) else np.zeros((len(q), 0))
    channels = [str(c) for c in ds["input"].values]
    conditions = {}
    labels = json.loads(ds.attrs["condition_labels"]) if "condition_labels" in ds.attrs else []
    for label in dict.fromkeys(labels + [str(c) for c in ds["condition"].values]):  # conditions without points too
        mine = ds["condition"].values.astype(str) == label
        slowish = mine & kept
        entry = {"n_fixed": int((mine & fixed).sum()), "n_slow": int((mine & slow).sum()),
                 "n_other": int((mine & ~kept).sum()),
                 "by_stability": {st: int((stability[slowish] == st).sum()) for st in STABILITY
                                  if (stability[slowish] == st).any()}}
        if slowish.any():
            first = network_modes[slowish, 0]
            second = network_modes[slowish, 1] if w.shape[1] > 1 else np.full(slowish.sum(), np.nan)
            entry.update(
                slowest_nontrivial_abs_eig=_median(first), slowest_nontrivial_abs_eig_max=_finite(np.nanmax(first)),
                second_nontrivial_abs_eig=_median(second),
                slowest_nontrivial_timescale_ms=_median(np.where(first < 1, tau[slowish, 0], np.nan)),
                n_trivial_modes=_median(trivial[slowish].sum(1)), n_modes_near_1=_median(near[slowish]),
                line_attractor_fraction=round(float(((near[slowish] == 1) & (growing[slowish] == 0)).mean()), 4),
                selection=_named_selection(sel[slowish], channels))
        conditions[label] = entry
    return {"points": len(q), "candidates": int(ds.attrs["n_candidates"]), "outliers": int(ds.attrs["n_outliers"]),
            "tiers": {"fixed_q": fixed_q, "slow_q": slow_q, "fixed": int(fixed.sum()), "slow": int(slow.sum()),
                      "other": int((~kept).sum()),
                      "q": "1/2 ||F(x*, u) - x*||^2, squared state units per step of dt ms; fixed: q < fixed_q "
                           "(float32 precision), slow: fixed_q <= q < slow_q"},
            "by_stability": {st: int((stability[kept] == st).sum()) for st in STABILITY},
            "conditions": conditions,
            "conventions": {"abs_eig": "|lambda| of the discrete-time map per step: < 1 decays, 1 holds, > 1 grows",
                            "timescale_ms": "-dt / ln|lambda|", "trivial": "silent units' own leaks, left out",
                            "selection": "|l^H dF/du| per input channel, l the slowest non-trivial mode's left "
                                         "eigenvector (l^H r = 1, ||r|| = 1); median over the fixed and slow points "
                                         f"(over {MAX_NAMED_CHANNELS} channels: the {LARGEST_CHANNELS} largest and "
                                         "norm, the median Euclidean norm of the vector)",
                            "medians": "over the condition's fixed and slow points"}}


#: Most input channels named one by one in a summary's ``selection``; beyond it (e.g. the value
#: network, whose inputs are the decision network's units) the largest ones and the norm.
MAX_NAMED_CHANNELS = 16
LARGEST_CHANNELS = 8


def _named_selection(sel: np.ndarray, channels: list[str]) -> dict:
    """Median |selection| per channel over points (P, channels); past :data:`MAX_NAMED_CHANNELS`
    channels, the :data:`LARGEST_CHANNELS` largest medians and ``norm`` (the median over
    points of the vector's Euclidean norm)."""
    medians = {c: _median(sel[:, i]) for i, c in enumerate(channels)}
    if len(channels) <= MAX_NAMED_CHANNELS:
        return medians
    largest = sorted(medians, key=lambda c: -(medians[c] or 0.0))[:LARGEST_CHANNELS]
    return {**{c: medians[c] for c in largest}, "norm": _median(np.linalg.norm(sel, axis=1))}


def _median(values) -> float | None:
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return round(float(np.median(values)), 6) if values.size else None


def _finite(value) -> float | None:
    return round(float(value), 6) if np.isfinite(value) else None
