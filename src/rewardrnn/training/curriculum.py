"""Curricula (PsychRNN's ``Curriculum``, beyond both papers): a run trains through stages, each a
variant of its task, and a seed moves to the next stage when it meets its stage's criterion.

A run file lists the stages as ``[[curriculum]]`` tables, in order; the last is the task itself::

    [[curriculum]]                                   # stage 1: the easy coherences only
    set = { "conditions.coherence" = [25.6, 51.2] }

    [[curriculum]]                                   # stage 2: a lower criterion, at most 4,000 trials
    set = { "conditions.coherence" = [12.8, 25.6, 51.2], "criterion.min_p_correct" = 0.7 }
    trials = 4000

    [[curriculum]]                                   # the task itself, with the task's criterion
    set = {}

A stage's ``set`` holds ``--set`` keys (:mod:`rewardrnn.tasks.variants`), applied on top of the
run's own ``task_settings``; its criterion is its variant's, i.e. the task's unless its ``set``
gives ``criterion.*`` keys. ``trials`` (optional) is the stage's budget: a seed moves on when it
meets the stage's criterion or has trained ``trials`` trials in the stage, whichever comes first.
Both are checked at validations (every ``checkfreq`` updates), so a stage lasts a whole number of
validation periods. The last stage must be the task itself (``set = {}``, no ``trials``): its
criterion is the run's stop criterion and the run's budget (``max_updates``, ``--trials``) is the
whole curriculum's. Best parameters are tracked within a seed's current stage (a stage's first
validation is its first best), so a seed that ends the budget early in the curriculum keeps the
best of its stage, and the summary says which stage it reached. Trials to criterion count every
stage's trials.

Every stage trains the same network with the same learner: a variant that changes the learner's
state (e.g. the number of conditions under ``--baseline-per-condition``) is refused in one line.
The trials per update are the task's (the run's resolved batch), in every stage.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import numpy as np

from rewardrnn.errors import ConfigError
from rewardrnn.tasks import variants

#: The keys of one ``[[curriculum]]`` table.
STAGE_KEYS = ("set", "trials")


@dataclasses.dataclass(frozen=True)
class StagePlan:
    """One stage as the trainer sees it: its learner (the same rule on the stage's variant) and
    its budget in updates (None: none; the last stage's budget is the run's)."""

    learner: Any
    max_updates: int | None


def normalise(config, stages: Any) -> list[dict[str, Any]]:
    """``stages`` (the run file's ``[[curriculum]]`` tables, or the Python API's list of dicts)
    checked and in their saved form: ``[{"set": {...}, "trials": N or None}, ...]``, each ``set``
    normalised against the task with the run's settings. ``[]`` for no curriculum. A one-line
    :class:`ConfigError` naming the stage and the bad key or value otherwise."""
    if stages is None or (isinstance(stages, (list, tuple)) and len(stages) == 0):
        return []
    if not isinstance(stages, (list, tuple)) or not all(isinstance(s, dict) for s in stages):
        raise ConfigError(f"curriculum must be a list of stages ([[curriculum]] tables with set = {{...}}), "
                          f"got {stages!r}")
    if len(stages) < 2:
        raise ConfigError("a curriculum needs at least two stages: one or more variants, then the task itself "
                          "(set = {})")
    base = config.protocol()
    out = []
    for number, stage in enumerate(stages, 1):
        unknown = sorted(set(stage) - set(STAGE_KEYS))
        if unknown:
            raise ConfigError(f"curriculum stage {number}: unknown key(s) {unknown}; a stage has set (a table of "
                              f"--set keys) and, optionally, trials (its budget)")
        settings = stage.get("set", {})
        if not isinstance(settings, dict):
            raise ConfigError(f"curriculum stage {number}: set must be a table of --set keys, got {settings!r}")
        try:
            settings = variants.normalise(base, settings)
        except ConfigError as error:
            raise ConfigError(f"curriculum stage {number}: {error}") from None
        trials = stage.get("trials")
        if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
            raise ConfigError(f"curriculum stage {number}: trials must be an integer >= 1 (the stage's budget), "
                              f"got {trials!r}")
        out.append({"set": settings, "trials": trials})
    last = out[-1]
    if last["set"] or last["trials"] is not None:
        raise ConfigError(f"the last curriculum stage (stage {len(out)}) must be the task itself: set = {{}} and no "
                          f"trials (its criterion is the task's, its budget the run's); put the task's own settings "
                          f"in [task_settings]")
    return out


def stage_plans(config, final_learner) -> tuple[StagePlan, ...] | None:
    """The trainer's stages of a resolved ``config`` whose learner is ``final_learner`` (the last
    stage's), or None without a curriculum. Each earlier stage is the same config with the
    stage's settings on top of the run's, built by the config's own ``build_learner``."""
    if not getattr(config, "curriculum", None):  # a kind without variants (NeuroGym) has none
        return None
    template = _state_shapes(final_learner)
    plans = []
    for number, stage in enumerate(config.curriculum[:-1], 1):
        variant = dataclasses.replace(config, task_settings={**config.task_settings, **stage["set"]}, curriculum=[])
        learner = variant.build_learner()
        if _state_shapes(learner) != template:
            raise ConfigError(f"curriculum stage {number} changes the learner's state (its settings "
                              f"{sorted(stage['set'])} change what the learner keeps, e.g. one baseline per "
                              f"condition): a curriculum's stages train one network with one state")
        budget = None if stage["trials"] is None else math.ceil(stage["trials"] / learner.trials_per_update)
        plans.append(StagePlan(learner, budget))
    plans.append(StagePlan(final_learner, None))
    return tuple(plans)


def _state_shapes(learner) -> Any:
    """The structure, shapes and dtypes of a learner's state (what a stage must keep)."""
    state = learner.init(jax.random.PRNGKey(0))  # host code (numpy draws): not traceable, and cheap
    return (jax.tree_util.tree_structure(state),
            [(np.shape(leaf), np.asarray(leaf).dtype) for leaf in jax.tree_util.tree_leaves(state)])


def trials_per_stage(stage_end: np.ndarray, updates: int, offset: int, trials_per_update: int) -> list[int]:
    """A seed's trials in each stage, from the updates at which its stages ended (``-1`` where a
    stage has not ended), its updates so far and the updates before its current attempt."""
    ends = np.asarray(stage_end, np.int64)
    stops = np.where(ends < 0, updates, ends)  # a stage not ended runs to now (0 trials after the current one)
    starts = np.concatenate([[offset], stops[:-1]])
    return (np.maximum(0, stops - starts) * trials_per_update).tolist()
