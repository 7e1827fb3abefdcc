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

Reward baselines (``reward_baseline``; the unified model of the commentary "Neural networks
subtract and conquer", eLife 2017, beyond both papers except ``trial-type``):

* ``trial-type`` (Miconi's, the default): one running average ``Ebar_k`` per trial type, which the
  rule is told.
* ``running``: one running average over all trials (alpha_R as above): what a network that is not
  told the trial type could keep.
* ``value``: a value network as in Song et al. 2017 (spec song2017.md §3.3, §4.3) reads the decision
  network's rates and predicts the trial's error; its prediction is the baseline. Choices the
  papers leave open, made here (see :class:`ValueBaseline`): it runs at Song's dt = 10 ms on the
  mean rates of every 10-ms bin (or on the task's inputs, ``value_input="stimuli"``); by default the baseline is time-resolved, as Song's: the
  trace of each 10-ms bin is weighed by ``E - V_k``, the prediction made at the start of that bin
  (``Delta J = -eta sum_t |V_t| (E - V_t) S(dx_t) S(r_{t-1})`` in the code form), or, with
  ``value_readout_ms``, one prediction read at that time serves the whole trial; it is trained by
  its own Adam (lr 0.004, clip 1: Song's) on the squared error of its predictions at every bin
  (Song's per-step value loss; the trial's return is the same at every step), with the
  pre-update predictions used by the rule (Song's order).
* ``none``: no baseline (``R_b = 0``). In the code form the factor |Ebar| is a learning-rate
  schedule, not a baseline: it is kept from a running average over all trials.

With ``value`` and ``none`` the code form's factor |Ebar| is |R_b| (value) or the running average
(none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rewardrnn.errors import ConfigError
from rewardrnn.keys import VALUE_NETWORK_STREAM, fast_threefry
from rewardrnn.networks import gru, rate
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
#: Reward baselines of the rule (module docstring); ``trial-type`` is Miconi's.
REWARD_BASELINES = ("trial-type", "running", "value", "none")
#: What the value network reads: the decision network's rates (Song's) or the task's inputs.
VALUE_INPUTS = ("rates", "stimuli")

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
    reward_baseline: str = "trial-type"  # module docstring
    value_lr: float = 0.004  # Adam learning rate of the value network (Song's baseline_lr)
    value_units: int = 100  # units of the value network (Song's baseline_N)
    value_readout_ms: float | None = None  # None: per 10-ms bin (time-resolved); a time: one baseline per trial
    value_input: str = "rates"  # what the value network reads: "rates" (Song's) or "stimuli"

    def __post_init__(self) -> None:
        for name, allowed in (("nonlinearity", tuple(NONLINEARITIES)), ("update", UPDATE_FORMS),
                              ("method", METHODS), ("trial_order", TRIAL_ORDERS),
                              ("reward_baseline", REWARD_BASELINES), ("value_input", VALUE_INPUTS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        for name in ("eta", "max_dw", "kick_amplitude", "alpha_baseline"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be > 0, got {value!r}")
        if not 0 <= self.kick_prob <= 1:
            raise ConfigError(f"kick_prob must be in [0, 1], got {self.kick_prob!r}")
        if not (isinstance(self.value_lr, (int, float)) and self.value_lr > 0):
            raise ConfigError(f"the value network's learning rate must be > 0, got {self.value_lr!r}")
        if not (isinstance(self.value_units, int) and self.value_units >= 1):
            raise ConfigError(f"the value network's units must be an integer >= 1, got {self.value_units!r}")
        if self.value_readout_ms is not None and not self.value_readout_ms >= 0:
            raise ConfigError(f"the value read-out time must be >= 0 ms, got {self.value_readout_ms!r}")

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


class ValueState(NamedTuple):
    """The value network of the ``value`` baseline: parameters, fixed masks, Adam state."""

    params: gru.Params
    masks: gru.Masks
    opt: optax.OptState


class PerturbationState(NamedTuple):
    """One network's learning state (a pytree; stack it to train seeds together)."""

    params: rate.Params
    xbar: jax.Array  # (N,) running average of x, never reset
    baselines: jax.Array  # (n_types,) expected error per trial type; (1,) one running average otherwise
    trial: jax.Array  # int32: trials done
    key: jax.Array
    recent_errors: jax.Array  # (100,) errors of the last 100 trials (ring buffer; inf before)
    criterion_trial: jax.Array  # int32: trials done when the criterion was first met; -1 before
    value: ValueState | None = None  # the value network (``value`` baseline only)


class ValueBaseline:
    """Song et al.'s value network (spec song2017.md §3.3: a fully connected gated ReLU network,
    100 units, rho 2, tau 100 ms, recurrent noise var 0.01) reading the rates of Miconi's network
    and predicting the trial's error.

    * Input: the decision network's rates (``rates``, Song's), or the task's inputs that the
      decision network receives (``stimuli``): these do not depend on the kicks, so a prediction
      read from them at any time leaves the update unbiased; it can learn the expected error of
      each stimulus configuration, Miconi's per-type baseline without being told the type.
    * Time: it steps at Song's dt = 10 ms; its input at bin k is the mean of its input over the bin
      (steps 10k .. 10k + 9 of the 1-ms network), so its state after k bins has seen the first
      10k ms, and prediction ``V_k`` is read out of that state.
    * Read-out, time-resolved (``readout_ms=None``, the default): the kicks and trace of bin k are
      weighed by ``E - V_k``, as Song's policy gradient weighs the action at step t by
      ``G_t - V_t``. ``V_k`` depends only on what happened before bin k, so it is uncorrelated
      with the kicks of bin k and the update stays unbiased, while the part of the error that the
      state at bin k already predicts is removed.
    * Read-out at one time (``readout_ms`` = t): one baseline ``V_K``, ``K = t // 10``, for the
      whole trial, as Miconi's single reward baseline. It depends on the kicks before t, so it
      also subtracts their effect on the error (a bias; measured in docs/unified-model.md).
    * Loss: ``mean_k (V_k - E)^2`` over the bins it reads (Song's per-step loss; the trial's return
      is the same at every step); one Adam step per trial (lr 0.004, global-norm clip 1: Song's
      optimiser), after the rule used the pre-update predictions (Song's order, spec §4.4).
    """

    BIN_MS = 10.0

    def __init__(self, n_rates: int, n_steps: int, dt_ms: float, readout_ms: float | None, n_units: int, lr: float):
        self.bin_steps = max(1, int(round(self.BIN_MS / dt_ms)))
        self.n_steps = n_steps
        self.n_bins = n_steps // self.bin_steps
        self.time_resolved = readout_ms is None
        if self.time_resolved:
            self.readout_bin = self.n_bins - 1
        else:
            self.readout_bin = min(int(readout_ms // (self.bin_steps * dt_ms)), self.n_bins)
        self.config = gru.GRUConfig(n_inputs=n_rates, n_outputs=1, n_units=n_units, p0=1.0, rho=2.0,
                                    input_scale_units=n_rates)
        self.alpha = gru.alpha(self.config, self.bin_steps * dt_ms)
        self.noise_std = gru.noise_std(self.config, self.bin_steps * dt_ms)
        self.optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8))

    def init(self, key: jax.Array) -> ValueState:
        params, masks = gru.init(key, self.config)
        return ValueState(params, masks, self.optimizer.init(params))

    def predictions(self, params: gru.Params, masks: gru.Masks, rates: jax.Array, key: jax.Array) -> jax.Array:
        """V_k for k = 0 .. K (the read-out bin), (K + 1,), from what it reads of one trial:
        ``rates`` (T, n_in), the decision network's rates or the task's inputs."""
        x0 = jnp.broadcast_to(params["x0"], (1, 1) + params["x0"].shape)
        if self.readout_bin == 0:  # read from the initial state alone: a learned constant
            return gru.readout(params, x0)[:, 0, 0]
        n = self.readout_bin * self.bin_steps
        binned = rates[:n].reshape(self.readout_bin, self.bin_steps, -1).mean(axis=1)[:, None, :]  # (K, 1, n_in)
        noise = self.noise_std * jax.random.normal(key, binned.shape[:2] + (self.config.n_units,), jnp.float32)
        states = gru.run(params, masks, binned, noise, self.alpha)  # x[0] .. x[K-1]
        last = gru.step(params, masks, states[-1], binned[-1], noise[-1], self.alpha)  # x[K]
        return gru.readout(params, jnp.concatenate([states, last[None]], axis=0))[:, 0, 0]

    def per_step(self, v: jax.Array) -> jax.Array:
        """The baseline of every 1-ms step (T,): V of the step's bin (time-resolved) or V_K."""
        if not self.time_resolved:
            return jnp.broadcast_to(v[-1], (self.n_steps,))
        return v[jnp.minimum(jnp.arange(self.n_steps) // self.bin_steps, self.readout_bin)]

    def learn(self, value: ValueState, rates: jax.Array, error: jax.Array, key: jax.Array,
              mask: jax.Array | None = None):
        """(the predictions V_0..V_K before the update, the updated value state, the loss). With
        ``mask`` (T,) (a native task's trial that ended early) the loss covers only the bins
        whose first step is in the mask."""
        v, value, loss = self.learn_batch(value, rates[None], error[None], key[None],
                                          None if mask is None else mask[None])
        return v[0], value, loss

    def learn_batch(self, value: ValueState, rates: jax.Array, error: jax.Array, keys: jax.Array,
                    mask: jax.Array | None = None):
        """:meth:`learn` on a batch: ``rates`` (B, T, n_in), ``error`` (B,), ``keys`` (B,),
        ``mask`` (B, T) or None; one Adam step on the batch's mean loss. Returns the predictions
        (B, K + 1) before the update, the updated value state and the mean loss."""
        rates = jax.lax.stop_gradient(rates)
        weights = jnp.ones(error.shape + (self.readout_bin + 1,), jnp.float32)
        if mask is not None:
            first_steps = jnp.minimum(jnp.arange(self.readout_bin + 1) * self.bin_steps, self.n_steps - 1)
            weights = mask[:, first_steps]

        def loss(params):
            v = jax.vmap(lambda r, k: self.predictions(params, value.masks, r, k))(rates, keys)
            per_trial = jnp.sum(weights * (v - error[:, None]) ** 2, axis=1) / jnp.maximum(jnp.sum(weights, axis=1), 1.0)
            return jnp.mean(per_trial), v

        (loss_value, v), grads = jax.value_and_grad(loss, has_aux=True)(value.params)
        updates, opt = self.optimizer.update(grads, value.opt, value.params)
        return jax.lax.stop_gradient(v), ValueState(optax.apply_updates(value.params, updates), value.masks, opt), \
            loss_value


class TrialRecord(NamedTuple):
    """What one trial produced: its type, its error, the output neuron's rate over time, the
    baseline the rule compared the error with (its mean over the trial when it is per step) and
    the value network's loss (0 without one)."""

    trial_type: jax.Array
    error: jax.Array
    output: jax.Array  # (T,) r_out(t)
    baseline: jax.Array
    value_loss: jax.Array


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
        self.n_steps, self.n_types, self.error_threshold = task.n_steps, task.n_types, task.error_threshold
        self.setup_rule(task.n_inputs)

    def setup_rule(self, n_task_inputs: int) -> None:
        """What the rule derives from its config and network (set ``self.config``,
        ``self.network`` and ``self.n_steps`` first): the Euler factor, S, the per-step kick
        probability and the value network."""
        self.a = self.config.dt_ms / self.network.tau_ms
        self.s = NONLINEARITIES[self.config.nonlinearity]
        p, dt = self.config.kick_prob, self.config.dt_ms
        self.kick_prob_per_step = p if dt == 1.0 else 1.0 - (1.0 - p) ** dt
        self.value_baseline = None
        if self.config.reward_baseline == "value":
            n_read = self.network.n_units if self.config.value_input == "rates" else n_task_inputs
            self.value_baseline = ValueBaseline(n_read, self.n_steps, self.config.dt_ms,
                                                self.config.value_readout_ms, self.config.value_units,
                                                self.config.value_lr)

    @property
    def n_baselines(self) -> int:
        """Running averages kept: one per trial type (``trial-type``), one otherwise."""
        return self.n_types if self.config.reward_baseline == "trial-type" else 1

    def init(self, key: jax.Array) -> PerturbationState:
        k_net, k_run = jax.random.split(key)
        n = self.network.n_units
        value = None
        if self.value_baseline is not None:  # its own key, so the other streams match the other baselines'
            value = self.value_baseline.init(jax.random.fold_in(key, VALUE_NETWORK_STREAM))
        return PerturbationState(params=rate.init(k_net, self.network), xbar=jnp.zeros(n, jnp.float32),
                                 baselines=jnp.zeros(self.n_baselines, jnp.float32),
                                 trial=jnp.asarray(0, jnp.int32), key=k_run,
                                 recent_errors=jnp.full(CRITERION_WINDOW, jnp.inf, jnp.float32),
                                 criterion_trial=jnp.asarray(-1, jnp.int32), value=value)

    # ---- the learner interface ---------------------------------------------------------------
    def update(self, state: PerturbationState) -> tuple[PerturbationState, dict[str, jax.Array]]:
        """One trial and its weight update; metrics: the trial's error, the baseline the rule
        used, and the value network's loss (``value`` baseline)."""
        state, record = self.trial(state)
        metrics = {"error": record.error, "baseline": record.baseline}
        if self.value_baseline is not None:
            metrics["value_loss"] = record.value_loss
        return state, metrics

    def evaluate(self, state: PerturbationState, key: jax.Array, n: int) -> dict[str, jax.Array]:
        """Mean error and number of good trials among the last 100 training trials, and the
        trial count at which the criterion was first met (``criterion_update``; -1 before)."""
        seen = jnp.isfinite(state.recent_errors)
        mean = jnp.sum(jnp.where(seen, state.recent_errors, 0.0)) / jnp.maximum(jnp.sum(seen), 1)
        mean = jnp.where(jnp.any(seen), mean, jnp.nan)  # no trial yet: no score (not a perfect one)
        good = jnp.sum(state.recent_errors < self.error_threshold)
        return {"mean_error": mean, "good_of_last_100": good.astype(jnp.float32),
                "criterion_update": state.criterion_trial}

    def evaluation_key(self, state: PerturbationState) -> jax.Array:
        return state.key

    def score(self, perf: dict) -> np.ndarray:
        """Minus the mean error of the last 100 trials; -inf before the first trial."""
        return np.nan_to_num(-np.asarray(perf["mean_error"]), nan=-np.inf)

    def criterion_met(self, perf: dict) -> np.ndarray:
        return np.asarray(perf["criterion_update"]) >= 0

    def criterion_gap(self, perf: dict) -> np.ndarray:
        """Good trials missing from the last 100 (as a fraction) for more than 95 of them to be
        good; 0 once the criterion was met."""
        missing = np.maximum(0.0, (CRITERION_NEEDED - np.asarray(perf["good_of_last_100"], np.float64)) / CRITERION_WINDOW)
        return np.where(self.criterion_met(perf), 0.0, missing)

    def criterion_unmet(self, row: dict) -> str:
        good = float(row["good_of_last_100"])
        return "" if good >= CRITERION_NEEDED else f"{good:.0f} good trials of the last {CRITERION_WINDOW} < {CRITERION_NEEDED}"

    def describe_criterion(self) -> str:
        return self.task.describe_criterion()

    def best_params(self, state: PerturbationState) -> rate.Params:
        return state.params

    def updates(self, state: PerturbationState) -> jax.Array:
        return state.trial

    def with_seed_axis(self, name: str) -> PerturbationLearner:
        return self  # seeds never wait for each other here

    def with_trial_axis(self, name: str, size: int) -> None:
        return None  # one trial per update: nothing to split

    def describe(self) -> str:
        c = self.config
        return (f"Miconi's rule on {self.task.name} (S = {c.nonlinearity}, {c.update} update, {c.method}, "
                f"{c.reward_baseline} baseline, {self.network.n_units} units)")

    # ---- one trial ---------------------------------------------------------------------------
    def kicks(self, key: jax.Array) -> jax.Array:
        """(T, N) perturbations: A U(-1, 1) with probability p per neuron and ms (per step:
        ``1 - (1 - p)^(dt / 1 ms)``, p itself at Miconi's 1 ms), from step ``kick_start`` on."""
        on = (jnp.arange(self.n_steps) >= self.config.kick_start)[:, None]
        return self.kick_values(key, (self.n_steps, self.network.n_units), on)

    def kick_values(self, key: jax.Array, shape: tuple[int, ...], on: jax.Array) -> jax.Array:
        """Kicks of ``shape``: A U(-1, 1) with the per-step probability p, where ``on`` allows.
        One uniform u per neuron and step gives both: a kick when u < p, of size
        ``A (2 u / p - 1)`` (given u < p, u / p is uniform on [0, 1)), so a trial draws half the
        random numbers of a separate coin and size (with the fast threefry layout,
        :func:`rewardrnn.keys.fast_threefry`)."""
        p = self.kick_prob_per_step
        with fast_threefry():
            u = jax.random.uniform(key, shape, jnp.float32)
        when = (u < p) & on
        return jnp.where(when, self.config.kick_amplitude * (2.0 * u / max(p, 1e-30) - 1.0), 0.0)

    def run(self, params: rate.Params, xbar: jax.Array, x0: jax.Array, inputs: jax.Array, kicks: jax.Array):
        """Run one trial. Returns (xbar after it, rates r (T, N), presynaptic rates r(t-1) (T, N),
        fluctuations dx (T, N))."""
        alpha_x = self.config.alpha_x

        def body(carry, drive):
            x, r_prev, xbar = carry
            x = rate.advance(params, self.network, x, r_prev, drive, self.a)
            r = rate.rates(x, self.network)
            dx = x - xbar
            xbar = alpha_x * xbar + (1 - alpha_x) * x
            return (x, r, xbar), (r, r_prev, dx)

        drive = rate.external_drive(params, inputs, kicks)
        (_, _, xbar), (r, r_prev, dx) = jax.lax.scan(body, (x0, rate.rates(x0, self.network), xbar), drive)
        return xbar, r, r_prev, dx

    def eligibility(self, r_prev: jax.Array, dx: jax.Array, kicks: jax.Array,
                    weights: jax.Array | None = None) -> jax.Array:
        """e [post, pre] (N, N) of one trial: ``S(dx)^T S(r_prev)`` over t >= trace_start (the
        separable form), or the node-perturbation trace ``kicks^T r_prev``; with ``weights`` (T,)
        each step's term is multiplied by its weight (the time-resolved value baseline's
        advantages)."""
        w = jnp.ones(dx.shape[0], dx.dtype) if weights is None else weights
        if self.config.method == "node-perturbation":
            return (kicks * w[:, None]).T @ r_prev
        gate = (jnp.arange(dx.shape[0]) >= self.config.trace_start)
        return (self.s(dx) * (gate * w)[:, None]).T @ self.s(r_prev)

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
        read = r if self.config.value_input == "rates" else inputs
        new, baseline, value_loss = self.reinforce(state, key, trial_type, read, kicks, xbar, r_prev, dx, error,
                                                   None, learn)
        return new, TrialRecord(trial_type, error, output, baseline, value_loss)

    def reinforce(self, state: PerturbationState, key: jax.Array, trial_type: jax.Array, read: jax.Array,
                  kicks: jax.Array, xbar: jax.Array, r_prev: jax.Array, dx: jax.Array, error: jax.Array,
                  trace_mask: jax.Array | None, learn: bool):
        """The rule's part of a trial that has been run: the baseline, the weight update
        ``Delta J = -eta |Ebar| (E - Ebar) e`` (per step where the baseline is: value,
        time-resolved), the running averages and Miconi's criterion. ``read`` is what the value
        network reads; ``trace_mask`` (T,) keeps only the steps whose kicks could change the
        outcome (a native task's trial ends before ``T``), None for all. Returns (the new state,
        the baseline's mean over the trial, the value network's loss)."""
        baseline, scale, value, value_loss = self.baseline(state, trial_type, read, error, trace_mask)
        params = state.params
        if learn:
            scale = jnp.abs(scale) if self.config.update == "code" else 1.0
            advantage = jnp.broadcast_to(scale * (error - baseline), (self.n_steps,))
            if trace_mask is not None:
                advantage = advantage * trace_mask
            e = self.eligibility(r_prev, dx, kicks, advantage)
            delta = jnp.clip(-self.config.eta * e, -self.config.max_dw, self.config.max_dw)
            apply = state.trial > self.config.warmup_trials  # "learning starts when the trial index > 100"
            params = dict(params, J=rate.impose_signs(params["J"] + jnp.where(apply, delta, 0.0), self.network))
        new = self.after_trial(state, trial_type, error, params, xbar, key, value)
        if trace_mask is not None and jnp.ndim(baseline):
            mean_baseline = jnp.sum(baseline * trace_mask) / jnp.maximum(jnp.sum(trace_mask), 1.0)
        else:
            mean_baseline = jnp.mean(baseline)
        return new, mean_baseline, value_loss

    def after_trial(self, state: PerturbationState, trial_type: jax.Array, error: jax.Array, params: rate.Params,
                    xbar: jax.Array, key: jax.Array, value: ValueState | None) -> PerturbationState:
        """The state after a trial of ``error``, with the new ``params``, ``xbar``, ``key`` and
        value network: the running averages of the error, the last 100 errors and Miconi's
        criterion (the trial count at which more than 95 of the last 100 were good)."""
        slot = trial_type if self.config.reward_baseline == "trial-type" else 0
        alpha = self.config.alpha_baseline
        baselines = state.baselines.at[slot].set(alpha * state.baselines[slot] + (1 - alpha) * error)
        recent = state.recent_errors.at[state.trial % CRITERION_WINDOW].set(error)
        done = state.trial + 1
        met = ((done >= CRITERION_WINDOW) & (jnp.sum(recent < self.error_threshold) >= CRITERION_NEEDED)
               & (state.criterion_trial < 0))
        return PerturbationState(params, xbar, baselines, done, key, recent,
                                 jnp.where(met, done, state.criterion_trial), value)

    def baseline(self, state: PerturbationState, trial_type: jax.Array, rates: jax.Array, error: jax.Array,
                 mask: jax.Array | None = None):
        """(R_b, the code form's |Ebar| factor, the value state after this trial, its loss) for
        this trial's ``reward_baseline`` (module docstring): scalars, or per step (T,) for the
        time-resolved value baseline; the value network learns here (on the steps of ``mask``)."""
        kind = self.config.reward_baseline
        zero = jnp.zeros((), jnp.float32)
        if kind == "trial-type":
            return state.baselines[trial_type], state.baselines[trial_type], state.value, zero
        if kind == "running":
            return state.baselines[0], state.baselines[0], state.value, zero
        if kind == "none":
            return zero, state.baselines[0], state.value, zero
        k_value = jax.random.fold_in(state.key, VALUE_NETWORK_STREAM)
        predicted, value, loss = self.value_baseline.learn(state.value, rates, error, k_value, mask)
        per_step = self.value_baseline.per_step(predicted)
        return per_step, per_step, value, loss

    def train(self, state: PerturbationState, n_trials: int) -> tuple[PerturbationState, jax.Array]:
        """``n_trials`` trials in sequence, ``n_trials // trials_per_update`` updates (the weights
        change after each); returns each update's error (Miconi's rule: one per trial). Pure: jit
        it, vmap it over seeds."""
        def body(s, _):
            s, metrics = self.update(s)
            return s, metrics["error"]
        return jax.lax.scan(body, state, None, length=n_trials // self.trials_per_update)


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
