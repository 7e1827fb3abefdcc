"""The learner interface: what the trainer, the records and the exports need of a learning rule.

A learner combines a task (or another source of trials) and a network family with a rule. The
trainer (:mod:`rewardrnn.training.trainer`) knows only this interface; adding a rule is one
module implementing it, one line in :data:`rewardrnn.training.runs.KINDS` and its flags.

Pure learners (the actor-critic on native tasks, Miconi's rule) give ``update`` as a pure
function of their state; the trainer compiles ``checkfreq`` of them into one ``lax.scan`` and
maps it over seeds. A learner whose trials come from outside JAX (the actor-critic fed by
NeuroGym environments) sets ``host_stepped = True`` and implements ``train_chunk`` /
``validate_seed`` itself, one seed at a time.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import jax
import numpy as np

from rewardrnn.keys import VALIDATION_STREAM


@runtime_checkable
class Learner(Protocol):
    """One learning rule on one task, for one seed at a time (states are pytrees; the trainer
    stacks them over seeds).

    * ``init(key) -> state``: a fresh state (seed ``s`` is ``PRNGKey(s)``).
    * ``update(state) -> (state, metrics)``: one parameter update (pure; a batch of trials for
      the actor-critic, one trial for Miconi's rule); ``metrics`` is a dict of scalars.
    * ``evaluate(state, key, n) -> performance``: the numbers the stop criterion reads (a dict of
      scalars, always including the ones of :attr:`performance_names`), from ``n`` fresh trials.
    * ``score(perf)`` (host, numpy): the number best-parameter tracking maximises.
    * ``criterion_met(perf)`` (host, numpy): whether the stop criterion is met, per seed.
    * ``criterion_gap(perf)`` (host, numpy): how far from the stop criterion, per seed (0 where
      met; the criterion's own units, e.g. probability), a column of metrics.csv.
    * ``criterion_unmet(row)`` (host): the parts of the criterion that one seed's validation
      numbers (scalars, a metrics.csv row) do not meet, in words; a stalled seed's reason ends
      with it.
    * ``best_params(state)``: the parameters kept as "best" (what records and exports read).
    * ``updates(state)``: the number of updates done (int array).
    * ``trials_per_update``: trials per update, so that histories count trials.
    * ``trace_metric``: the name of a per-update metric kept in full (Miconi's per-trial error),
      or None.
    * ``with_seed_axis(name)``: the learner for a caller that maps over seeds (``vmap``).
    * ``with_trial_axis(name, size)``: the learner for a caller that splits each update's trials
      over ``size`` devices, or None if it cannot (then one seed trains on one device).
    * ``describe()``: a one-line description for the progress header.
    """

    host_stepped: ClassVar[bool]
    trials_per_update: int
    trace_metric: str | None
    performance_names: tuple[str, ...]

    def init(self, key: jax.Array) -> Any: ...

    def update(self, state: Any) -> tuple[Any, dict[str, jax.Array]]: ...

    def evaluate(self, state: Any, key: jax.Array, n: int) -> dict[str, jax.Array]: ...

    def evaluation_key(self, state: Any) -> jax.Array: ...

    def score(self, perf: dict[str, np.ndarray]) -> np.ndarray: ...

    def criterion_met(self, perf: dict[str, np.ndarray]) -> np.ndarray: ...

    def criterion_gap(self, perf: dict[str, np.ndarray]) -> np.ndarray: ...

    def criterion_unmet(self, row: dict[str, Any]) -> str: ...

    def describe_criterion(self) -> str: ...

    def best_params(self, state: Any) -> Any: ...

    def updates(self, state: Any) -> jax.Array: ...

    def with_seed_axis(self, name: str) -> Learner: ...

    def with_trial_axis(self, name: str, size: int) -> Learner | None: ...

    def describe(self) -> str: ...


def all_finite(tree: Any) -> np.ndarray:
    """Per seed (leading axis of every leaf): whether every value of ``tree`` is finite."""
    leaves = [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)
              if np.issubdtype(np.asarray(leaf).dtype, np.floating)]
    if not leaves:
        return np.ones(0, bool)
    return np.all([np.isfinite(leaf.reshape(leaf.shape[0], -1)).all(axis=1) for leaf in leaves], axis=0)


class SongCriterion:
    """Song et al.'s stop criterion for a learner on a native task (``self.env``, a
    :class:`~rewardrnn.tasks.engine.TaskEnv`; states with a ``key``): validation trials drawn
    from the state's validation stream, best tracking on the validation reward, the task's
    criterion (spec song2017.md §4.7)."""

    def evaluation_key(self, state: Any) -> jax.Array:
        return jax.random.fold_in(state.key, VALIDATION_STREAM)

    def score(self, perf: dict) -> np.ndarray:
        return np.asarray(perf["reward"])

    def criterion_met(self, perf: dict) -> np.ndarray:
        return np.asarray(self.env.protocol.criterion.met(perf))

    def criterion_gap(self, perf: dict) -> np.ndarray:
        return np.asarray(self.env.protocol.criterion.gap(perf))

    def criterion_unmet(self, row: dict) -> str:
        return self.env.protocol.criterion.unmet(row)

    def describe_criterion(self) -> str:
        return self.env.protocol.criterion.describe()
