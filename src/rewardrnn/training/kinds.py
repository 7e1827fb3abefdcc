"""The registry of run kinds: which learner trains which task source, with which config class,
and which command-line flags apply to it. One place: the run folder, the command line and the
Python API all read it.

A kind is a (learner, task source) pair:

==================  ==========================================  =======================
kind                tasks                                       config
==================  ==========================================  =======================
actor-critic        Song et al.'s tasks (``rdm-fixed``...)       :class:`TrainConfig`
perturbation        Miconi's tasks (``dnms``...)                 :class:`PerturbationTrainConfig`
perturbation/native Song et al.'s tasks, the rate network acting :class:`PerturbationTrainConfig`
actor-critic/ngym   any NeuroGym environment (``ngym:<id>``)     :class:`NeuroGymTrainConfig`
                    or a file's env (``my_env.py:NAME``)
supervised          Song et al.'s tasks, BPTT on the best action :class:`SupervisedTrainConfig`
supervised/ngym     any NeuroGym environment, BPTT on its gt     :class:`SupervisedNeuroGymTrainConfig`
supervised/miconi   Miconi's tasks, BPTT on his targets          :class:`SupervisedMiconiTrainConfig`
local               Song et al.'s tasks, a local eligibility rule :class:`LocalTrainConfig`
local/ngym          any NeuroGym environment, the local rule     :class:`LocalNeuroGymTrainConfig`
local/rate          Song et al.'s tasks, the local rule on        :class:`LocalRateTrainConfig`
                    Miconi's rate network (``--network rate``)
actor-critic/       episodes of trials (``bandit``, ``reversal``, :class:`EpisodeTrainConfig`
episodes            ``two-step``; Wang et al. 2018), or a
                    file's EpisodeTask (``my_task.py:NAME``)
==================  ==========================================  =======================

Adding a learner: one module implementing :class:`rewardrnn.learners.base.Learner`, its config
class (``build_learner``, ``plan``, ``resolved``, ``to_dict``/``from_dict``), one line in
:data:`KINDS` with its flags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rewardrnn.errors import ConfigError, UnknownNameError
from rewardrnn.tasks import files as task_files
from rewardrnn.tasks import neurogym
from rewardrnn.tasks.episodes import EPISODE_TASKS
from rewardrnn.tasks.miconi import CONTINUOUS_TASKS
from rewardrnn.tasks.registry import TASKS, is_protocol_task

#: Learners by the name a user gives (``--learner``).
LEARNERS = ("actor-critic", "perturbation", "supervised", "local")
#: Trained network families by the name a user gives (``--network``; :attr:`RunKind.network`).
NETWORKS = ("gated", "rate")


@dataclass(frozen=True)
class RunKind:
    """One kind of run. ``flags`` maps each command-line flag that applies (its name with
    underscores) to the config field it sets (``task_options.<name>`` for a task option).
    ``network`` is the trained network's family (``gated``: Song et al.'s gated network;
    ``rate``: Miconi's rate network); with ``source`` it is everything that comes after training
    needs to know (:attr:`family`): the verbs, records, manipulations, export and the report
    dispatch on the family, never on the learner, so a new learner of an existing family adds
    nothing there."""

    name: str
    learner: str
    source: str
    network: str
    title: str
    config: str
    accepts: Callable[[str], bool]
    flags: dict[str, str]

    @property
    def config_class(self) -> type:
        """The config class, ``config`` = ``"module:Class"`` in ``rewardrnn.training``, imported on
        first use: the registry itself loads no learner (``rewardrnn tasks`` lists the learners
        without importing JAX)."""
        import importlib

        module, name = self.config.split(":")
        return getattr(importlib.import_module(f"rewardrnn.training.{module}"), name)

    @property
    def family(self) -> str:
        """``network/source``: how the trained network is simulated and read after training
        (``gated/native``, ``gated/neurogym``, ``rate/native``, ``rate/miconi``)."""
        return f"{self.network}/{self.source}"

    def config_options(self, task: str, given: dict[str, Any]) -> dict[str, Any]:
        """Config fields from command-line flags (``None`` = not given); a flag that does not
        apply to this kind is refused by name."""
        options: dict[str, Any] = {}
        for flag, value in given.items():
            if value is None:
                continue
            if flag not in self.flags:
                others = [k.title for k in KINDS if flag in k.flags]
                raise ConfigError(f"{cli_flag(flag)} does not apply to {self.title} (task {task}); "
                                  f"it applies to: {', '.join(others) or 'nothing'}")
            target = self.flags[flag]
            if target.startswith("task_options."):
                options.setdefault("task_options", {})[target.split(".", 1)[1]] = value
            else:
                options[target] = value
        return options

    def check_fields(self, options: dict[str, Any]) -> None:
        """Refuse config fields this kind does not have (the Python API's keyword arguments)."""
        import dataclasses

        known = {f.name for f in dataclasses.fields(self.config_class)} - {"task", "learner"}
        unknown = sorted(set(options) - known)
        cli_names = {flag: field for flag, field in self.flags.items() if flag in unknown}
        if cli_names:
            said = ", ".join(f"{cli_flag(flag)} is {field}=" for flag, field in cli_names.items())
            raise ConfigError(f"option(s) {sorted(cli_names)} are the command line's names; in Python: {said}")
        if unknown:
            raise ConfigError(f"option(s) {unknown} do not apply to {self.title}; its options: "
                              f"{', '.join(sorted(known))}")


def options_table() -> str:
    """Every kind's options, the Python keyword beside the command-line flag (for
    :func:`rewardrnn.train`'s docstring)."""
    import textwrap

    lines = []
    for kind in KINDS:
        pairs = ", ".join(f"{field} ({cli_flag(flag)})" for flag, field in kind.flags.items())
        lines.append(textwrap.fill(f"{kind.title} (kind {kind.name}): {pairs}", width=100, initial_indent="    ",
                                   subsequent_indent="        ", break_on_hyphens=False))
    return "\n".join(lines)


def cli_flag(name: str) -> str:
    """The command-line spelling of a flag name (``juice_ratio`` -> ``--juice-ratio``)."""
    return "--" + name.replace("_", "-")


_COMMON = {"seed": "seed", "seeds": "n_seeds", "patience": "patience", "restart_stalled": "restart_stalled"}
#: Flags of the kinds whose task is a protocol (registered or from a file).
_PROTOCOL = {"set": "task_settings"}
#: The actor-critic's flags on native tasks and on NeuroGym (the local rule has them too).
_ACTOR_CRITIC = {**_COMMON, **_PROTOCOL, "dt": "dt_ms", "N": "N", "lr": "lr", "baseline_lr": "baseline_lr",
                 "baseline": "baseline", "baseline_constant": "baseline_constant", "baseline_rate": "baseline_rate",
                 "baseline_per_condition": "baseline_per_condition", "lesion_value_at": "lesion_value_at",
                 "dale": "dale", "juice_ratio": "task_options.juice_ratio", "offers": "task_options.offers",
                 "t0_return": "t0_return", "entropy_bonus": "entropy_bonus",
                 "max_updates": "max_updates", "n_validation": "n_validation", "checkfreq": "checkfreq"}
_ACTOR_CRITIC_NGYM = {**_COMMON, "dt": "dt_ms", "N": "N", "lr": "lr", "baseline_lr": "baseline_lr",
                      "max_updates": "max_updates", "n_validation": "n_validation", "checkfreq": "checkfreq",
                      "env_kwargs": "env_kwargs", "wrappers": "wrappers", "episode_trials": "episode_trials",
                      "discount": "discount"}
#: The local rule's own flags.
_LOCAL = {"rule": "rule", "feedback": "feedback", "track_alignment": "track_alignment"}
KINDS: tuple[RunKind, ...] = (
    RunKind("actor-critic", "actor-critic", "native", "gated", "the actor-critic (Song et al. 2017)", "config:TrainConfig",
            is_protocol_task, _ACTOR_CRITIC),
    RunKind("perturbation", "perturbation", "miconi", "rate", "the perturbation rule (Miconi 2017)",
            "perturbation_config:PerturbationTrainConfig", lambda task: task in CONTINUOUS_TASKS,
            {**_COMMON, "N": "n_units", "trials": "n_trials", "checkfreq": "chunk_trials",
             "nonlinearity": "nonlinearity", "update_form": "update", "method": "method",
             "trial_order": "trial_order", "reward_baseline": "reward_baseline", "baseline_lr": "value_lr",
             "value_readout": "value_readout_ms", "value_input": "value_input"}),
    RunKind("perturbation/native", "perturbation", "native", "rate",
            "the perturbation rule (Miconi 2017) acting in a native task", "perturbation_config:PerturbationTrainConfig",
            is_protocol_task,
            {**_COMMON, **_PROTOCOL, "N": "n_units", "trials": "n_trials", "checkfreq": "chunk_trials",
             "nonlinearity": "nonlinearity", "update_form": "update", "method": "method",
             "trial_order": "trial_order", "reward_baseline": "reward_baseline", "baseline_lr": "value_lr",
             "value_readout": "value_readout_ms", "value_input": "value_input", "dt": "dt_ms", "tau": "tau_ms",
             "choice_threshold": "choice_threshold", "n_validation": "n_validation"}),
    RunKind("supervised", "supervised", "native", "gated", "supervised learning (BPTT on the best action)",
            "config:SupervisedTrainConfig", is_protocol_task,
            {**_COMMON, **_PROTOCOL, "dt": "dt_ms", "N": "N", "lr": "lr", "dale": "dale",
             "juice_ratio": "task_options.juice_ratio", "offers": "task_options.offers",
             "max_updates": "max_updates", "n_validation": "n_validation", "checkfreq": "checkfreq", "act": "act",
             "loss": "loss"}),
    RunKind("local", "local", "native", "gated", "a local rule (e-prop / RFLO eligibility) with Song's value network",
            "config:LocalTrainConfig", is_protocol_task, {**_ACTOR_CRITIC, **_LOCAL}),
    RunKind("local/rate", "local", "native", "rate",
            "a local rule (RFLO / e-prop eligibility) on Miconi's rate network with Song's value network",
            "perturbation_config:LocalRateTrainConfig", is_protocol_task,
            {**_COMMON, **_PROTOCOL, "N": "n_units", "trials": "n_trials", "checkfreq": "chunk_trials",
             "trial_order": "trial_order", "reward_baseline": "reward_baseline", "baseline_lr": "value_lr",
             "value_readout": "value_readout_ms", "value_input": "value_input", "dt": "dt_ms", "tau": "tau_ms",
             "choice_threshold": "choice_threshold", "n_validation": "n_validation", "lr": "lr",
             "batch": "batch", "choice_gain": "choice_gain", "feedback": "feedback",
             "track_alignment": "track_alignment"}),
    RunKind("supervised/miconi", "supervised", "miconi", "rate", "supervised learning on Miconi's tasks (his targets)",
            "perturbation_config:SupervisedMiconiTrainConfig", lambda task: task in CONTINUOUS_TASKS,
            {**_COMMON, "N": "n_units", "trials": "n_trials", "checkfreq": "chunk_trials", "lr": "lr", "loss": "loss",
             "trial_order": "trial_order"}),
    RunKind("actor-critic/ngym", "actor-critic", "neurogym", "gated", "the actor-critic on NeuroGym", "neurogym_config:NeuroGymTrainConfig",
            neurogym.is_environment, _ACTOR_CRITIC_NGYM),
    RunKind("supervised/ngym", "supervised", "neurogym", "gated", "supervised learning on NeuroGym (its ground truth)",
            "neurogym_config:SupervisedNeuroGymTrainConfig", neurogym.is_environment,
            {**_COMMON, "dt": "dt_ms", "N": "N", "lr": "lr", "max_updates": "max_updates",
             "n_validation": "n_validation", "checkfreq": "checkfreq", "env_kwargs": "env_kwargs", "act": "act",
             "loss": "loss"}),
    RunKind("local/ngym", "local", "neurogym", "gated", "a local rule with Song's value network on NeuroGym",
            "neurogym_config:LocalNeuroGymTrainConfig", neurogym.is_environment, {**_ACTOR_CRITIC_NGYM, **_LOCAL}),
    RunKind("actor-critic/episodes", "actor-critic", "episodes", "gated",
            "the actor-critic over episodes of trials (Wang et al. 2018)", "episodes_config:EpisodeTrainConfig",
            lambda task: task in EPISODE_TASKS or task_files.names_episode_task(task),
            {**_COMMON, "set": "task_options", "N": "N", "rho": "rho", "lr": "lr", "baseline_lr": "baseline_lr",
             "discount": "discount", "max_updates": "max_updates", "n_validation": "n_validation",
             "checkfreq": "checkfreq"}),
)
BY_NAME = {kind.name: kind for kind in KINDS}


def kind_for(task: str, learner: str | None = None, network: str | None = None) -> RunKind:
    """The kind of run that trains ``task`` (with ``learner`` and the trained ``network``
    family, :data:`NETWORKS`, when given): an error naming the task or the pair otherwise."""
    if learner is not None and learner not in LEARNERS:
        raise ConfigError(f"learner must be one of {', '.join(LEARNERS)}; got {learner!r}")
    if network is not None and network not in NETWORKS:
        raise ConfigError(f"network must be one of {', '.join(NETWORKS)}; got {network!r}")
    if not isinstance(task, str):
        raise ConfigError(f"task must be a task name, got {task!r}")
    matching = [kind for kind in KINDS if kind.accepts(task)]
    if not matching:
        if neurogym.is_neurogym(task):
            neurogym.env_id(task)  # "ngym:" alone
        raise UnknownNameError(f"unknown task {task!r}; known tasks: {', '.join(sorted(TASKS))} (actor-critic), "
                               f"{', '.join(CONTINUOUS_TASKS)} (perturbation), {', '.join(EPISODE_TASKS)} "
                               f"(actor-critic, episodes of trials), a task file (path/to/file.py:NAME, a "
                               f"Protocol or an environment) or ngym:<NeuroGym environment id>")
    for kind in matching:
        if (learner is None or kind.learner == learner) and (network is None or kind.network == network):
            return kind
    if network is not None and any(learner is None or kind.learner == learner for kind in matching):
        offered = sorted({kind.network for kind in matching if learner is None or kind.learner == learner})
        raise ConfigError(f"--network {network} is not offered for {task!r} with the {learner or 'default'} learner; "
                          f"its network(s): {', '.join(offered)} (the rate network: --learner perturbation or "
                          f"--learner local on a protocol task; Miconi's tasks: his rate network)")
    raise ConfigError(f"{task!r} does not train with the {learner} learner: the perturbation learner trains "
                      f"Miconi's tasks ({', '.join(CONTINUOUS_TASKS)}) and Song's, the actor-critic Song's and "
                      f"NeuroGym's, the supervised learner every one of them, the local rule Song's and NeuroGym's; "
                      f"the episodes of trials ({', '.join(EPISODE_TASKS)}) train with the actor-critic only (the "
                      f"supervised learner has no target in a bandit)")


def learners_for(task: str) -> tuple[str, ...]:
    """The learners that train ``task`` (``rewardrnn tasks`` shows them), in :data:`LEARNERS` order."""
    return tuple(dict.fromkeys(kind.learner for kind in KINDS if kind.accepts(task)))


def kind_of(config: Any) -> RunKind:
    """The kind of a config object."""
    for kind in KINDS:
        if type(config) is kind.config_class and kind.accepts(config.task):  # a subclass is a kind of its own
            return kind
    raise ConfigError(f"not a run configuration: {type(config).__name__}")
