"""The trainer: one loop for every learner (:class:`rewardrnn.learners.base.Learner`).

At update 0 and after every chunk of ``checkfreq`` updates, every active seed is validated
(spec §4.7); a seed whose score beats its best (or that meets the criterion) keeps its
parameters as best; a seed that meets the criterion stops (unless ``stop_at_criterion`` is off)
and is no longer computed; a seed whose parameters are no longer finite is stopped and marked
``non-finite`` (its best parameters are the last finite ones); a seed that has stopped learning
(:mod:`rewardrnn.training.stalls`) is stopped and marked ``stalled`` with its reason. The checkpoint (every seed's state,
best parameters, history and the per-update trace) is rewritten atomically after every
validation, so an interruption loses at most one chunk and ``resume`` continues exactly where
the checkpoint left off (bit-identical to an uninterrupted run). Python runs only at chunk
boundaries.

Pure learners are compiled: a chunk is one ``lax.scan`` of ``update`` for a batch of seeds
(``vmap``), spread over the devices; a batch of one seed uses the same functions without the
seed axis, so its step loops stop with that seed's own trials. Host-stepped learners (NeuroGym)
are called one seed at a time.
"""

from __future__ import annotations

import dataclasses
import statistics
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rewardrnn.keys import RESTART_STREAM, fold
from rewardrnn.learners.base import Learner, all_finite
from rewardrnn.runtime import stop_requested
from rewardrnn.training.curriculum import StagePlan, trials_per_stage
from rewardrnn.training.stalls import NO_PROGRESS, RESTARTED, StallRule, attempts, rows_by_seed, stall_reasons

#: Name of the vmap axis over seeds, and of the mesh axis over which batches of seeds are spread.
SEED_AXIS, DEVICE_AXIS = "seed", "device"

#: Why a seed stopped (``status`` in metrics.csv and summary.json).
RUNNING, REACHED, BUDGET, NON_FINITE, STALLED = ("running", "reached criterion", "budget spent",
                                                 "non-finite parameters", "stalled")


@dataclasses.dataclass(frozen=True)
class TrainerPlan:
    """What the loop needs beyond the learner: seeds, updates between validations, the budget
    (in updates; rounded up to a whole chunk), validation trials, whether a seed stops at its
    criterion, the stall rule (None: no stall detection) and how many times a stalled seed starts
    afresh."""

    seeds: tuple[int, ...]
    checkfreq: int
    max_updates: int
    n_validation: int
    stop_at_criterion: bool = True
    stall: StallRule | None = None
    restarts: int = 0  # times a stalled seed may start afresh (--restart-stalled)


class TrainerState(NamedTuple):
    """Everything saved in a checkpoint; every leaf has a leading seed axis."""

    learner: Any
    best: Any
    best_score: np.ndarray  # (S,) float32
    best_update: np.ndarray  # (S,) int32
    done: np.ndarray  # (S,) bool: met the stop criterion
    criterion_update: np.ndarray  # (S,) int32, -1 until the criterion is met
    nonfinite: np.ndarray  # (S,) bool: stopped because its parameters stopped being finite
    # (S, stages - 1) int32: the update at which each seed ended each stage before the last, -1
    # until it does; None without a curriculum (so that a run without one saves what it always did)
    stage_end: np.ndarray | None = None


def stack(trees: list[Any]) -> Any:
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *trees)


def initial_state(learner: Learner, seeds: tuple[int, ...] | list[int], n_stages: int = 1) -> TrainerState:
    """Fresh state for every seed (seed s -> PRNGKey(s)), in the first of ``n_stages`` stages;
    also the template a checkpoint is read into."""
    states = stack([learner.init(jax.random.PRNGKey(s)) for s in seeds])
    n = len(seeds)
    return TrainerState(learner=states, best=learner.best_params(states),
                        best_score=np.full(n, -np.inf, np.float32), best_update=np.zeros(n, np.int32),
                        done=np.zeros(n, bool), criterion_update=np.full(n, -1, np.int32),
                        nonfinite=np.zeros(n, bool),
                        stage_end=np.full((n, n_stages - 1), -1, np.int32) if n_stages > 1 else None)


class CompiledSteps:
    """Compiled chunk and validation functions of a pure learner (compiled once, reused)."""

    def __init__(self, learner: Learner, plan: TrainerPlan):
        self.plan = plan
        mapped = learner.with_seed_axis(SEED_AXIS)

        self._ticker: Callable[[int], None] | None = None
        self._tick_lock = threading.Lock()
        self._ticks, self._calls_per_update = 0, 1

        def step(learner: Learner):
            def one(s, _):
                if self._ticker is not None:  # read at trace time: a display asked for updates (terminals only)
                    jax.debug.callback(self._device_tick)
                return learner.update(s)
            return one

        def chunk_of(learner: Learner):
            def chunk_one(state, active):
                new, metrics = jax.lax.scan(step(learner), state, None, length=plan.checkfreq)
                new = jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new, state)
                trace = metrics[learner.trace_metric] if learner.trace_metric else None
                return new, jax.tree_util.tree_map(jnp.mean, metrics), trace
            return chunk_one

        def validate_of(learner: Learner):
            return lambda state: learner.evaluate(state, learner.evaluation_key(state), plan.n_validation)

        self._functions = {"chunk": (chunk_of(learner), chunk_of(mapped)),
                           "validate": (validate_of(learner), validate_of(mapped))}
        devices = jax.devices()
        self._split = learner.with_trial_axis(DEVICE_AXIS, len(devices)) if len(devices) > 1 else None
        if self._split is not None:
            self._functions.update(split_chunk=(chunk_of(self._split), None),
                                   split_validate=(validate_of(self._split), None))
        self._cache: dict[tuple[str, int, int], Callable] = {}

    def on_updates(self, ticker: Callable[[int], None]) -> None:
        """Call ``ticker(1)`` after every update of the compiled chunks (a host callback in the
        loop, so set before the first chunk compiles; such programs skip the persistent
        compilation cache, which is why only a terminal display asks for it)."""
        self._ticker = ticker

    def _device_tick(self) -> None:
        """One device finished one update; every device of the call is one update of the batch."""
        with self._tick_lock:
            self._ticks += 1
            if self._ticks < self._calls_per_update:
                return
            self._ticks = 0
        self._ticker(1)

    def _call(self, name: str, tree: Any) -> Any:
        """The compiled function ``name`` applied to ``tree`` (every leaf with a leading axis of
        seeds). A lone seed's trials are split over the devices when the learner can split them
        (its state replicated, :meth:`Learner.with_trial_axis`); otherwise the seeds are spread
        over the devices and each device maps over its own share of them (``vmap``) and runs
        its own step loops, so that the devices never wait for each other inside an update
        (``shard_map``). Compiled once per batch size and device count."""
        batch = len(jax.tree_util.tree_leaves(tree)[0])
        split = batch == 1 and self._split is not None
        devices = jax.devices() if split else seed_devices(batch)
        cache_key = (name, batch, len(devices))
        if cache_key not in self._cache:
            single, mapped = self._functions[("split_" if split else "") + name]
            mesh = Mesh(np.asarray(devices), (DEVICE_AXIS,))
            if split:
                fn = jax.shard_map(_with_seed_axis(single), mesh=mesh, check_vma=False,
                                   in_specs=PartitionSpec(), out_specs=PartitionSpec())
            elif batch == 1:
                fn = _with_seed_axis(single)
            elif len(devices) == 1:
                fn = jax.vmap(mapped, axis_name=SEED_AXIS)
            else:
                fn = jax.shard_map(jax.vmap(mapped, axis_name=SEED_AXIS), mesh=mesh, check_vma=False,
                                   in_specs=PartitionSpec(DEVICE_AXIS), out_specs=PartitionSpec(DEVICE_AXIS))
            self._cache[cache_key] = jax.jit(fn)
        self._ticks, self._calls_per_update = 0, len(devices)  # one callback per device and update
        return self._cache[cache_key](*(tree if split else _spread(devices, tree)))

    def chunk(self, state, active: np.ndarray):
        """``checkfreq`` updates of the active seeds. Returns the whole state (inactive seeds
        unchanged), the chunk's mean metrics per seed (NaN for inactive seeds) and the trace
        (S, checkfreq) of the learner's trace metric (NaN for inactive seeds), or None.

        Only the active seeds are computed: they are gathered into a batch whose size is rounded
        up to a power of two (so that few sizes are ever compiled), padded with frozen copies."""
        index, batch = compact(active)
        sub = jax.tree_util.tree_map(lambda a: a[batch], state)
        mask = np.arange(len(batch)) < len(index)
        new_sub, metrics, trace = self._call("chunk", (sub, mask))
        if len(index) == len(active):  # every seed active: nothing to put back
            to_host = lambda t: jax.tree_util.tree_map(np.asarray, t)  # noqa: E731
            return new_sub, to_host(metrics), to_host(trace)
        merged = jax.tree_util.tree_map(lambda full, part: _put_back(full, part, index), state, new_sub)
        nan_rows = lambda m: _put_back(np.full((len(active),) + np.shape(m)[1:], np.nan, np.float32), m, index)  # noqa: E731
        return (merged, jax.tree_util.tree_map(nan_rows, metrics),
                None if trace is None else nan_rows(trace))

    def validate(self, state, active: np.ndarray) -> dict[str, np.ndarray]:
        """Validation performance of the active seeds, each (S,) with NaN for inactive seeds."""
        index, batch = compact(active)
        perf = self._call("validate", (jax.tree_util.tree_map(lambda a: a[batch], state),))
        return {k: _put_back(np.full(len(active), np.nan, np.float32), v, index) for k, v in perf.items()}


class HostSteps:
    """Chunks and validations of a host-stepped learner, one seed at a time."""

    def __init__(self, learner: Learner, plan: TrainerPlan):
        self.learner, self.plan = learner, plan
        self._ticker: Callable[..., None] | None = None

    def on_updates(self, ticker: Callable[..., None]) -> None:
        """Call ``ticker(1, seed)`` after every update (the seeds are trained one after the other)."""
        self._ticker = ticker

    def chunk(self, state, active: np.ndarray):
        metrics: dict[str, np.ndarray] = {}
        for i in np.flatnonzero(active):
            one = jax.tree_util.tree_map(lambda a: a[i], state)
            ticker, seed = self._ticker, self.plan.seeds[i]
            one, m = self.learner.train_chunk(one, seed, self.plan.checkfreq,
                                              on_update=None if ticker is None else lambda: ticker(1, seed))
            state = jax.tree_util.tree_map(lambda full, part: _put_back(full, np.asarray(part)[None], np.array([i])),
                                           state, one)
            for k, v in m.items():
                metrics.setdefault(k, np.full(len(active), np.nan, np.float32))[i] = v
        return state, metrics, None

    def validate(self, state, active: np.ndarray) -> dict[str, np.ndarray]:
        perf: dict[str, np.ndarray] = {}
        for i in np.flatnonzero(active):
            one = jax.tree_util.tree_map(lambda a: a[i], state)
            for k, v in self.learner.validate_seed(one, self.plan.seeds[i], self.plan.n_validation).items():
                perf.setdefault(k, np.full(len(active), np.nan, np.float32))[i] = v
        return perf


class Trainer:
    """One learner, one plan: the steps (compiled or host) and the per-seed bookkeeping.

    With ``stages`` (a curriculum, :mod:`rewardrnn.training.curriculum`; the last stage's learner
    is ``learner``), each seed trains with its current stage's learner, on that stage's variant,
    and moves to the next stage at that stage's criterion or budget; ``learner``'s criterion is
    the run's stop criterion."""

    def __init__(self, learner: Learner, plan: TrainerPlan, stages: tuple[StagePlan, ...] | None = None):
        self.learner, self.plan = learner, plan
        self.stages = stages or (StagePlan(learner, None),)
        steps = lambda one: HostSteps(one, plan) if one.host_stepped else CompiledSteps(one, plan)  # noqa: E731
        self.stage_steps = [steps(stage.learner) for stage in self.stages[:-1]]
        self.steps = steps(learner)
        self.stage_steps.append(self.steps)
        self.stalled: dict[int, str] = {}  # seed index -> reason; derived from the history (run)
        n = len(plan.seeds)
        self.restarts = np.zeros(n, np.int64)  # per seed, derived from the history (run)
        self.offset = np.zeros(n, np.int64)  # updates spent in earlier attempts

    def on_updates(self, ticker: Callable[..., None]) -> None:
        """Have ``ticker(n)`` (every training seed did ``n`` updates) or ``ticker(n, seed)`` (that
        seed did) called after every update between validations (a live display)."""
        for steps in self.stage_steps:
            steps.on_updates(ticker)

    def initial_state(self) -> TrainerState:
        return initial_state(self.learner, self.plan.seeds, len(self.stages))

    def stage(self, state: TrainerState) -> np.ndarray:
        """Each seed's current stage (0-based; 0 without a curriculum; the last stage once done)."""
        if state.stage_end is None:
            return np.zeros(len(self.plan.seeds), np.int64)
        return (np.asarray(state.stage_end) >= 0).sum(axis=1)

    def stage_start(self, state: TrainerState) -> np.ndarray:
        """The update at which each seed's current stage began (its attempt's start for the first)."""
        stage = self.stage(state)
        if state.stage_end is None:
            return self.offset.copy()
        ends = np.asarray(state.stage_end, np.int64)
        previous = ends[np.arange(len(stage)), np.maximum(stage - 1, 0)]
        return np.where(stage > 0, previous, self.offset)

    def _by_stage(self, state: TrainerState, active: np.ndarray):
        """(its steps, the active seeds in it) for every stage with active seeds."""
        stage = self.stage(state)
        for k, steps in enumerate(self.stage_steps):
            mask = active & (stage == k)
            if mask.any():
                yield steps, mask

    def _stage_numbers(self, stage: np.ndarray, perf: dict[str, np.ndarray], method: str) -> np.ndarray:
        """``learner.<method>(perf)`` (score, criterion_met, criterion_gap), each seed by the
        learner of its stage ``stage`` (0-based, per seed)."""
        out = np.asarray(getattr(self.learner, method)(perf))
        for k, plan in enumerate(self.stages[:-1]):
            if (stage == k).any():
                out = np.where(stage == k, np.asarray(getattr(plan.learner, method)(perf)), out)
        return out

    def chunk(self, state: TrainerState, active: np.ndarray):
        """``checkfreq`` updates of the active seeds, each with its stage's learner: the learner
        states, the chunk's mean metrics and trace (as :meth:`CompiledSteps.chunk`)."""
        learner, metrics, trace = state.learner, {}, None
        for steps, mask in self._by_stage(state, active):
            learner, part, part_trace = steps.chunk(learner, mask)
            for name, value in part.items():
                value = np.asarray(value)
                metrics[name] = np.where(mask.reshape((-1,) + (1,) * (value.ndim - 1)), value, metrics.get(name, value))
            if part_trace is not None:
                part_trace = np.asarray(part_trace)
                trace = part_trace if trace is None else np.where(mask[:, None], part_trace, trace)
        return learner, metrics, trace

    def validate(self, state: TrainerState, active: np.ndarray) -> dict[str, np.ndarray]:
        """Validation performance of the active seeds, each on its stage's variant."""
        perf: dict[str, np.ndarray] = {}
        for steps, mask in self._by_stage(state, active):
            for name, value in steps.validate(state.learner, mask).items():
                perf[name] = np.where(mask, np.asarray(value), perf.get(name, np.asarray(value)))
        return perf

    def active(self, state: TrainerState) -> np.ndarray:
        """Seeds still training: not stopped at the criterion, for non-finite parameters or as
        stalled, and within the budget."""
        stopped = state.nonfinite | (state.done if self.plan.stop_at_criterion else False)
        stalled = np.isin(np.arange(len(self.plan.seeds)), list(self.stalled))
        return ~stopped & ~stalled & (self.total_updates(state) < self.plan.max_updates)

    def total_updates(self, state: TrainerState) -> np.ndarray:
        """Updates per seed, counting the attempts before a restart."""
        return self.offset + np.asarray(self.learner.updates(state.learner))

    def record(self, state: TrainerState, perf: dict[str, np.ndarray], active: np.ndarray
               ) -> tuple[TrainerState, np.ndarray, np.ndarray, np.ndarray]:
        """Best-parameter tracking, non-finite check and stop criterion after a validation (spec
        §4.7), on the host. A seed whose parameters are not finite keeps its last best and stops.
        In a curriculum, a seed that meets its stage's criterion or spends its budget moves to the
        next stage (its best score starts afresh there); the last stage's criterion is the run's.
        Returns the new state, which seeds improved their best, which met the run's criterion now
        and which ended a stage before the last now."""
        perf = {k: np.asarray(v) for k, v in perf.items()}
        finite = all_finite(self.learner.best_params(state.learner))
        ok = active & finite
        stage = self.stage(state)
        last = stage == len(self.stages) - 1
        stage_met = self._stage_numbers(stage, perf, "criterion_met") & ok & ~state.done
        met = stage_met & last
        score = self._stage_numbers(stage, perf, "score")
        improved = ((score > state.best_score) | stage_met) & ok
        pick = lambda new, old: jax.tree_util.tree_map(  # noqa: E731
            lambda a, b: np.where(improved.reshape((-1,) + (1,) * (np.ndim(a) - 1)), np.asarray(a), np.asarray(b)),
            new, old)
        updates = self.total_updates(state)
        own = np.asarray(perf.get("criterion_update", updates - self.offset), np.float64)  # NaN: inactive seeds
        reached_at = np.where(np.isfinite(own), own + self.offset, -1).astype(np.int64)
        budgets = np.array([np.iinfo(np.int64).max if plan.max_updates is None else plan.max_updates
                            for plan in self.stages], np.int64)[stage]
        advanced = ok & ~last & (stage_met | (updates - self.stage_start(state) >= budgets))
        best_score = np.where(improved, score, state.best_score)
        stage_end = state.stage_end
        if stage_end is not None:
            stage_end = np.array(stage_end)
            rows = np.flatnonzero(advanced)
            stage_end[rows, stage[rows]] = updates[rows]
        state = state._replace(
            best=pick(self.learner.best_params(state.learner), state.best),
            best_score=np.where(advanced, -np.inf, best_score).astype(np.float32),
            best_update=np.where(improved, updates, state.best_update).astype(np.int32),
            done=state.done | met,
            criterion_update=np.where(met, reached_at, state.criterion_update).astype(np.int32),
            nonfinite=state.nonfinite | (active & ~finite),
            stage_end=stage_end,
        )
        return state, improved, met, advanced

    def status(self, state: TrainerState) -> list[str]:
        """Why each seed stopped, or that it is still running."""
        active = self.active(state)
        return [NON_FINITE if state.nonfinite[i] else REACHED if state.done[i] and not active[i]
                else RUNNING if active[i] else STALLED if i in self.stalled else BUDGET
                for i in range(len(self.plan.seeds))]

    def find_stalls(self, history: list[dict]) -> None:
        """Re-decide from the validation history which seeds have stalled (the plan's rule), and
        how many times each has started afresh."""
        by_seed = rows_by_seed(history, self.plan.seeds)
        for i, seed in enumerate(self.plan.seeds):
            self.restarts[i], self.offset[i] = attempts(by_seed[seed])
        if self.plan.stall is not None:
            self.stalled = {i: self.with_unmet(reason, by_seed[self.plan.seeds[i]][-1])
                            for i, reason in stall_reasons(history, self.plan.seeds, self.plan.stall).items()}

    def with_unmet(self, reason: str, last_row: dict) -> str:
        """A "no progress" reason followed by what the seed's last validation lacked for the
        criterion (e.g. P(sure | wager) outside its band); a silent seed's reason says it all."""
        if not reason.startswith(NO_PROGRESS):
            return reason
        unmet = self.learner.criterion_unmet(last_row)
        return f"{reason}; at the last validation {unmet}" if unmet else reason

    def restart_stalled(self, state: TrainerState, rows: list[dict]) -> TrainerState:
        """Start afresh each seed that stalled at this validation and may still restart: a new
        initialisation (keys.RESTART_STREAM), its best so far kept; its row says ``restarted``."""
        for row in rows:
            i = self.plan.seeds.index(row["seed"])
            if i not in self.stalled or self.restarts[i] >= self.plan.restarts:
                continue
            fresh = self.learner.init(fold(jax.random.PRNGKey(row["seed"]), RESTART_STREAM, int(self.restarts[i]) + 1))
            learner = jax.tree_util.tree_map(lambda full, one, i=i: _put_back(full, np.asarray(one)[None], np.array([i])),
                                             state.learner, fresh)
            stage_end = None if state.stage_end is None else np.array(state.stage_end)
            if stage_end is not None:
                stage_end[i] = -1  # a fresh network starts the curriculum afresh
            state = state._replace(learner=learner, stage_end=stage_end)
            self.offset[i] = row["updates"]
            self.restarts[i] += 1
            row.update(status=RESTARTED)
            del self.stalled[i]
        return state

    def run(self, state: TrainerState, history: list[dict], trace: np.ndarray, *,
            save: Callable[[TrainerState, list[dict], np.ndarray], None],
            show: Callable[[list[dict]], None], wall: Callable[[], float]) -> tuple[TrainerState, np.ndarray]:
        """Train from ``state`` until every seed has stopped; after each validation call
        ``save(state, history, trace)`` then ``show(new rows)``. ``trace`` is (S, updates so
        far) of the learner's trace metric (zero columns if it has none)."""

        def validate_and_save(state, chunk_metrics, active, trace):
            perf = self.validate(state, active)
            validated = self.stage(state)  # before record() moves seeds on
            state, improved, met, advanced = self.record(state, perf, active)
            rows = self.history_rows(state, perf, chunk_metrics, active, improved, met, wall(), validated, advanced)
            self.find_stalls(history + rows)
            status = self.status(state)
            for row in rows:  # a seed that stalled at this validation says so in its row
                i = self.plan.seeds.index(row["seed"])
                row.update(status=status[i], stall_reason=self.stalled.get(i, ""))
            state = self.restart_stalled(state, rows)
            history.extend(rows)
            save(state, history, trace)
            show(rows)
            return state

        self.find_stalls(history)  # a resumed run: the stalls its history shows, under this plan's rule
        if not history:  # validation at update 0, as pyrl (spec §4.7)
            state = validate_and_save(state, None, np.ones(len(self.plan.seeds), bool), trace)
        while (active := self.active(state)).any():
            if stop_requested():  # a SIGTERM whose KeyboardInterrupt was swallowed on its way
                raise KeyboardInterrupt
            learner_state, metrics, chunk_trace = self.chunk(state, active)
            if self.learner.trace_metric is not None:
                trace = np.concatenate([trace, np.asarray(chunk_trace, np.float32)], axis=1)
            state = validate_and_save(state._replace(learner=learner_state), metrics, active, trace)
        return state, trace

    def history_rows(self, state: TrainerState, perf, metrics, active, improved, met, wall_s: float,
                     validated: np.ndarray, advanced: np.ndarray) -> list[dict]:
        """One metrics.csv row per seed validated: updates, trials, the performance, its score and
        criterion gap (each seed by the criterion of the stage it was ``validated`` in), the
        chunk's mean metrics (absent at update 0), whether it is a new best / met the criterion
        now, its status and the wall seconds so far; in a curriculum, the stage validated (from 1)
        and whether the seed ended it there (``advanced``)."""
        rows = []
        updates = self.total_updates(state)
        status = self.status(state)
        score, gap = (self._stage_numbers(validated, perf, name) for name in ("score", "criterion_gap"))
        for i, seed in enumerate(self.plan.seeds):
            if not active[i]:
                continue
            row = {"seed": seed, "updates": int(updates[i]), "trials": int(updates[i]) * self.learner.trials_per_update,
                   "attempt": int(self.restarts[i])}
            row.update({k: float(v[i]) for k, v in perf.items() if k != "criterion_update"})
            row.update(score=float(score[i]), criterion_gap=float(gap[i]))
            if state.stage_end is not None:
                row.update(stage=int(validated[i]) + 1, stage_done=bool(advanced[i]))
            row.update({k: float(np.asarray(v)[i]) for k, v in (metrics or {}).items()})
            row.update(new_best=bool(improved[i]), criterion_met=bool(met[i]), status=status[i],
                       wall_s=round(wall_s, 3))
            rows.append(row)
        return rows

    def summary(self, state: TrainerState, wall_s: float, trace: np.ndarray) -> dict[str, Any]:
        """One summary format for every learner: per seed (status, trials and updates to
        criterion, best update and score), the median and IQR of trials to criterion over the
        seeds that reached it, wall seconds."""
        per_update = self.learner.trials_per_update
        status = self.status(state)
        updates = self.total_updates(state)
        seeds = []
        for i, seed in enumerate(self.plan.seeds):
            crit = int(state.criterion_update[i])
            row = {"seed": seed, "status": status[i], "reached_criterion": crit >= 0,
                   "updates_to_criterion": crit if crit >= 0 else None,
                   "trials_to_criterion": crit * per_update if crit >= 0 else None,
                   "updates": int(updates[i]), "best_update": int(state.best_update[i]),
                   "best_score": _finite_or_none(state.best_score[i])}
            if i in self.stalled:
                row["stall_reason"] = self.stalled[i]
            if self.plan.restarts:
                row["restarts"] = int(self.restarts[i])
            if state.stage_end is not None:
                row["stage"] = int(self.stage(state)[i]) + 1
                row["trials_per_stage"] = trials_per_stage(
                    np.append(state.stage_end[i], crit), int(updates[i]), int(self.offset[i]), per_update)
            if trace.shape[1]:
                row["final_trace_mean"] = float(np.nanmean(trace[i, max(0, int(updates[i]) - 100):int(updates[i])]))
            seeds.append(row)
        hit = sorted(s["trials_to_criterion"] for s in seeds if s["reached_criterion"])
        stats: dict[str, Any] = {}
        if hit:
            q1, q3 = np.percentile(hit, [25, 75])
            stats = {"median_trials_to_criterion": statistics.median(hit), "iqr": [float(q1), float(q3)]}
        total_trials = int(updates.sum()) * per_update
        return {"criterion": self.learner.describe_criterion(), "wall_s": round(wall_s, 3),
                "seeds_reached": len(hit), "seeds_stalled": len(self.stalled),
                "restarts": int(self.restarts.sum()), **stats, "seeds": seeds,
                "trials_per_s_all_seeds": round(total_trials / wall_s, 1) if wall_s > 0 else None}


def _with_seed_axis(fn: Callable) -> Callable:
    """``fn`` of one seed, applied to a batch of exactly one seed (leading axis of size 1)."""
    def one(*args):
        out = fn(*jax.tree_util.tree_map(lambda a: a[0], args))
        return jax.tree_util.tree_map(lambda a: jnp.asarray(a)[None], out)
    return one


def seed_devices(n_seeds: int) -> list:
    """Devices over which a batch of seeds is spread: as many devices of the default backend
    (e.g. the CLI's one host device per CPU core, or several GPUs) as divide the batch.
    Measured on 2 cores: 4 seeds train 1.5x faster on 2 devices than on 1."""
    devices = jax.devices()
    count = max(d for d in range(1, len(devices) + 1) if n_seeds % d == 0)
    return devices[:count]


def compact(active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the active seeds, and the batch to compute: those indices padded (with the
    first of them) to the next power of two, at most the number of seeds."""
    index = np.flatnonzero(active)
    if len(index) == 0:
        raise ValueError("no active seed")
    size = min(1 << (len(index) - 1).bit_length(), len(active))
    return index, np.concatenate([index, np.full(size - len(index), index[0])])


def _put_back(full, part, index: np.ndarray) -> np.ndarray:
    """``full`` (host copy) with rows ``index`` replaced by the first rows of ``part``."""
    out = np.array(full)
    out[index] = np.asarray(part)[:len(index)]
    return out


def _spread(devices: list, tree: Any) -> Any:
    """Shard the leading (seed) axis of every leaf over ``devices`` (or put it on the one)."""
    if len(devices) == 1:
        return jax.device_put(tree, devices[0])
    return jax.device_put(tree, NamedSharding(Mesh(np.asarray(devices), (DEVICE_AXIS,)), PartitionSpec(DEVICE_AXIS)))


def _finite_or_none(x) -> float | None:
    """A JSON-safe number: None where there is none yet (e.g. no trial scored)."""
    return float(x) if np.isfinite(x) else None
