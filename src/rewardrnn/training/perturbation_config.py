"""The configuration of a run of Miconi's perturbation rule (spec miconi2017.md): saved with the
run and enough to repeat it. ``None`` = the task's (or the update form's) value."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rewardrnn.errors import ConfigError
from rewardrnn.learners.perturbation import PerturbationConfig, PerturbationLearner
from rewardrnn.networks import rate
from rewardrnn.tasks.miconi import get_continuous_task
from rewardrnn.training.config import SavedConfig, check_int, check_seeds
from rewardrnn.training.trainer import TrainerPlan

#: Keys that may differ between a saved run and a resumed one.
RESUMABLE_CHANGES = ("n_trials", "stop_at_criterion")


@dataclass(frozen=True)
class PerturbationTrainConfig(SavedConfig):
    """One run of the perturbation rule: ``n_trials`` trials per seed at most (default: the
    length of the paper's figure for the task), in chunks of ``chunk_trials`` between
    checkpoints; each seed stops at Miconi's criterion unless ``stop_at_criterion`` is off."""

    task: str = "dnms"
    learner: str = "perturbation"
    seed: int = 1
    n_seeds: int = 1
    n_trials: int | None = None
    chunk_trials: int = 250
    stop_at_criterion: bool = True
    n_units: int = 200
    nonlinearity: str = "cube"
    update: str = "code"
    method: str = "hebbian"
    trial_order: str = "cycle"
    eta: float | None = None
    max_dw: float | None = None
    kick_amplitude: float | None = None
    reward_baseline: str = "trial-type"
    value_lr: float = 0.004
    value_units: int = 100
    value_readout_ms: float | None = None
    value_input: str = "rates"

    def __post_init__(self) -> None:
        get_continuous_task(self.task)
        if self.learner != "perturbation":
            raise ConfigError(f"learner must be 'perturbation' here, got {self.learner!r}")
        check_seeds(self)
        check_int(self, "chunk_trials", 1)
        check_int(self, "n_units", 12)
        if self.n_trials is not None:
            check_int(self, "n_trials", 1)
        if not isinstance(self.stop_at_criterion, bool):
            raise ConfigError(f"stop_at_criterion must be true or false, got {self.stop_at_criterion!r}")
        self.rule()  # checks nonlinearity, update, method, eta...
        if self.reward_baseline != "value":
            given = [flag for flag, on in (("--baseline-lr", self.value_lr != PerturbationConfig.value_lr),
                                           ("--value-readout", self.value_readout_ms is not None),
                                           ("--value-input", self.value_input != PerturbationConfig.value_input))
                     if on]
            if given:
                raise ConfigError(f"{', '.join(given)} set(s) the value network, which only --reward-baseline value "
                                  f"has (this run: --reward-baseline {self.reward_baseline})")

    def rule(self) -> PerturbationConfig:
        return PerturbationConfig(nonlinearity=self.nonlinearity, update=self.update, method=self.method,
                                  trial_order=self.trial_order, eta=self.eta, max_dw=self.max_dw,
                                  kick_amplitude=self.kick_amplitude, reward_baseline=self.reward_baseline,
                                  value_lr=self.value_lr, value_units=self.value_units,
                                  value_readout_ms=self.value_readout_ms, value_input=self.value_input)

    def resolved(self) -> PerturbationTrainConfig:
        task = get_continuous_task(self.task)
        rule = self.rule().resolved(task)
        return dataclasses.replace(self, n_trials=self.n_trials or task.paper_trials, eta=rule.eta,
                                   max_dw=rule.max_dw, kick_amplitude=rule.kick_amplitude)

    def build_learner(self) -> PerturbationLearner:
        task = get_continuous_task(self.task)
        network = rate.RateConfig(n_inputs=task.n_inputs, n_units=self.n_units, kind=task.network)
        return PerturbationLearner(task, self.rule(), network)

    def plan(self) -> TrainerPlan:
        """One update is one trial; a checkpoint every ``chunk_trials``; Miconi's criterion reads
        the training trials, so there is no separate validation."""
        return TrainerPlan(seeds=tuple(self.seeds), checkfreq=self.chunk_trials,
                           max_updates=self.resolved().n_trials, n_validation=0,
                           stop_at_criterion=self.stop_at_criterion)
