"""Train a config into a run folder: every learner, every task source, one path.

``train`` checks the folder and takes its lock before any work, builds the learner once from the
resolved config, runs :class:`~rewardrnn.training.trainer.Trainer` with checkpoints after every
validation, and writes the summary. Ctrl-C (or SIGTERM through the CLI) keeps the last checkpoint
and re-raises KeyboardInterrupt; ``resume=True`` continues it bit-identically.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rewardrnn.errors import ConfigError
from rewardrnn.training import checkpoint, curriculum, run_folder
from rewardrnn.training.kinds import kind_of
from rewardrnn.training.progress import Progress
from rewardrnn.training.trainer import Trainer, TrainerState


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns: the run folder, the resolved config, the final state (every
    leaf with a leading seed axis) and the summary (also in ``RUN/summary.json``)."""

    out: Path
    config: Any
    state: TrainerState
    summary: dict[str, Any]


def train(config, out: Path | str, *, resume: bool = False, overwrite: bool = False, progress: bool = True,
          on_validation: Callable[[TrainerState, list[dict]], None] | None = None) -> TrainResult:
    """Train ``config`` (any kind's config) into the run folder ``out``.

    ``on_validation(state, history)`` is called after each validation and checkpoint (tests use
    it to interrupt a run)."""
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other: continue the saved run or replace it")
    created = not Path(out).exists()
    out = run_folder.check_writable_folder(Path(out), "--out")
    try:
        return _train(config, out, resume, progress, overwrite, on_validation)
    except BaseException:
        if created:  # a refusal before anything was written leaves no empty folder behind
            run_folder.remove_if_unused(out)
        raise


def _train(config, out: Path, resume: bool, progress: bool, overwrite: bool, on_validation) -> TrainResult:
    kind = kind_of(config)
    with run_folder.locked(out):
        built = {}

        def build() -> None:  # before the folder is touched: a task that cannot be built leaves it as it was
            built["resolved"] = config.resolved()
            built["learner"] = built["resolved"].build_learner()
            built["stages"] = curriculum.stage_plans(built["resolved"], built["learner"])

        config, identity, load = run_folder.prepare(out, config, resume, overwrite, before_write=build)
        resolved, learner = built["resolved"], built["learner"]
        trainer = Trainer(learner, resolved.plan(), built["stages"])
        ckpt = out / run_folder.CHECKPOINT
        template = trainer.initial_state()
        n_seeds = len(trainer.plan.seeds)
        if load:
            state, meta = checkpoint.load(ckpt, template)
            if meta.get("run_id") != identity["run_id"]:
                raise run_folder.CheckpointError(f"{ckpt} belongs to another run (run id {meta.get('run_id')}, this "
                                                 f"folder's {identity['run_id']}); choose another --out")
            trace = checkpoint.read_extras(ckpt).get("trace", np.zeros((n_seeds, 0), np.float32))
            state = state._replace(learner=jax.tree_util.tree_map(jnp.asarray, state.learner))
            history, wall_before = meta.get("history"), meta.get("wall_s")
            if not isinstance(history, list) or not isinstance(wall_before, (int, float)):
                raise run_folder.CheckpointError(f"{ckpt} has no training history in its header; it was not written "
                                                 f"by rewardrnn's trainer: choose another --out or --overwrite")
            run_folder.write_config(out, config, identity)  # a longer budget, once the checkpoint is read
        else:
            state, trace, history, wall_before = template, np.zeros((n_seeds, 0), np.float32), [], 0.0

        started = time.perf_counter()
        wall = lambda: wall_before + time.perf_counter() - started  # noqa: E731
        bar = Progress(f"training {learner.describe()} · {n_seeds} seed(s) · checkpoint every "
                       f"{trainer.plan.checkfreq} updates", enabled=progress, budget_updates=trainer.plan.max_updates,
                       trials_per_update=learner.trials_per_update)
        if bar.wants_ticks():
            trainer.on_updates(bar.tick)

        def save(state: TrainerState, history: list[dict], trace: np.ndarray) -> None:
            meta = {"history": history, "wall_s": wall(), "run_id": identity["run_id"], "config": resolved.to_dict()}
            checkpoint.save(ckpt, state, meta, extras={"trace": trace})
            run_folder.write_csv(out / run_folder.METRICS, history)
            if learner.trace_metric is not None:  # a copy for numpy users; the checkpoint holds the truth
                run_folder.atomic_write_bytes(out / f"{learner.trace_metric}s.npy", lambda f: np.save(f, trace))
            if on_validation is not None:
                on_validation(state, history)

        with bar:
            state, trace = trainer.run(state, history, trace, save=save, show=bar.update, wall=wall)
        summary = {"task": config.task, "learner": kind.learner, "kind": kind.name, "run_id": identity["run_id"],
                   **({"task_options": config.task_options} if hasattr(config, "task_options") else {}),
                   **trainer.summary(state, wall(), trace), "resolved_config": resolved.to_dict()}
        run_folder.write_json(out / run_folder.SUMMARY, summary)
    return TrainResult(out=out, config=resolved, state=state, summary=summary)
