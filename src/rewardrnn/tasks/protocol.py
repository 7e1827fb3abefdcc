"""The declarative description of a task, read like a lab protocol.

A :class:`Protocol` names the input channels and actions, the condition grid, the sequence of
epochs with their duration samplers (ms), what each input channel shows in each epoch, the
reward table and the stop criterion. It holds no JAX state: :class:`rewardrnn.tasks.engine.TaskEnv`
compiles any protocol into a pure functional environment.

The common trial structure is pyrl's (Song et al. 2017 spec §5, "Common conventions"): the agent
holds action 0 (FIXATE) until the response epoch; any other action before it aborts the trial
(``rewards.abort``); a choice in the response epoch ends the trial with the reward of
``choice_outcome``; reaching the last time step ends it with ``rewards.terminal``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardrnn.deferred import jax, jnp
from rewardrnn.tasks.samplers import Sampler

#: Condition variables of a batch of trials, name -> array (broadcastable against actions).
Variables = Mapping[str, "jax.Array"]
#: Epoch membership, epoch name -> boolean array.
EpochFlags = Mapping[str, "jax.Array"]


@dataclass(frozen=True)
class Epoch:
    """One epoch of the trial: its name and duration sampler (ms). ``duration=None`` means the
    epoch lasts until ``tmax_ms`` (allowed for the last epoch only)."""

    name: str
    duration: Sampler | None


@dataclass(frozen=True)
class Event:
    """A moment inside the trial that is not an epoch boundary: it happens ``delay`` ms (a duration
    sampler) after the end of epoch ``after``. Inputs see it as a flag ``on[name]`` that is true
    from the event on (e.g. the sure target of the wager task, shown 500-750 ms after stimulus
    offset, during the delay)."""

    name: str
    after: str
    delay: Sampler


@dataclass(frozen=True)
class Rewards:
    """The reward table shared by pyrl's tasks (spec §3.6 and §5): R_ABORTED = -1 for breaking
    fixation, R_TERMINAL = R_ABORTED for reaching the last step without a choice, +1 correct,
    0 wrong."""

    abort: float = -1.0
    terminal: float = -1.0
    correct: float = 1.0
    wrong: float = 0.0


@dataclass(frozen=True)
class ChoiceOutcome:
    """What a non-fixate action in the response epoch yields: reward, whether it counts as a
    decision for the performance measure, and whether it is correct."""

    reward: jax.Array
    is_decision: jax.Array
    correct: jax.Array


@dataclass(frozen=True)
class Criterion:
    """pyrl's ``terminate(perf)``: stop when P(decision) >= ``min_p_decision`` and
    P(correct | decision) >= ``min_p_correct`` (``tasktools.correct_2AFC``), and, for the wager
    task, ``p_sure[0] < P(sure | wager trial answered) <= p_sure[1]``.

    ``min_p_correct_per_condition`` (not in pyrl; None: off) also asks P(correct | decision) of
    at least this much in every condition of the grid, so that the criterion cannot be met while
    a condition is at chance (e.g. the economic task at a juice ratio of the user's: each offer
    must be chosen the right way, which pins the indifference point between the offers nearest
    to it)."""

    min_p_decision: float = 0.99
    min_p_correct: float = 0.80
    p_sure: tuple[float, float] | None = None
    min_p_correct_per_condition: float | None = None

    def met(self, performance: Mapping[str, Any]) -> np.ndarray:
        """True where the performance numbers (scalars or arrays, e.g. one per seed) meet it."""
        ok = np.logical_and(np.asarray(performance["p_decision"]) >= self.min_p_decision,
                            np.asarray(performance["p_correct"]) >= self.min_p_correct)
        if self.p_sure is not None:
            p_sure = np.asarray(performance["p_sure"])
            ok = ok & (p_sure > self.p_sure[0]) & (p_sure <= self.p_sure[1])
        if self.min_p_correct_per_condition is not None:
            ok = ok & (np.asarray(performance["p_correct_worst_condition"]) >= self.min_p_correct_per_condition)
        return ok

    def gap(self, performance: Mapping[str, Any]) -> np.ndarray:
        """How far the performance numbers are from meeting the criterion (probability units,
        0 where every part is met): the sum of each part's shortfall, e.g. 0.79 - P(correct) where
        P(correct) is below 0.79, and P(sure)'s distance to its band (``criterion_gap`` in
        metrics.csv)."""
        short = np.maximum(0.0, self.min_p_decision - np.asarray(performance["p_decision"], np.float64))
        short = short + np.maximum(0.0, self.min_p_correct - np.asarray(performance["p_correct"], np.float64))
        if self.p_sure is not None:
            p_sure = np.asarray(performance["p_sure"], np.float64)
            short = short + np.maximum(0.0, np.maximum(self.p_sure[0] - p_sure, p_sure - self.p_sure[1]))
        if self.min_p_correct_per_condition is not None:
            worst = np.asarray(performance["p_correct_worst_condition"], np.float64)
            short = short + np.maximum(0.0, self.min_p_correct_per_condition - worst)
        return short

    def unmet(self, performance: Mapping[str, Any]) -> str:
        """The parts of the criterion that one validation's numbers (scalars; a metrics.csv row)
        do not meet, in words, e.g. ``"P(sure | wager) 0.000 outside (0.4, 0.5]"``; empty when
        every part is met (a number missing from ``performance``, or not a finite number, is not
        judged)."""
        def number(name):
            try:
                value = float(performance.get(name))
            except (TypeError, ValueError):
                return None
            return value if math.isfinite(value) else None

        parts = []
        p_decision, p_correct = number("p_decision"), number("p_correct")
        if p_decision is not None and p_decision < self.min_p_decision:
            parts.append(f"P(decision) {p_decision:.3f} < {self.min_p_decision:g}")
        if p_correct is not None and p_correct < self.min_p_correct:
            parts.append(f"P(correct | decision) {p_correct:.3f} < {self.min_p_correct:g}")
        p_sure = number("p_sure") if self.p_sure is not None else None
        if p_sure is not None and not self.p_sure[0] < p_sure <= self.p_sure[1]:
            parts.append(f"P(sure | wager) {p_sure:.3f} outside ({self.p_sure[0]:g}, {self.p_sure[1]:g}]")
        worst = number("p_correct_worst_condition") if self.min_p_correct_per_condition is not None else None
        if worst is not None and worst < self.min_p_correct_per_condition:
            parts.append(f"P(correct | decision) {worst:.3f} < {self.min_p_correct_per_condition:g} "
                         f"in its worst condition")
        return ", ".join(parts)

    def describe(self) -> str:
        text = (f"P(decision) >= {self.min_p_decision:g} and "
                f"P(correct | decision) >= {self.min_p_correct:g}")
        if self.p_sure is not None:
            text += f" and {self.p_sure[0]:g} < P(sure | wager) <= {self.p_sure[1]:g}"
        if self.min_p_correct_per_condition is not None:
            text += f" and P(correct | decision) >= {self.min_p_correct_per_condition:g} in every condition"
        return text


@dataclass(frozen=True)
class TrainingDefaults:
    """A task's own network and learning constants where they differ from spec §3.6 (Song et
    al. 2017 §5.9): decision-network size, learning rates, the value network's input-scale
    multiplier (pyrl's ``baseline_Win``), and the 0/1 initial input-scale blocks of pyrl's
    ``Win`` matrix as a function ``input_blocks(N) -> (n_inputs, N)`` (tiled over the state,
    update-gate and reset-gate columns; an initial multiplier only, the weights stay trainable)."""

    N: int = 100
    lr: float = 0.004
    baseline_lr: float = 0.004
    baseline_input_scale: float = 1.0
    input_blocks: Callable[[int], np.ndarray] | None = None


@dataclass(frozen=True)
class Psychometric:
    """How to draw a task's psychometric curve from its behaviour table: the signed stimulus
    variable (a function of the table's columns), its label and unit, the action whose
    probability is plotted, and the choices it is a proportion of (``among``; all decisions when
    None, e.g. the left/right choices only in the wager task)."""

    label: str
    signed_stimulus: Callable[[Any], Any]
    positive_action: str
    among: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Protocol:
    """A task, declared. Durations are in ms; see the module docstring for the trial rules.

    ``mean_inputs(variables, on)`` returns, for each input channel, its noise-free value given
    the condition variables and the epoch flags of one time index (missing channels are 0).
    ``noisy_inputs`` maps a channel to the epochs in which white noise of variance
    ``input_noise_var`` (σ²_in, scaled as in spec §5) is added to it; ``noise_gate(variables)``
    optionally multiplies that noise per trial and channel (e.g. no noise on the channels of a
    modality that is not shown).
    ``correct_action(variables)`` gives the index of the correct action; tasks whose rewards are
    not simply correct/wrong override ``choice_outcome(variables, action, rewards)``.
    ``derived_variables(variables)`` adds per-trial variables computed from the condition
    variables (e.g. the juice amounts of an offer index); ``events`` adds input flags that are
    not epochs; ``performance(variables, outcomes)`` adds task-specific numbers to the
    validation summary (e.g. P(sure)); ``annotate(table)`` adds task-specific columns to the
    behaviour table.
    """

    name: str
    summary: str
    reference: str
    inputs: tuple[str, ...]
    actions: tuple[str, ...]
    conditions: Mapping[str, tuple[float, ...]]
    epochs: tuple[Epoch, ...]
    tmax_ms: float
    response_epoch: str
    mean_inputs: Callable[[Variables, EpochFlags], Mapping[str, jax.Array]]
    noisy_inputs: Mapping[str, tuple[str, ...]]
    input_noise_var: float
    noise_gate: Callable[[Variables], Mapping[str, jax.Array]] | None = None
    correct_action: Callable[[Variables], jax.Array] | None = None
    choice_outcome: Callable[[Variables, jax.Array, Rewards], ChoiceOutcome] | None = None
    rewards: Rewards = field(default_factory=Rewards)
    reward_tau_ms: float = math.inf
    criterion: Criterion = field(default_factory=Criterion)
    n_validation: int = 1000
    psychometric: Psychometric | None = None
    fixate_action: int = 0
    events: tuple[Event, ...] = ()
    derived_variables: Callable[[Variables], Mapping[str, jax.Array]] | None = None
    performance: Callable[[Variables, Any], Mapping[str, jax.Array]] | None = None
    annotate: Callable[[Any], Any] | None = None
    training: TrainingDefaults = field(default_factory=TrainingDefaults)

    def __post_init__(self) -> None:
        names = [e.name for e in self.epochs]
        if self.response_epoch not in names:
            raise ValueError(f"{self.name}: response epoch {self.response_epoch!r} is not one of {names}")
        if any(e.duration is None for e in self.epochs[:-1]):
            raise ValueError(f"{self.name}: only the last epoch may last until tmax")
        unknown = set(self.noisy_inputs) - set(self.inputs)
        if unknown:
            raise ValueError(f"{self.name}: noisy inputs {sorted(unknown)} are not inputs {self.inputs}")
        for event in self.events:
            if event.after not in names:
                raise ValueError(f"{self.name}: event {event.name!r} follows unknown epoch {event.after!r}")
        if (self.correct_action is None) == (self.choice_outcome is None):
            raise ValueError(f"{self.name}: give exactly one of correct_action and choice_outcome")

    @property
    def n_conditions(self) -> int:
        return math.prod(len(v) for v in self.conditions.values())

    def outcome_of_choice(self, variables: Variables, action: jax.Array) -> ChoiceOutcome:
        """Reward, decision flag and correctness of choosing ``action`` in the response epoch."""
        if self.choice_outcome is not None:
            return self.choice_outcome(variables, action, self.rewards)
        correct = action == self.correct_action(variables)
        reward = jnp.where(correct, self.rewards.correct, self.rewards.wrong)
        return ChoiceOutcome(reward=reward, is_decision=jnp.ones_like(correct), correct=correct)


def coherence_scale(coherence_percent: jax.Array) -> jax.Array:
    """pyrl's evidence coding (spec §5): ``(1 + c/100) / 2`` for a signed coherence ``c`` in %."""
    return (1.0 + coherence_percent / 100.0) / 2.0
