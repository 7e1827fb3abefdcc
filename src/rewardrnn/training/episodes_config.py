"""The configuration of the actor-critic over episodes of trials (``bandit``, ``reversal``,
``two-step``: :mod:`rewardrnn.tasks.episodes`, docs/episodes.md); saved with the run and enough
to repeat it."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rewardrnn import resources
from rewardrnn.errors import ConfigError
from rewardrnn.tasks import episodes, files
from rewardrnn.training.config import SavedConfig, check_discount, check_int, check_positive, check_seeds
from rewardrnn.training.stalls import DEFAULT_PATIENCE, rule_for
from rewardrnn.training.trainer import TrainerPlan

#: Keys that may differ between a saved run and a resumed one.
RESUMABLE_CHANGES = ("max_updates", "patience", "restart_stalled")


@functools.lru_cache(maxsize=32)
def _task(name: str, options: tuple) -> episodes.EpisodeTask:
    if files.is_task_file(name):
        if options:
            raise ConfigError(f"{name} is an EpisodeTask from a file: it takes no --set options ({dict(options)}); "
                              f"change it in the file")
        return files.load_episode_task(name)
    return episodes.get_episode_task(name, **dict(options))


@dataclass(frozen=True)
class EpisodeTrainConfig(SavedConfig):
    """An actor-critic run over episodes of trials: ``task`` is ``bandit``, ``reversal``,
    ``two-step`` or a file's :class:`~rewardrnn.tasks.episodes.EpisodeTask`
    (``path/to/file.py:NAME``, saved with its absolute path). ``task_options`` are the task factory's
    arguments (``n_trials``, ``arms``, ``p_high``, ``first``, ``last``, ``p_common``, ``p_reward``,
    ``p_switch``; ``--set KEY=VALUE`` on the command line). ``None`` means the task's value: ``N``
    (48, Wang et al. 2018's), ``n_gradient`` (20 episodes per update), ``n_validation`` (200
    episodes), ``discount`` (0.9 per trial). ``rho`` is both networks' initial spectral radius:
    1.0, where Song's one-trial tasks use 2.0 (``rho = 2`` is Song's, a named option; at 2.0 the
    rectified units run away over long episodes, docs/episodes.md). ``max_updates`` is the budget
    (3,000 updates = 6 M trials of the default tasks)."""

    LEARNER: ClassVar[str] = "actor-critic"

    task: str = "bandit"
    learner: str = "actor-critic"
    task_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 1
    n_seeds: int = 1
    N: int | None = None
    rho: float = 1.0
    lr: float = 0.004
    baseline_lr: float = 0.004
    n_gradient: int | None = None
    discount: float | None = None
    max_updates: int = 3000
    checkfreq: int = 50
    n_validation: int | None = None
    patience: int = DEFAULT_PATIENCE  # validations without progress before a seed stalls (0: never)
    restart_stalled: int = 0  # times a stalled seed starts afresh (beyond the papers; 0: never)

    def __post_init__(self) -> None:
        if self.learner != self.LEARNER:
            raise ConfigError(f"learner must be {self.LEARNER!r} here, got {self.learner!r}")
        if files.is_task_file(self.task):  # the run folder saves the file's absolute path
            object.__setattr__(self, "task", files.canonical(self.task))
        if not isinstance(self.task_options, dict):
            raise ConfigError(f"task_options (--set) must be a mapping of option names to values, "
                              f"got {self.task_options!r}")
        task = self.episode_task()  # an unknown task or option: one line naming the allowed ones
        check_seeds(self)
        for name in ("max_updates", "checkfreq"):
            check_int(self, name, 1)
        check_int(self, "patience", 0)
        check_int(self, "restart_stalled", 0)
        for name, most in (("N", resources.MAX_UNITS), ("n_gradient", resources.MAX_BATCH_TRIALS),
                           ("n_validation", resources.MAX_BATCH_TRIALS)):
            if getattr(self, name) is not None:
                check_int(self, name, 1, most)
        for name in ("lr", "baseline_lr", "rho"):
            check_positive(self, name)
        check_discount(self)
        n = self.n_gradient or task.n_gradient
        resources.check_at_most("episodes x steps per update (n_gradient x the episode's steps)",
                                n * task.n_steps, resources.MAX_BATCH_TRIALS * resources.MAX_TRIAL_STEPS)

    def episode_task(self) -> episodes.EpisodeTask:
        """The task built with ``task_options`` (cached per task and options)."""
        try:
            key = tuple(sorted(self.task_options.items()))
            hash(key)
        except TypeError:
            raise ConfigError(f"task_options (--set) values must be numbers or words, got {self.task_options!r}") from None
        return _task(self.task, key)

    def resolved(self) -> EpisodeTrainConfig:
        task = self.episode_task()
        return dataclasses.replace(self, N=self.N or task.N, n_gradient=self.n_gradient or task.n_gradient,
                                   n_validation=self.n_validation or task.n_validation,
                                   discount=task.discount if self.discount is None else float(self.discount))

    def build_learner(self):
        from rewardrnn.learners import episodic

        r = self.resolved()
        return episodic.build(self.episode_task(), N=r.N, lr=r.lr, baseline_lr=r.baseline_lr,
                              n_gradient=r.n_gradient, discount=r.discount, rho=r.rho)

    def plan(self) -> TrainerPlan:
        r = self.resolved()
        return TrainerPlan(seeds=tuple(self.seeds), checkfreq=self.checkfreq, max_updates=self.max_updates,
                           n_validation=r.n_validation, stall=rule_for(self.patience), restarts=self.restart_stalled)
