"""Miconi 2017's biologically plausible rule: random perturbations, a supralinear Hebbian
eligibility trace and one reward baseline per trial type (spec miconi2017.md §3).

One trial (spec §3.8), for t = 0 .. T-1 with dt = 1 ms:

* kicks: from t >= 4 each neuron independently, with probability p = 0.003 per ms, gets
  ``xi = A U(-1, 1)`` added to its drive (A = 16 for DNMS, 30 for selective integration);
* ``x(t)`` from the network step; fluctuation ``dx(t) = x(t) - xbar`` then
  ``xbar <- alpha_x xbar + (1 - alpha_x) x(t)`` with alpha_x = 0.05 (xbar is never reset);
* from t >= 3 the eligibility accumulates ``e_ij += S(r_j(t-1) dx_i(t))``.

After the trial: error ``E`` = mean |r_out - target| over the response window; the update
``Delta J = clip(-eta |Ebar_k| (E - Ebar_k) e, +-max_dw)`` (the code's form, the default, which
made the paper's figures) or ``clip(-eta (E - Ebar_k) e, ...)`` (the paper's form, with the
paper's eta = 0.5, alpha = 0.33, clip 1e-4); it is applied only once the trial index exceeds the
warm-up (100 trials); then ``Ebar_k <- alpha_R Ebar_k + (1 - alpha_R) E`` for the trial's type
k (alpha_R = 0.75).

Separable eligibility: for every S offered here, S(a b) = S(a) S(b) (cube, signed square x|x|,
identity, signed square root), so ``e = S(dx)^T S(r_prev)`` summed over time: one (N, T) x (T, N)
matrix product per trial instead of N^2 work per step. A test checks it against the per-step sum.

``method="node-perturbation"`` (the code's NODEPERT): the trace is ``sum_t xi_i(t) r_j(t-1)``,
the raw kicks (zero where there was none) times the presynaptic rates; suggested eta 0.001.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rewardrnn.errors import ConfigError
from rewardrnn.networks import rate
from rewardrnn.tasks.miconi import ContinuousTask

#: The supralinear (or not) functions S of the eligibility trace (spec §3.3 and §4.5).
NONLINEARITIES = {
    "cube": lambda z: z ** 3,
    "signed-square": lambda z: z * jnp.abs(z),
    "identity": lambda z: z,
    "signed-sqrt": lambda z: jnp.sign(z) * jnp.sqrt(jnp.abs(z)),
}
UPDATE_FORMS = ("code", "paper")
METHODS = ("hebbian", "node-perturbation")
TRIAL_ORDERS = ("cycle", "random")
#: The paper's constants for its update form (spec summary item 9).
PAPER_ETA, PAPER_ALPHA_BASELINE, PAPER_MAX_DW = 0.5, 0.33, 1e-4


@dataclass(frozen=True)
class PerturbationConfig:
    """Constants of the rule (spec §3.6; None = the task's value or the update form's value)."""

    nonlinearity: str = "cube"
    update: str = "code"
    method: str = "hebbian"
    eta: float | None = None
    max_dw: float | None = None
    kick_amplitude: float | None = None
    kick_prob: float = 0.003  # per ms per neuron (about 3 Hz)
    alpha_x: float = 0.05
    alpha_baseline: float | None = None  # 0.75 (code) or 0.33 (paper)
    warmup_trials: int = 100
    trace_start: int = 3  # Hebbian accumulation from t >= 3
    kick_start: int = 4  # kicks from t >= 4
    dt_ms: float = 1.0
    trial_order: str = "cycle"  # "cycle" (trial n has type n mod n_types, the original) or "random"

    def __post_init__(self) -> None:
        for name, allowed in (("nonlinearity", tuple(NONLINEARITIES)), ("update", UPDATE_FORMS),
                              ("method", METHODS), ("trial_order", TRIAL_ORDERS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        for name in ("eta", "max_dw", "kick_amplitude", "alpha_baseline"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be > 0, got {value!r}")
        if not 0 <= self.kick_prob <= 1:
            raise ConfigError(f"kick_prob must be in [0, 1], got {self.kick_prob!r}")

    def resolved(self, task: ContinuousTask) -> PerturbationConfig:
        """Fill the task's eta, max_dw and kick amplitude (code form) or the paper's constants."""
        paper = self.update == "paper"
        return PerturbationConfig(**{
            **self.__dict__,
            "eta": self.eta or (PAPER_ETA if paper else task.eta),
            "max_dw": self.max_dw or (PAPER_MAX_DW if paper else task.max_dw),
            "kick_amplitude": self.kick_amplitude or task.kick_amplitude,
            "alpha_baseline": self.alpha_baseline or (PAPER_ALPHA_BASELINE if paper else 0.75),
        })


#: Miconi's criterion (spec §5): more than 95 of the last 100 trials with error below threshold.
CRITERION_WINDOW, CRITERION_NEEDED = 100, 96


class PerturbationState(NamedTuple):
    """One network's learning state (a pytree; stack it to train seeds together)."""

    params: rate.Params
    xbar: jax.Array  # (N,) running average of x, never reset
    baselines: jax.Array  # (n_types,) expected error per trial type
    trial: jax.Array  # int32: trials done
    key: jax.Array
    recent_errors: jax.Array  # (100,) errors of the last 100 trials (ring buffer; inf before)
    criterion_trial: jax.Array  # int32: trials done when the criterion was first met; -1 before


class TrialRecord(NamedTuple):
    """What one trial produced: its type, its error and the output neuron's rate over time."""

    trial_type: jax.Array
    error: jax.Array
    output: jax.Array  # (T,) r_out(t)


class PerturbationLearner:
    """Miconi's rule on a :class:`ContinuousTask` with :mod:`rewardrnn.networks.rate`; a
    :class:`rewardrnn.learners.base.Learner` whose update is one trial.

    Miconi's criterion reads the training trials themselves (spec §5), so :meth:`evaluate` runs
    no extra trial: it reports the errors of the last 100 training trials kept in the state, and
    the exact trial count at which the criterion was first met. The best parameters are those of
    the lowest mean error of the last 100 trials (or those at the criterion)."""

    host_stepped = False
    trials_per_update = 1
    trace_metric = "error"
    performance_names = ("mean_error", "good_of_last_100")

    def __init__(self, task: ContinuousTask, config: PerturbationConfig = PerturbationConfig(),
                 network: rate.RateConfig | None = None):
        self.task = task
        self.config = config.resolved(task)
        self.network = network or rate.RateConfig(n_inputs=task.n_inputs, kind=task.network)
        if self.network.n_inputs != task.n_inputs:
            raise ConfigError(f"the network has {self.network.n_inputs} inputs, task {task.name} {task.n_inputs}")
        self.a = self.config.dt_ms / self.network.tau_ms
        self.s = NONLINEARITIES[self.config.nonlinearity]

    def init(self, key: jax.Array) -> PerturbationState:
        k_net, k_run = jax.random.split(key)
        n = self.network.n_units
        return PerturbationState(params=rate.init(k_net, self.network), xbar=jnp.zeros(n, jnp.float32),
                                 baselines=jnp.zeros(self.task.n_types, jnp.float32),
                                 trial=jnp.asarray(0, jnp.int32), key=k_run,
                                 recent_errors=jnp.full(CRITERION_WINDOW, jnp.inf, jnp.float32),
                                 criterion_trial=jnp.asarray(-1, jnp.int32))

    # ---- the learner interface ---------------------------------------------------------------
    def update(self, state: PerturbationState) -> tuple[PerturbationState, dict[str, jax.Array]]:
        """One trial and its weight update; metrics: the trial's error."""
        state, record = self.trial(state)
        return state, {"error": record.error}

    def evaluate(self, state: PerturbationState, key: jax.Array, n: int) -> dict[str, jax.Array]:
        """Mean error and number of good trials among the last 100 training trials, and the
        trial count at which the criterion was first met (``criterion_update``; -1 before)."""
        seen = jnp.isfinite(state.recent_errors)
        mean = jnp.sum(jnp.where(seen, state.recent_errors, 0.0)) / jnp.maximum(jnp.sum(seen), 1)
        good = jnp.sum(state.recent_errors < self.task.error_threshold)
        return {"mean_error": mean, "good_of_last_100": good.astype(jnp.float32),
                "criterion_update": state.criterion_trial}

    def evaluation_key(self, state: PerturbationState) -> jax.Array:
        return state.key

    def score(self, perf: dict) -> np.ndarray:
        return -np.asarray(perf["mean_error"])

    def criterion_met(self, perf: dict) -> np.ndarray:
        return np.asarray(perf["criterion_update"]) >= 0

    def describe_criterion(self) -> str:
        return self.task.describe_criterion()

    def best_params(self, state: PerturbationState) -> rate.Params:
        return state.params

    def updates(self, state: PerturbationState) -> jax.Array:
        return state.trial

    def with_seed_axis(self, name: str) -> PerturbationLearner:
        return self  # seeds never wait for each other here

    def describe(self) -> str:
        c = self.config
        return (f"Miconi's rule on {self.task.name} (S = {c.nonlinearity}, {c.update} update, {c.method}, "
                f"{self.network.n_units} units)")

    # ---- one trial ---------------------------------------------------------------------------
    def kicks(self, key: jax.Array) -> jax.Array:
        """(T, N) perturbations: A U(-1, 1) with probability p per neuron and ms, from t >= 4."""
        k_when, k_size = jax.random.split(key)
        shape = (self.task.n_steps, self.network.n_units)
        when = jax.random.bernoulli(k_when, self.config.kick_prob, shape)
        when = when & (jnp.arange(shape[0]) >= self.config.kick_start)[:, None]
        return when * self.config.kick_amplitude * jax.random.uniform(k_size, shape, jnp.float32, -1.0, 1.0)

    def run(self, params: rate.Params, xbar: jax.Array, x0: jax.Array, inputs: jax.Array, kicks: jax.Array):
        """Run one trial. Returns (xbar after it, rates r (T, N), presynaptic rates r(t-1) (T, N),
        fluctuations dx (T, N))."""
        alpha_x = self.config.alpha_x

        def body(carry, step_in):
            x, xbar = carry
            u, kick = step_in
            r_prev = rate.rates(x, self.network)
            x = rate.step(params, self.network, x, u, kick, self.a)
            dx = x - xbar
            xbar = alpha_x * xbar + (1 - alpha_x) * x
            return (x, xbar), (rate.rates(x, self.network), r_prev, dx)

        (_, xbar), (r, r_prev, dx) = jax.lax.scan(body, (x0, xbar), (inputs, kicks))
        return xbar, r, r_prev, dx

    def eligibility(self, r_prev: jax.Array, dx: jax.Array, kicks: jax.Array) -> jax.Array:
        """e [post, pre] (N, N) of one trial: ``S(dx)^T S(r_prev)`` over t >= trace_start (the
        separable form), or the node-perturbation trace ``kicks^T r_prev``."""
        if self.config.method == "node-perturbation":
            return kicks.T @ r_prev
        gate = (jnp.arange(dx.shape[0]) >= self.config.trace_start)[:, None]
        return (self.s(dx) * gate).T @ self.s(r_prev)

    def trial(self, state: PerturbationState, learn: bool = True) -> tuple[PerturbationState, TrialRecord]:
        """One trial of type ``trial mod n_types`` (cycled, as the original) or of a random type
        (``trial_order="random"``), then the update."""
        key, k_in, k_x0, k_kick, k_type = jax.random.split(state.key, 5)
        trial_type = state.trial % self.task.n_types
        if self.config.trial_order == "random":
            trial_type = jax.random.randint(k_type, (), 0, self.task.n_types)
        inputs = self.task.inputs(k_in, trial_type)
        kicks = self.kicks(k_kick)
        x0 = rate.initial_state(k_x0, self.network)
        xbar, r, r_prev, dx = self.run(state.params, state.xbar, x0, inputs, kicks)
        output = r[:, self.network.output_unit]
        mask = self.task.response_mask()
        target = jnp.asarray(self.task.targets)[trial_type]
        error = jnp.sum(jnp.abs(output - target) * mask) / jnp.sum(mask)
        params = state.params
        baseline = state.baselines[trial_type]
        if learn:
            e = self.eligibility(r_prev, dx, kicks)
            scale = jnp.abs(baseline) if self.config.update == "code" else 1.0
            delta = jnp.clip(-self.config.eta * scale * (error - baseline) * e, -self.config.max_dw, self.config.max_dw)
            apply = state.trial > self.config.warmup_trials  # "learning starts when the trial index > 100"
            params = dict(params, J=rate.impose_signs(params["J"] + jnp.where(apply, delta, 0.0), self.network))
        alpha = self.config.alpha_baseline
        baselines = state.baselines.at[trial_type].set(alpha * baseline + (1 - alpha) * error)
        recent = state.recent_errors.at[state.trial % CRITERION_WINDOW].set(error)
        done = state.trial + 1
        met = ((done >= CRITERION_WINDOW) & (jnp.sum(recent < self.task.error_threshold) >= CRITERION_NEEDED)
               & (state.criterion_trial < 0))
        new = PerturbationState(params, xbar, baselines, done, key, recent,
                                jnp.where(met, done, state.criterion_trial))
        return new, TrialRecord(trial_type, error, output)

    def train(self, state: PerturbationState, n_trials: int) -> tuple[PerturbationState, jax.Array]:
        """``n_trials`` trials in sequence (the weights change after each); returns the per-trial
        errors (n_trials,). Pure: jit it, vmap it over seeds."""
        def body(s, _):
            s, record = self.trial(s)
            return s, record.error
        return jax.lax.scan(body, state, None, length=n_trials)


def trials_to_criterion(errors, threshold: float = 1.0, window: int = CRITERION_WINDOW,
                        needed: int = CRITERION_NEEDED):
    """Miconi's criterion (spec §5): the first trial count n at which more than 95 of the last 100
    trials (n-100 .. n-1) had error < ``threshold``; -1 if never. ``errors`` (..., n_trials)."""
    good = (np.asarray(errors) < threshold).astype(np.int32)
    csum = np.cumsum(good, axis=-1)
    padded = np.concatenate([np.zeros(good.shape[:-1] + (1,), np.int32), csum], axis=-1)
    in_window = padded[..., window:] - padded[..., :-window]  # trials n-window .. n-1, n = window..
    met = in_window >= needed
    first = np.argmax(met, axis=-1) + window
    return np.where(met.any(axis=-1), first, -1)
