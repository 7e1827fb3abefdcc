"""The configuration of the actor-critic trained on a NeuroGym environment (optional extra:
``pip install rewardrnn[neurogym]``); saved with the run and enough to repeat it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from rewardrnn import resources
from rewardrnn.errors import ConfigError
from rewardrnn.learners.actor_critic import ActorCriticConfig
from rewardrnn.learners.actor_critic_host import HostBatchActorCritic
from rewardrnn.networks import gru
from rewardrnn.tasks import files, neurogym
from rewardrnn.tasks.episodes import WANG_DISCOUNT
from rewardrnn.training.config import (LocalRuleOptions, SavedConfig, check_discount, check_int, check_positive,
                                       check_seeds, check_supervised, supervised_learning)
from rewardrnn.training.stalls import DEFAULT_PATIENCE, rule_for
from rewardrnn.training.trainer import TrainerPlan

#: The return's discount per trial of a session (Wang et al. 2018's, as the episode tasks').
DEFAULT_DISCOUNT = WANG_DISCOUNT
#: Keys that may differ between a saved run and a resumed one.
RESUMABLE_CHANGES = ("max_updates", "patience", "restart_stalled")


@dataclass(frozen=True)
class NeuroGymTrainConfig(SavedConfig):
    """A NeuroGym training run. ``task`` is ``ngym:<environment id>`` or a file's environment class
    or factory (``my_env.py:NAME``, :mod:`rewardrnn.tasks.neurogym`); ``dt_ms`` (default: the
    environment's) and ``env_kwargs`` go to ``gymnasium.make`` (or the class or factory);
    ``wrappers`` are NeuroGym wrappers by name (:data:`~rewardrnn.tasks.neurogym.WRAPPERS`),
    applied in order; the network's dt is the environment's. Network constants are the paper's (spec §3.6), learning rates §4.6; the run
    stops when NeuroGym's own performance of the validation trials reaches ``target``.

    ``episode_trials`` (K, default 1: every trial afresh, the one-trial actor-critic): sessions of
    K consecutive trials through which the network's state carries over, the return discounted
    by ``discount`` per trial (default 0.9, Wang et al. 2018, as the episode tasks';
    :mod:`rewardrnn.learners.actor_critic_host`); ``max_trial_steps`` stays per trial (an episode is
    cut at K times it). ``n_gradient`` counts episodes, ``n_validation`` trials."""

    LEARNER: ClassVar[str] = "actor-critic"

    task: str = "ngym:PerceptualDecisionMaking-v0"
    learner: str = "actor-critic"
    seed: int = 1
    n_seeds: int = 1
    dt_ms: float | None = None
    env_kwargs: dict = field(default_factory=dict)
    wrappers: tuple[str, ...] = ()
    N: int = 100
    lr: float = 0.004
    baseline_lr: float = 0.004
    n_gradient: int = 20
    max_updates: int = 2000
    checkfreq: int = 50
    n_validation: int = 200
    target: float = 0.8
    max_trial_steps: int = 1000
    episode_trials: int = 1
    discount: float | None = None
    patience: int = DEFAULT_PATIENCE  # validations without progress before a seed stalls (0: never)
    restart_stalled: int = 0  # times a stalled seed starts afresh (beyond the papers; 0: never)

    def __post_init__(self) -> None:
        neurogym.check_task(self.task)
        if files.is_task_file(self.task):  # the run folder saves the file's absolute path
            object.__setattr__(self, "task", files.canonical(self.task))
        object.__setattr__(self, "wrappers", neurogym.check_wrappers(self.wrappers))
        if self.learner != self.LEARNER:
            raise ConfigError(f"learner must be {self.LEARNER!r} here, got {self.learner!r}")
        check_seeds(self)
        for name in ("max_updates", "checkfreq"):
            check_int(self, name, 1)
        for name, most in (("N", resources.MAX_UNITS), ("n_gradient", resources.MAX_BATCH_TRIALS),
                           ("n_validation", resources.MAX_BATCH_TRIALS), ("max_trial_steps", resources.MAX_TRIAL_STEPS)):
            check_int(self, name, 1, most)
        check_int(self, "episode_trials", 1, resources.MAX_TRIAL_STEPS)
        resources.check_at_most("episode steps (episode_trials x max_trial_steps)",
                                self.episode_trials * self.max_trial_steps, resources.MAX_EPISODE_STEPS,
                                "lower --max-trial-steps or --episode-trials")
        check_discount(self)
        check_int(self, "patience", 0)
        check_int(self, "restart_stalled", 0)
        for name in ("lr", "baseline_lr", "target"):
            check_positive(self, name)
        if self.dt_ms is not None:
            check_positive(self, "dt_ms")
        if not isinstance(self.env_kwargs, dict):
            raise ConfigError(f"env_kwargs must be a mapping, got {self.env_kwargs!r}")

    def resolved(self) -> NeuroGymTrainConfig:
        return self

    def make_kwargs(self) -> dict:
        return {**self.env_kwargs, **({"dt": self.dt_ms} if self.dt_ms is not None else {})}

    def build_learner(self) -> HostBatchActorCritic:
        """The learner sized for the environment (its dt, observation and action sizes)."""
        environment = neurogym.make_env(self.task, self.make_kwargs(), self.wrappers)
        sizes = neurogym.sizes(environment, self.task)
        self.check_environment(environment)
        policy = gru.GRUConfig(n_inputs=sizes.n_inputs, n_outputs=sizes.n_actions, n_units=self.N)
        value = gru.GRUConfig(n_inputs=self.N + sizes.n_actions, n_outputs=1, n_units=self.N,
                              input_scale_units=self.N)
        return self.learner_class()(self.task, self.make_kwargs(), sizes, policy, value, self.learner_config(),
                                    self.target, self.max_trial_steps, self.wrappers, self.episode_trials,
                                    DEFAULT_DISCOUNT if self.discount is None else float(self.discount))

    def learner_config(self) -> ActorCriticConfig:
        return ActorCriticConfig(n_gradient=self.n_gradient, lr=self.lr, baseline_lr=self.baseline_lr)

    def learner_class(self) -> type[HostBatchActorCritic]:
        return HostBatchActorCritic

    def check_environment(self, environment) -> None:
        """Refuse an environment this learner cannot train (one line); any for the actor-critic."""

    def plan(self) -> TrainerPlan:
        return TrainerPlan(seeds=tuple(self.seeds), checkfreq=self.checkfreq, max_updates=self.max_updates,
                           n_validation=self.n_validation, stall=rule_for(self.patience), restarts=self.restart_stalled)


@dataclass(frozen=True)
class SupervisedNeuroGymTrainConfig(NeuroGymTrainConfig):
    """The supervised learner on a NeuroGym environment (:class:`rewardrnn.learners.supervised.SupervisedOnHost`):
    the actor-critic's network, options and trainer, learned by BPTT on NeuroGym's ground truth
    (``env.gt``) at every step; ``act`` and ``loss`` as for native tasks
    (:class:`~rewardrnn.training.config.SupervisedTrainConfig`)."""

    LEARNER: ClassVar[str] = "supervised"

    learner: str = "supervised"
    act: str = "greedy"
    loss: str = "cross-entropy"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_supervised(self)
        if self.episode_trials != 1:
            raise ConfigError(f"episode_trials must be 1 for the supervised learner (it reads NeuroGym's trial arrays "
                              f"one trial at a time), got {self.episode_trials!r}; sessions are for the reward learners")

    def learner_config(self) -> ActorCriticConfig:
        return supervised_learning(self, super().learner_config())

    def learner_class(self) -> type[HostBatchActorCritic]:
        from rewardrnn.learners.supervised import SupervisedOnHost
        return SupervisedOnHost

    def check_environment(self, environment) -> None:
        neurogym.check_ground_truth(self.task, environment, self.wrappers)


@dataclass(frozen=True)
class LocalNeuroGymTrainConfig(LocalRuleOptions, NeuroGymTrainConfig):
    """The local rule on a NeuroGym environment (:class:`rewardrnn.learners.local.LocalOnHost`):
    the NeuroGym actor-critic's networks, trials and trainer, the decision network learning by an
    eligibility rule (:class:`~rewardrnn.training.config.LocalRuleOptions`)."""

    def learner_class(self) -> type[HostBatchActorCritic]:
        from rewardrnn.learners.local import LocalOnHost
        return LocalOnHost
