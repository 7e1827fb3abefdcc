"""The typed, validated configuration of a training run; saved with every run and enough to
repeat it (``TrainConfig.from_dict(json.load(...))``). Defaults: Song et al. 2017 spec §3.6."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from rewardrnn import resources
from rewardrnn.errors import ConfigError
from rewardrnn.learners.actor_critic import ActorCritic, ActorCriticConfig
from rewardrnn.networks.gru import GRUConfig
from rewardrnn.networks.linear import LinearConfig
from rewardrnn.tasks.engine import TaskEnv
from rewardrnn.tasks.protocol import Protocol
from rewardrnn.tasks import files, variants
from rewardrnn.tasks.registry import build_task, get_task
from rewardrnn.training import curriculum
from rewardrnn.training.stalls import DEFAULT_PATIENCE, rule_for
from rewardrnn.training.trainer import TrainerPlan

#: How the t = 0 term of the policy gradient is weighted (spec §4.4).
T0_RETURNS = ("pyrl", "paper")
#: Value-network types (spec §3.3-3.4).
BASELINES = ("gru", "linear", "none", "constant", "running")
#: Fraction of excitatory units of a Dale's-principle decision network (Song, Yang & Wang 2016).
DALE_EXCITATORY_FRACTION = 0.8


class SavedConfig:
    """What every kind's config shares: its seeds, and a round trip through ``config.json``
    (``from_dict`` refuses unknown keys by name)."""

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.n_seeds))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        return config_from_dict(cls, data)


@dataclass(frozen=True)
class TrainConfig(SavedConfig):
    """One training run. Times in ms; ``None`` means "the task's value" (see :meth:`resolved`).

    ``N``, ``lr``, ``baseline_lr`` and ``baseline_input_scale`` default to the task's values
    (spec §5.9: e.g. N = 150 for multisensory, lr = 0.002 for romo, baseline_Win = 10 for the
    economic task). ``task_options`` are the task's own options (e.g. ``{"juice_ratio": 4.1}``);
    ``task_settings`` a variant of the task (``{"stimulus.duration": "uniform(300, 700)"}``, see
    :mod:`rewardrnn.tasks.variants`); ``curriculum`` its stages, each a variant
    (:mod:`rewardrnn.training.curriculum`; empty: none). ``task`` is a registered name or a task file
    (``path/to/file.py:NAME``, saved with its absolute path).
    ``baseline``: the value network, ``"gru"`` (default) or ``"linear"`` (spec §3.4), or a scalar
    baseline beyond the paper (:mod:`rewardrnn.learners.actor_critic`): ``"none"`` (the raw
    return), ``"constant"`` (``baseline_constant``), ``"running"`` (a running average of the
    return at ``baseline_rate`` per update, one per condition with ``baseline_per_condition``).
    ``lesion_value_at``: from that update on, the baseline is removed (a lesion during learning).
    ``dale``: a decision network of
    80 % excitatory / 20 % inhibitory units with sign-constrained recurrent weights (not in
    pyrl; see :mod:`rewardrnn.networks.gru`).

    ``t0_return``: ``"pyrl"`` uses the immediate reward R[0] in the t = 0 policy-gradient term as
    pyrl's code does; ``"paper"`` uses the full return G_0 as the paper's equations. At the
    paper's initialisation (zero readouts, value bias -1) every trial earns -1 whatever the
    actions, so with ``"paper"`` the gradient is exactly zero and nothing is learned; pyrl's t = 0
    term is what breaks the tie (see docs/architecture.md). ``"pyrl"`` is therefore the default.
    """

    LEARNER: ClassVar[str] = "actor-critic"

    task: str = "rdm-fixed"
    learner: str = "actor-critic"
    task_options: dict[str, Any] = field(default_factory=dict)
    task_settings: dict[str, Any] = field(default_factory=dict)
    curriculum: list[dict[str, Any]] = field(default_factory=list)  # stages (rewardrnn.training.curriculum)
    seed: int = 1
    n_seeds: int = 1
    dt_ms: float = 10.0
    # decision (policy) network
    N: int | None = None
    p0: float = 0.1
    rho: float = 2.0
    tau_ms: float = 100.0
    var_rec: float = 0.01
    dale: bool = False
    # value (baseline) network
    baseline: str = "gru"
    baseline_N: int = 100
    baseline_p0: float = 1.0
    baseline_rho: float = 2.0
    baseline_var_rec: float = 0.01
    baseline_input_scale: float | None = None
    baseline_constant: float = 0.5  # the constant baseline (reward units): halfway between +1 (correct) and 0 (error)
    baseline_rate: float = 0.1  # the running baseline's averaging weight per update, in (0, 1]
    baseline_per_condition: bool = False  # the running baseline: one average per condition of the grid
    lesion_value_at: int | None = None  # from this update on, no baseline (beyond the paper; None: never)
    # learning
    lr: float | None = None
    baseline_lr: float | None = None
    max_grad_norm: float = 1.0
    t0_return: str = "pyrl"
    n_gradient: int | None = None
    entropy_bonus: float = 0.0  # beta of an entropy bonus on the policy's choice, response epoch (beyond the paper; 0: off)
    # training loop
    n_validation: int | None = None
    checkfreq: int = 50
    max_updates: int = 100_000
    patience: int = DEFAULT_PATIENCE  # validations without progress before a seed stalls (0: never)
    restart_stalled: int = 0  # times a stalled seed starts afresh (beyond the papers; 0: never)

    def __post_init__(self) -> None:
        if not isinstance(self.task_options, dict):
            raise ConfigError(f"task_options must be a mapping of option names to values, got {self.task_options!r}")
        if self.learner != self.LEARNER:
            raise ConfigError(f"learner must be {self.LEARNER!r} here, got {self.learner!r}")
        normalise_task(self)
        task = self.protocol()  # unknown task or option -> error listing the known ones
        object.__setattr__(self, "curriculum", curriculum.normalise(self, self.curriculum))
        check_seeds(self)
        check_int(self, "baseline_N", 1, resources.MAX_UNITS)
        check_int(self, "checkfreq", 1)
        check_int(self, "max_updates", 1)
        check_int(self, "patience", 0)
        check_int(self, "restart_stalled", 0)
        for name, most in (("N", resources.MAX_UNITS), ("n_gradient", resources.MAX_BATCH_TRIALS),
                           ("n_validation", resources.MAX_BATCH_TRIALS)):
            if getattr(self, name) is not None:
                check_int(self, name, 1, most)
        for name in ("dt_ms", "tau_ms", "lr", "baseline_lr", "max_grad_norm", "rho", "baseline_rho",
                     "baseline_input_scale"):
            value = getattr(self, name)
            if value is None and name in _TASK_DEFAULTS:
                continue
            check_positive(self, name)
        for name in ("var_rec", "baseline_var_rec", "entropy_bonus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must be a number >= 0, got {value!r}")
        if self.entropy_bonus > MAX_ENTROPY_BONUS:
            raise ConfigError(f"entropy_bonus must be a number in [0, {MAX_ENTROPY_BONUS:g}] (rewards are of order 1; "
                              f"the remedies measured use 0.001-0.01), got {self.entropy_bonus!r}")
        check_one_of(self, "t0_return", T0_RETURNS)
        check_one_of(self, "baseline", BASELINES)
        check_bool(self, "dale")
        self._check_baseline_options()
        # Network and task checks (p0, dt against epochs and tau) raise ConfigError too.
        self.policy_config(len(task.inputs), len(task.actions))
        env = TaskEnv(task, self.dt_ms)
        if files.is_task_file(self.task):  # the user's code: traced once here, not mid-training
            env.check()
        if self.dt_ms > self.tau_ms:
            raise ConfigError(f"dt={self.dt_ms:g} ms must not exceed tau={self.tau_ms:g} ms (alpha = dt/tau <= 1)")

    def _check_baseline_options(self) -> None:
        c, rate = self.baseline_constant, self.baseline_rate
        if isinstance(c, bool) or not (isinstance(c, (int, float)) and math.isfinite(c)):
            raise ConfigError(f"baseline_constant must be a finite number (reward units), got {c!r}")
        if isinstance(rate, bool) or not (isinstance(rate, (int, float)) and 0 < rate <= 1):
            raise ConfigError(f"baseline_rate must be a number in (0, 1] (weight of each update in the running "
                              f"average), got {rate!r}")
        if not isinstance(self.baseline_per_condition, bool):
            raise ConfigError(f"baseline_per_condition must be true or false, got {self.baseline_per_condition!r}")
        if self.baseline_per_condition and self.baseline != "running":
            raise ConfigError(f"baseline_per_condition applies to the running baseline; baseline is {self.baseline!r}")
        if self.lesion_value_at is not None:
            check_int(self, "lesion_value_at", 0)

    # ---- derived -----------------------------------------------------------------------------
    def protocol(self) -> Protocol:
        """The task's protocol, built with ``task_options`` (once per config object)."""
        return cached_protocol(self, self.task_options)

    def resolved(self) -> TrainConfig:
        """The config with the task's values filled in: N, learning rates and the value network's
        input scale (spec §5.9), n_gradient = number of conditions, n_validation = the task's
        validation size."""
        task = self.protocol()
        return dataclasses.replace(
            self, **{name: self._task_value(name) for name in _TASK_DEFAULTS},
            n_gradient=self.n_gradient or task.n_conditions,
            n_validation=self.n_validation or task.n_validation,
        )

    def _task_value(self, name: str):
        """The field ``name`` of :data:`_TASK_DEFAULTS`, or the task's value where it is None."""
        value = getattr(self, name)
        return getattr(self.protocol().training, name) if value is None else value

    def policy_config(self, n_inputs: int, n_actions: int) -> GRUConfig:
        task = self.protocol()
        n = self._task_value("N")
        scale: float | tuple = 1.0
        if task.training.input_blocks is not None:  # pyrl's Win matrix: one block per column group
            blocks = np.asarray(task.training.input_blocks(n), np.float32)
            scale = tuple(map(tuple, np.tile(blocks, (1, 3)).tolist()))
        return GRUConfig(n_inputs=n_inputs, n_outputs=n_actions, n_units=n, p0=self.p0,
                         rho=self.rho, tau_ms=self.tau_ms, var_rec=self.var_rec, input_scale=scale,
                         dale_ratio=DALE_EXCITATORY_FRACTION if self.dale else None)

    def value_config(self, n_actions: int) -> GRUConfig | LinearConfig:
        # Input = [policy rates, one-hot action]; the input scale uses the policy N (spec §3.5);
        # the output bias starts at R_ABORTED = -1 (spec §3.3).
        task = self.protocol()
        n = self._task_value("N")
        if self.baseline == "linear":
            return LinearConfig(n_inputs=n + n_actions, out_bias=task.rewards.abort)
        return GRUConfig(n_inputs=n + n_actions, n_outputs=1, n_units=self.baseline_N,
                         p0=self.baseline_p0, rho=self.baseline_rho, tau_ms=self.tau_ms,
                         var_rec=self.baseline_var_rec, input_scale=self._task_value("baseline_input_scale"),
                         input_scale_units=n, out_bias=task.rewards.abort)

    def learner_config(self) -> ActorCriticConfig:
        r = self.resolved()
        return ActorCriticConfig(n_gradient=r.n_gradient, lr=r.lr, baseline_lr=r.baseline_lr,
                                 max_grad_norm=self.max_grad_norm, pyrl_t0_return=self.t0_return == "pyrl",
                                 entropy_bonus=float(self.entropy_bonus),
                                 baseline="value" if self.baseline in ("gru", "linear") else self.baseline,
                                 baseline_constant=float(self.baseline_constant),
                                 baseline_rate=float(self.baseline_rate),
                                 baseline_per_condition=self.baseline_per_condition,
                                 lesion_value_at=self.lesion_value_at)

    def build_learner(self) -> ActorCritic:
        """The task environment and actor-critic learner this config describes."""
        env = TaskEnv(self.protocol(), self.dt_ms)
        return self.learner_class()(env, self.policy_config(env.n_inputs, env.n_actions),
                           self.value_config(env.n_actions), self.learner_config())

    def learner_class(self) -> type[ActorCritic]:
        return ActorCritic

    def plan(self) -> TrainerPlan:
        """The trainer's plan: seeds, validation period and size, budget (spec §4.7)."""
        r = self.resolved()
        return TrainerPlan(seeds=tuple(self.seeds), checkfreq=self.checkfreq, max_updates=self.max_updates,
                           n_validation=r.n_validation, stall=rule_for(self.patience), restarts=self.restart_stalled)


def normalise_task(config) -> None:
    """Write ``config.task`` (a task file with its absolute path) and ``config.task_settings``
    (checked against the task, :func:`rewardrnn.tasks.variants.normalise`) in their saved form,
    and keep the protocol they build (:func:`cached_protocol`)."""
    if files.is_task_file(config.task):
        object.__setattr__(config, "task", files.canonical(config.task))
    base = get_task(config.task, **getattr(config, "task_options", {}))
    settings = variants.normalise(base, config.task_settings)
    object.__setattr__(config, "task_settings", settings)
    config.__dict__["_protocol"] = variants.apply(base, settings)  # a frozen dataclass: beside the fields


def cached_protocol(config, options: dict[str, Any]):
    """The protocol of ``config`` (task, options, settings), built once per config object."""
    cached = config.__dict__.get("_protocol")
    if cached is None:
        cached = config.__dict__["_protocol"] = build_task(config.task, options, config.task_settings)
    return cached


def config_from_dict(cls, data: dict[str, Any]):
    """Build the config dataclass ``cls`` from a saved dict, refusing unknown keys by name."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown config keys {unknown}; known keys: {', '.join(sorted(known))}")
    return cls(**data)


def check_int(config, name: str, minimum: int, maximum: int | None = None) -> None:
    """``config.name`` must be an integer >= ``minimum`` (not a bool), and <= ``maximum`` if given."""
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None:
        resources.check_at_most(name, value, maximum)


#: Largest entropy bonus: beyond it the bonus outweighs every reward (of order 1) and the policy
#: only maximises its entropy (and 1e30 overflows the gradient).
MAX_ENTROPY_BONUS = 1.0
#: Seeds are PRNGKey seeds: 32-bit integers.
MAX_SEED = 2 ** 31 - 1


def check_discount(config) -> None:
    """``config.discount``, the return's discount per trial of an episode, must be None (the
    task's) or a number in [0, 1] (1: none)."""
    d = config.discount
    if d is not None and (isinstance(d, bool) or not (isinstance(d, (int, float)) and math.isfinite(d)
                                                      and 0 <= d <= 1)):
        raise ConfigError(f"discount must be a number in [0, 1] (per trial; 1: none), got {d!r}")


def check_one_of(config, name: str, allowed: tuple[str, ...]) -> None:
    """Refuse (one line) a field ``name`` of ``config`` that is not one of ``allowed``."""
    value = getattr(config, name)
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def check_bool(config, name: str) -> None:
    """Refuse (one line) a field ``name`` of ``config`` that is not true or false."""
    value = getattr(config, name)
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")


def check_seeds(config) -> None:
    """``seed`` >= 0 and ``n_seeds`` >= 1, every seed a 32-bit integer."""
    check_int(config, "seed", 0)
    check_int(config, "n_seeds", 1)
    resources.check_at_most("n_seeds", config.n_seeds, resources.MAX_SEEDS,
                            "train more seeds as a sweep over seed (`rewardrnn sweep`)")
    if config.seed + config.n_seeds - 1 > MAX_SEED:
        raise ConfigError(f"seed must be at most {MAX_SEED - config.n_seeds + 1} (seeds are 32-bit), "
                          f"got {config.seed}")


def check_positive(config, name: str) -> None:
    """``config.name`` must be a finite number > 0 (not a bool)."""
    value = getattr(config, name)
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")


#: Fields that default to the task's own value (:class:`rewardrnn.tasks.protocol.TrainingDefaults`).
_TASK_DEFAULTS = ("N", "lr", "baseline_lr", "baseline_input_scale")

#: Keys that may differ between a run folder's config and a resumed run.
RESUMABLE_CHANGES = ("max_updates", "patience", "restart_stalled")



#: How a supervised network acts: by its most probable action (as supervised networks are read,
#: NeuroGym's and PsychRNN's convention) or by sampling its policy as the reward learners do.
ACTS = ("greedy", "sample")


#: The supervised learner's losses (:mod:`rewardrnn.learners.supervised`).
LOSSES = ("cross-entropy", "mse")


def check_supervised(config) -> None:
    """Refuse (one line) a supervised config's ``act`` or ``loss`` outside :data:`ACTS` / :data:`LOSSES`."""
    check_one_of(config, "act", ACTS)
    check_one_of(config, "loss", LOSSES)


def supervised_learning(config, learning: ActorCriticConfig) -> ActorCriticConfig:
    """The gated network's learning options with a supervised config's ``act`` and ``loss``."""
    return dataclasses.replace(learning, greedy=config.act == "greedy", supervised_loss=config.loss)


@dataclass(frozen=True)
class SupervisedTrainConfig(TrainConfig):
    """The supervised learner (:mod:`rewardrnn.learners.supervised`) on a native task: the
    actor-critic's network, options and trainer, learned by BPTT on the best action at every step
    (the value network's options are kept but it is not trained; the baselines do not apply)."""

    LEARNER: ClassVar[str] = "supervised"

    learner: str = "supervised"
    act: str = "greedy"  # how the trained network acts (validation, records): greedy (argmax) or sample
    loss: str = "cross-entropy"  # cross-entropy on the best action, or mse (PsychRNN's) on its one-hot outputs

    def __post_init__(self) -> None:
        super().__post_init__()
        check_supervised(self)

    def learner_config(self) -> ActorCriticConfig:
        return supervised_learning(self, super().learner_config())

    def learner_class(self) -> type[ActorCritic]:
        from rewardrnn.learners.supervised import Supervised
        return Supervised


def check_local(config) -> None:
    """Refuse (one line) a local-rule config's ``rule``, ``feedback`` or ``track_alignment``."""
    from rewardrnn.learners.local import FEEDBACKS, RULES

    check_one_of(config, "rule", RULES)
    check_one_of(config, "feedback", FEEDBACKS)
    check_bool(config, "track_alignment")


def local_learning(config, learning: ActorCriticConfig) -> ActorCriticConfig:
    """The gated network's learning options with a local-rule config's rule and feedback."""
    from rewardrnn.learners.local import LocalRuleConfig

    return LocalRuleConfig(**dataclasses.asdict(learning), rule=config.rule, feedback=config.feedback,
                           track_alignment=config.track_alignment)


@dataclass(frozen=True)
class LocalRuleOptions:
    """The local rule's options (:mod:`rewardrnn.learners.local`), for a config class of the
    gated network that lists it before its base (``class C(LocalRuleOptions, TrainConfig)``):
    ``rule``: ``eprop`` (the gated unit's own eligibility, Bellec et al. 2020) or ``rflo`` (a
    leaky unit's, Murray 2019); ``feedback``: ``random`` (fixed random feedback weights) or
    ``readout`` (the transposed readout); ``track_alignment``: the cosine with BPTT's gradient as
    a metric of every update."""

    LEARNER: ClassVar[str] = "local"

    learner: str = "local"
    rule: str = "eprop"
    feedback: str = "random"
    track_alignment: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_local(self)

    def learner_config(self) -> ActorCriticConfig:
        return local_learning(self, super().learner_config())


@dataclass(frozen=True)
class LocalTrainConfig(LocalRuleOptions, TrainConfig):
    """The local rule on a native task: the actor-critic's networks, value network (and
    ``baseline`` choices), optimiser and trainer, with the decision network learning by an
    eligibility rule instead of BPTT (:class:`LocalRuleOptions`)."""

    def learner_class(self) -> type[ActorCritic]:
        from rewardrnn.learners.local import LocalActorCritic
        return LocalActorCritic
