"""The configuration of a run of Miconi's perturbation rule (spec miconi2017.md), on his tasks or
acting in Song et al.'s (:mod:`rewardrnn.learners.perturbation_native`): saved with the run and
enough to repeat it. ``None`` = the task's (or the update form's) value."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from rewardrnn import resources
from rewardrnn.errors import ConfigError
from rewardrnn.learners import perturbation_native as native
from rewardrnn.learners import local_rate
from rewardrnn.learners.perturbation import PerturbationConfig, PerturbationLearner
from rewardrnn.networks import rate
from rewardrnn.tasks.engine import TaskEnv
from rewardrnn.tasks.miconi import CONTINUOUS_TASKS, get_continuous_task
from rewardrnn.tasks import files
from rewardrnn.tasks.registry import is_protocol_task
from rewardrnn.training import curriculum
from rewardrnn.training.config import SavedConfig, cached_protocol, check_int, check_positive, check_seeds, normalise_task
from rewardrnn.training.stalls import DEFAULT_PATIENCE, rule_for
from rewardrnn.training.trainer import TrainerPlan

#: Keys that may differ between a saved run and a resumed one.
RESUMABLE_CHANGES = ("n_trials", "stop_at_criterion", "patience", "restart_stalled")
#: Trials per seed of a run on a native task when ``n_trials`` is not given (the budget; a seed
#: stops at Song's criterion).
NATIVE_TRIALS = 50_000
#: Trials between checkpoints: on a Miconi task, and on a native task (each chunk ends with a
#: validation of ``n_validation`` trials there).
CHUNK_TRIALS, NATIVE_CHUNK_TRIALS = 250, 1000


@dataclass(frozen=True)
class PerturbationTrainConfig(SavedConfig):
    """One run of the perturbation rule: ``n_trials`` trials per seed at most (default: the
    length of the paper's figure for a Miconi task, :data:`NATIVE_TRIALS` for a native one), in
    chunks of ``chunk_trials`` between checkpoints; each seed stops at the task's criterion
    (Miconi's on his tasks, Song's on ``n_validation`` trials after every chunk on a native task)
    unless ``stop_at_criterion`` is off. ``dt_ms``, ``tau_ms`` and ``choice_threshold`` are the
    acting network's (native tasks only; None: 10 ms, 100 ms, 0.3)."""

    LEARNER: ClassVar[str] = "perturbation"

    task: str = "dnms"
    learner: str = "perturbation"
    task_settings: dict = dataclasses.field(default_factory=dict)
    curriculum: list = dataclasses.field(default_factory=list)  # stages (rewardrnn.training.curriculum; native tasks)
    seed: int = 1
    n_seeds: int = 1
    n_trials: int | None = None
    chunk_trials: int | None = None
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
    dt_ms: float | None = None
    tau_ms: float | None = None
    choice_threshold: float | None = None
    n_validation: int | None = None
    patience: int = DEFAULT_PATIENCE  # validations without progress before a seed stalls (0: never)
    restart_stalled: int = 0  # times a stalled seed starts afresh (beyond the papers; 0: never)

    def __post_init__(self) -> None:
        if self.native:
            normalise_task(self)
            object.__setattr__(self, "curriculum", curriculum.normalise(self, self.curriculum))
        else:
            get_continuous_task(self.task)
            if self.task_settings:
                raise ConfigError(f"task settings (--set) vary a protocol task; {self.task} is one of Miconi's "
                                  f"({', '.join(CONTINUOUS_TASKS)}), which take none")
            if self.curriculum:
                raise ConfigError(f"a curriculum's stages are task variants (--set keys); {self.task} is one of "
                                  f"Miconi's ({', '.join(CONTINUOUS_TASKS)}), which take none")
        if self.learner != self.LEARNER:
            raise ConfigError(f"learner must be {self.LEARNER!r} here, got {self.learner!r}")
        check_seeds(self)
        check_int(self, "n_units", 12, resources.MAX_UNITS)
        check_int(self, "patience", 0)
        check_int(self, "restart_stalled", 0)
        if self.chunk_trials is None:  # the family's default, saved as given (config.json names it)
            object.__setattr__(self, "chunk_trials", NATIVE_CHUNK_TRIALS if self.native else CHUNK_TRIALS)
        for name in ("n_trials", "chunk_trials", "n_validation"):
            if getattr(self, name) is not None:
                check_int(self, name, 1)
        if self.native:
            for name in ("dt_ms", "tau_ms"):
                value = getattr(self, name)
                if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                              and value > 0):
                    raise ConfigError(f"{name} must be a positive number of ms, got {value!r}")
        else:
            given = [flag for flag, field in (("--dt", "dt_ms"), ("--tau", "tau_ms"),
                                              ("--choice-threshold", "choice_threshold"),
                                              ("--n-validation", "n_validation")) if getattr(self, field) is not None]
            if given:
                raise ConfigError(f"{', '.join(given)} set(s) the acting network of a native task; {self.task} is "
                                  f"Miconi's ({', '.join(CONTINUOUS_TASKS)} run at 1 ms, tau 30 ms, read out by one "
                                  f"output neuron)")
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

    @property
    def native(self) -> bool:
        """Whether the task is one of Song et al.'s (the network acts) rather than Miconi's."""
        return is_protocol_task(self.task)

    def protocol(self):
        """The native task's protocol with its settings (native tasks only)."""
        return cached_protocol(self, {})

    def rule(self) -> PerturbationConfig:
        dt = (self.dt_ms or native.DEFAULT_DT_MS) if self.native else PerturbationConfig.dt_ms
        return PerturbationConfig(nonlinearity=self.nonlinearity, update=self.update, method=self.method,
                                  trial_order=self.trial_order, eta=self.eta, max_dw=self.max_dw,
                                  kick_amplitude=self.kick_amplitude, reward_baseline=self.reward_baseline,
                                  value_lr=self.value_lr, value_units=self.value_units,
                                  value_readout_ms=self.value_readout_ms, value_input=self.value_input, dt_ms=dt)

    def resolved(self) -> PerturbationTrainConfig:
        if self.native:
            protocol = self.protocol()
            rule = self.rule().resolved(native.NATIVE_DEFAULTS)
            return dataclasses.replace(
                self, n_trials=self.n_trials or NATIVE_TRIALS, eta=rule.eta, max_dw=rule.max_dw, kick_amplitude=rule.kick_amplitude, dt_ms=rule.dt_ms,
                tau_ms=self.tau_ms or native.DEFAULT_TAU_MS,
                choice_threshold=native.DEFAULT_THRESHOLD if self.choice_threshold is None else self.choice_threshold,
                n_validation=self.n_validation or protocol.n_validation)
        task = get_continuous_task(self.task)
        rule = self.rule().resolved(task)
        return dataclasses.replace(self, n_trials=self.n_trials or task.paper_trials, eta=rule.eta,
                                   max_dw=rule.max_dw, kick_amplitude=rule.kick_amplitude)

    def build_learner(self) -> PerturbationLearner:
        if self.native:
            r = self.resolved()
            env = TaskEnv(self.protocol(), r.dt_ms)
            if files.is_task_file(self.task):  # the user's code: traced once here, not mid-training
                env.check()
            return native.NativePerturbationLearner(env, self.rule(), native.network_for(env, self.n_units, r.tau_ms),
                                                    r.choice_threshold)
        task = get_continuous_task(self.task)
        network = rate.RateConfig(n_inputs=task.n_inputs, n_units=self.n_units, kind=task.network)
        return PerturbationLearner(task, self.rule(), network)

    def plan(self) -> TrainerPlan:
        """One update is one trial; a checkpoint every ``chunk_trials``. Miconi's criterion reads
        the training trials, so there is no separate validation; on a native task Song's
        criterion reads ``n_validation`` fresh trials after every chunk."""
        r = self.resolved()
        return TrainerPlan(seeds=tuple(self.seeds), checkfreq=r.chunk_trials, max_updates=r.n_trials,
                           n_validation=r.n_validation or 0, stop_at_criterion=self.stop_at_criterion,
                           stall=rule_for(self.patience), restarts=self.restart_stalled)


#: The rate network's supervised losses (:class:`rewardrnn.learners.supervised.SupervisedRate`):
#: PsychRNN's squared error, or Miconi's own absolute error.
RATE_LOSSES = ("mse", "abs")


@dataclass(frozen=True)
class SupervisedMiconiTrainConfig(PerturbationTrainConfig):
    """The supervised learner on one of Miconi's tasks (:class:`rewardrnn.learners.supervised.SupervisedRate`):
    his rate network, trials, trial budget and criterion, learned by BPTT with Adam (``lr``) on
    ``loss`` against his targets. His rule's options (eta, kicks, baselines) do not apply."""

    LEARNER: ClassVar[str] = "supervised"

    learner: str = "supervised"
    lr: float = 1e-3
    loss: str = "mse"
    batch: int | None = None  # trials per update (None: one of each trial type)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.native:
            raise ConfigError(f"{self.task}: the supervised learner trains Song et al.'s gated network on a protocol "
                              "task (kind supervised); on Miconi's tasks his rate network")
        check_positive(self, "lr")
        if self.loss not in RATE_LOSSES:
            raise ConfigError(f"loss on Miconi's tasks must be one of {', '.join(RATE_LOSSES)}; got {self.loss!r}")
        if self.batch is not None:
            check_int(self, "batch", 1, resources.MAX_BATCH_TRIALS)
        if self.reward_baseline != PerturbationTrainConfig.reward_baseline:
            raise ConfigError("--reward-baseline is Miconi's rule's; the supervised learner has no reward baseline")

    def build_learner(self) -> PerturbationLearner:
        from rewardrnn.learners.supervised import SupervisedRate

        task = get_continuous_task(self.task)
        network = rate.RateConfig(n_inputs=task.n_inputs, n_units=self.n_units, kind=task.network)
        return SupervisedRate(task, self.rule(), network, self.lr, self.loss, self.trials_per_update())

    def plan(self) -> TrainerPlan:
        """As Miconi's rule's, counted in updates of ``batch`` trials (rounded up)."""
        plan = super().plan()
        batch = self.trials_per_update()
        return dataclasses.replace(plan, checkfreq=-(-plan.checkfreq // batch), max_updates=-(-plan.max_updates // batch))

    def trials_per_update(self) -> int:
        """Trials per update: ``batch``, or one of each of the task's trial types."""
        return self.batch if self.batch is not None else get_continuous_task(self.task).n_types


@dataclass(frozen=True)
class LocalRateTrainConfig(PerturbationTrainConfig):
    """The local rule on Miconi's rate network acting in a native task
    (:class:`rewardrnn.learners.local_rate.LocalRateLearner`): the rate network and trials of
    the perturbation rule's native runs, Song's value network as the default baseline
    (``reward_baseline``; ``trial-type``, ``running``, ``none`` too), Adam (``lr``) on the local
    rule's update every ``batch`` trials, ``choice_gain`` the softmax's inverse temperature over
    the choice units' rates, ``feedback`` and ``track_alignment`` as the gated local rule's. His
    rule's own options (S, update form, method, eta, max_dw, kicks) do not apply."""

    LEARNER: ClassVar[str] = "local"

    learner: str = "local"
    network: str = "rate"
    reward_baseline: str = "value"
    lr: float = local_rate.DEFAULT_LR
    batch: int = local_rate.DEFAULT_BATCH
    choice_gain: float = local_rate.DEFAULT_CHOICE_GAIN
    feedback: str = "random"
    track_alignment: bool = False

    def __post_init__(self) -> None:
        if not self.native:
            raise ConfigError(f"{self.task}: the local rule on the rate network acts in a protocol task (Song et al.'s "
                              f"or a task file); Miconi's tasks ({', '.join(CONTINUOUS_TASKS)}) have no actions")
        if self.network != "rate":
            raise ConfigError(f"network must be 'rate' here (the gated unit is the local rule's other kind), "
                              f"got {self.network!r}")
        super().__post_init__()
        rule_fields = [name for name in ("nonlinearity", "update", "method")
                       if getattr(self, name) != getattr(PerturbationTrainConfig, name)]
        rule_fields += [name for name in ("eta", "max_dw", "kick_amplitude")  # None, or filled by resolved()
                        if getattr(self, name) not in (None, getattr(native.NATIVE_DEFAULTS, name))]
        if rule_fields:
            raise ConfigError(f"{', '.join(rule_fields)} belong(s) to Miconi's rule; the local rule on the rate "
                              "network has no perturbations or Hebbian trace")
        check_positive(self, "lr")
        check_positive(self, "choice_gain")
        check_int(self, "batch", 1, resources.MAX_BATCH_TRIALS)
        from rewardrnn.learners.local import FEEDBACKS
        if self.feedback not in FEEDBACKS:
            raise ConfigError(f"feedback must be one of {', '.join(FEEDBACKS)}; got {self.feedback!r}")
        if not isinstance(self.track_alignment, bool):
            raise ConfigError(f"track_alignment must be true or false, got {self.track_alignment!r}")

    def resolved(self) -> LocalRateTrainConfig:
        """As the native rule's, with this learner's own default threshold
        (:data:`rewardrnn.learners.local_rate.DEFAULT_THRESHOLD`)."""

        r = super().resolved()
        return dataclasses.replace(r, choice_threshold=local_rate.DEFAULT_THRESHOLD) if self.choice_threshold is None else r

    def build_learner(self) -> PerturbationLearner:

        r = self.resolved()
        env = TaskEnv(self.protocol(), r.dt_ms)
        if files.is_task_file(self.task):
            env.check()
        return local_rate.LocalRateLearner(env, self.rule(), native.network_for(env, self.n_units, r.tau_ms),
                                           r.choice_threshold, self.choice_gain, self.batch, self.lr, self.feedback,
                                           self.track_alignment)

    def plan(self) -> TrainerPlan:
        """As the native rule's, counted in updates of ``batch`` trials (rounded up)."""
        plan = super().plan()
        return dataclasses.replace(plan, checkfreq=-(-plan.checkfreq // self.batch),
                                   max_updates=-(-plan.max_updates // self.batch))
