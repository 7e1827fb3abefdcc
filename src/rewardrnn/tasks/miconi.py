"""The continuous-output tasks of Miconi 2017 (spec miconi2017.md §4): the network's output
neuron must reach a target value over a response window; the trial's error is the mean
|r_out - target| over that window (reward = -error).

Times are in steps of dt = 1 ms, 0-based, as in Miconi's code: "t = 1..200" means steps 1 to 200
inclusive. Trial types are cycled (trial n has type n mod n_types) as in the original; a trial
type fixes the target, and the inputs up to the task's own noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rewardrnn.deferred import jax, jnp
from rewardrnn.errors import UnknownNameError

#: DNMS target of a "different" trial (Miconi's code: +-0.98; the paper's text: +-1).
DNMS_TARGET = 0.98


@dataclass(frozen=True)
class ContinuousTask:
    """A task of Miconi 2017. ``inputs(key, trial_type)`` returns the (n_steps, n_inputs) input of
    one trial (a traced ``trial_type`` is fine); ``targets[k]`` is the output target of type k;
    the error is averaged over steps ``response_start <= t < n_steps``. The learning constants of
    the original code for this task (spec §3.6) ride along: ``eta``, ``max_dw`` and the kick
    amplitude ``kick_amplitude`` (uniform kicks A U(-1, 1) added to the drive)."""

    name: str
    summary: str
    reference: str
    n_inputs: int
    n_steps: int
    trial_types: tuple[str, ...]
    targets: tuple[float, ...]
    response_start: int
    inputs: Callable[[jax.Array, jax.Array], jax.Array]
    eta: float
    max_dw: float
    kick_amplitude: float = 16.0
    error_threshold: float = 1.0  # criterion: > 95 of the last 100 trials below it (spec §4.1)
    paper_trials: int = 10_000  # training length of the paper's figure
    network: str = "tanh"  # the network kind the task is trained with (rate.KINDS)
    #: The trial's epochs as (name, first step, end step) in ms (1 ms steps), for ``perturb --during``.
    epochs: tuple[tuple[str, int, int], ...] = ()

    @property
    def epoch_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.epochs)

    def epoch_flags(self) -> jax.Array:
        """(n_steps, n_epochs) bools: whether step t lies in each epoch."""
        t = jnp.arange(self.n_steps)[:, None]
        starts = jnp.asarray([a for _, a, _ in self.epochs], jnp.int32)
        ends = jnp.asarray([b for _, _, b in self.epochs], jnp.int32)
        return (t >= starts) & (t < ends)

    def describe_criterion(self) -> str:
        return f"more than 95 of the last 100 trials with error < {self.error_threshold:g}"

    @property
    def n_types(self) -> int:
        return len(self.trial_types)

    def response_mask(self) -> jax.Array:
        """1 over the response window, 0 elsewhere, (n_steps,)."""
        return (jnp.arange(self.n_steps) >= self.response_start).astype(jnp.float32)


def _pulses(stim1: tuple[int, int], stim2_start, stim2_len: int, n_steps: int):
    """DNMS-like inputs: channel 0 unused; channel 1 = A, 2 = B, 1.0 while on. Stimulus 1 covers
    steps ``stim1[0] <= t < stim1[1]``, stimulus 2 ``stim2_start <= t < stim2_start + stim2_len``.
    Type k: 0 AA, 1 AB, 2 BA, 3 BB."""

    def inputs(start2, trial_type):
        t = jnp.arange(n_steps)
        trial_type = jnp.asarray(trial_type)
        first_is_b = (trial_type >= 2).astype(jnp.float32)
        second_is_b = (trial_type % 2).astype(jnp.float32)
        on1 = ((t >= stim1[0]) & (t < stim1[1])).astype(jnp.float32)
        on2 = ((t >= start2) & (t < start2 + stim2_len)).astype(jnp.float32)
        a = on1 * (1 - first_is_b) + on2 * (1 - second_is_b)
        b = on1 * first_is_b + on2 * second_is_b
        return jnp.stack([jnp.zeros(n_steps), a, b], axis=-1)

    if callable(stim2_start):
        return lambda key, k: inputs(stim2_start(key), k)
    return lambda key, k: inputs(stim2_start, k)


#: Delayed non-match-to-sample (spec §4.1): stimulus 1 at 1-200, stimulus 2 at 400-599,
#: response window 800-999; output -0.98 for AA / BB ("same"), +0.98 for AB / BA.
DNMS = ContinuousTask(
    name="dnms", summary="delayed non-match-to-sample (Miconi 2017 Fig. 1-2)",
    reference="Miconi 2017 Fig. 1; spec miconi2017.md §4.1",
    n_inputs=3, n_steps=1000, trial_types=("AA", "AB", "BA", "BB"),
    targets=(-DNMS_TARGET, DNMS_TARGET, DNMS_TARGET, -DNMS_TARGET), response_start=800,
    inputs=_pulses((1, 201), 400, 200, 1000), eta=0.1, max_dw=3e-4,
    epochs=(("first-stimulus", 0, 201), ("delay", 201, 400), ("second-stimulus", 400, 600), ("wait", 600, 800),
            ("response", 800, 1000)))

#: DNMS with a 1-s delay (spec §4.4): stimulus 1 at 1-400, stimulus 2 at 1400-1799, response
#: 1800-1999; eta = 0.03.
DNMS_LONG_DELAY = ContinuousTask(
    name="dnms-long-delay", summary="DNMS with a 1-s delay (Miconi 2017, revision)",
    reference="spec miconi2017.md §4.4", n_inputs=3, n_steps=2000, trial_types=DNMS.trial_types,
    targets=DNMS.targets, response_start=1800, inputs=_pulses((1, 401), 1400, 400, 2000),
    eta=0.03, max_dw=3e-4, epochs=(("first-stimulus", 0, 401), ("delay", 401, 1400), ("second-stimulus", 1400, 1800),
                                   ("response", 1800, 2000)))

#: DNMS with a variable 300-798-ms delay (spec §4.4): stimulus 1 at 1-300, stimulus 2 (300 ms)
#: from 601 + floor(U * 499), response 1400-1599; eta = 0.003.
DNMS_VARIABLE_DELAY = ContinuousTask(
    name="dnms-variable-delay", summary="DNMS with a variable 300-800-ms delay (Miconi 2017, revision)",
    reference="spec miconi2017.md §4.4", n_inputs=3, n_steps=1600, trial_types=DNMS.trial_types,
    targets=DNMS.targets, response_start=1400,
    inputs=_pulses((1, 301), lambda key: 601 + jnp.floor(jax.random.uniform(key) * 499).astype(jnp.int32),
                   300, 1600),
    eta=0.003, max_dw=3e-4, paper_trials=50_000,
    epochs=(("first-stimulus", 0, 301), ("delay-and-second-stimulus", 301, 1400), ("response", 1400, 1600)))


def selective_integration_inputs(key, attend_2, bias_1, bias_2, n_steps: int = 700):
    """Selective-integration inputs with given biases (spec §4.2): channels 1, 2 carry
    0.5 (N(0,1) + b_m) for t = 1..500, i.i.d. per ms; channels 3, 4 are the context cues
    ("attend 1" / "attend 2"), on for the whole trial. Test trials use biases -0.5..0.5 (spec §5)."""
    t = jnp.arange(n_steps)[:, None]
    on = ((t >= 1) & (t <= 500)).astype(jnp.float32)
    biases = jnp.stack([jnp.asarray(bias_1, jnp.float32), jnp.asarray(bias_2, jnp.float32)])
    sensory = on * 0.5 * (jax.random.normal(key, (n_steps, 2)) + biases)
    attend_2 = jnp.asarray(attend_2)
    context = jnp.broadcast_to(jnp.stack([attend_2 == 0, attend_2 == 1]).astype(jnp.float32), (n_steps, 2))
    return jnp.concatenate([jnp.zeros((n_steps, 1)), sensory, context], axis=-1)


def _selective_inputs(key, trial_type):
    """Training trials: |b_m| = 0.5. Type k: context = k mod 2, relevant bias sign + for k < 2,
    - after; the irrelevant bias sign is random."""
    k_noise, k_sign = jax.random.split(key)
    trial_type = jnp.asarray(trial_type)
    attend_2 = trial_type % 2
    relevant = jnp.where(trial_type < 2, 0.5, -0.5)
    irrelevant = jnp.where(jax.random.bernoulli(k_sign), 0.5, -0.5)
    bias_1 = jnp.where(attend_2 == 0, relevant, irrelevant)
    bias_2 = jnp.where(attend_2 == 0, irrelevant, relevant)
    return selective_integration_inputs(k_noise, attend_2, bias_1, bias_2)


#: Selective integration after Mante et al. 2013 (spec §4.2): target +1 / -1 = the sign of the
#: cued input's bias, response window 500-699; eta = 0.01, A = 30, MAXDW = 2e-4.
SELECTIVE_INTEGRATION = ContinuousTask(
    name="selective-integration", summary="context-dependent selective integration (Miconi 2017 Fig. 4-5)",
    reference="Miconi 2017 Fig. 4; spec miconi2017.md §4.2", n_inputs=5, n_steps=700,
    trial_types=("attend-1 +", "attend-2 +", "attend-1 -", "attend-2 -"), targets=(1.0, 1.0, -1.0, -1.0),
    response_start=500, inputs=_selective_inputs, eta=0.01, max_dw=2e-4, kick_amplitude=30.0,
    paper_trials=20_000, epochs=(("stimulus", 0, 500), ("response", 500, 700)))

#: DNMS in the E/I network with Dale's law (spec §4.4): threshold-linear units, targets 0.02
#: ("same") and 5.98 ("different"), criterion error < 2.5; eta = 3e-5, MAXDW = 1e-4.
DNMS_EI = ContinuousTask(
    name="dnms-ei", summary="DNMS in an E/I network with Dale's law (Miconi 2017, revision)",
    reference="spec miconi2017.md §4.4", n_inputs=3, n_steps=1000, trial_types=DNMS.trial_types,
    targets=(0.02, 5.98, 5.98, 0.02), response_start=800, inputs=DNMS.inputs, eta=3e-5, max_dw=1e-4,
    error_threshold=2.5, paper_trials=30_000, network="ei", epochs=DNMS.epochs)

CONTINUOUS_TASKS = {t.name: t for t in (DNMS, DNMS_LONG_DELAY, DNMS_VARIABLE_DELAY, SELECTIVE_INTEGRATION, DNMS_EI)}


def get_continuous_task(name: str) -> ContinuousTask:
    """The Miconi task registered as ``name``; an error listing the known names otherwise."""
    try:
        return CONTINUOUS_TASKS[name]
    except KeyError:
        raise UnknownNameError(f"unknown task {name!r}; Miconi tasks: {', '.join(CONTINUOUS_TASKS)}") from None
