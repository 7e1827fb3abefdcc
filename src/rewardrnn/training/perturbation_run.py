"""Training with Miconi's perturbation rule (spec miconi2017.md): config, run folder, seeds in
parallel, per-trial errors and trials to criterion.

All seeds run together (``vmap``) in compiled chunks of ``chunk_trials`` trials; trials within a
network are sequential (its weights and baselines change after every trial). After each chunk the
per-trial errors are appended to ``RUN/errors.npy`` (seeds x trials), a row per seed goes to
``RUN/metrics.csv`` and the checkpoint is rewritten atomically, so an interrupted run resumes. The
run stops when every seed has met the criterion (> 95 of the last 100 trials with error < 1), or
after ``n_trials`` (default: the length of the paper's figure for the task).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rewardrnn.errors import ConfigError
from rewardrnn.learners.perturbation import (PerturbationConfig, PerturbationLearner, PerturbationState,
                                             trials_to_criterion)
from rewardrnn.networks import rate
from rewardrnn.tasks.miconi import get_continuous_task
from rewardrnn.training import checkpoint
from rewardrnn.training.checkpoint import atomic_write_bytes
from rewardrnn.training.config import config_from_dict



@dataclass(frozen=True)
class PerturbationTrainConfig:
    """One run of the perturbation rule. ``None`` = the task's (or the update form's) value."""

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

    def __post_init__(self) -> None:
        get_continuous_task(self.task)
        if self.learner != "perturbation":
            raise ConfigError(f"learner must be 'perturbation' here, got {self.learner!r}")
        for name, minimum in (("seed", 0), ("n_seeds", 1), ("chunk_trials", 1), ("n_units", 12)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
        if self.n_trials is not None and (not isinstance(self.n_trials, int) or self.n_trials < 1):
            raise ConfigError(f"n_trials must be an integer >= 1, got {self.n_trials!r}")
        self.rule()  # checks nonlinearity, update, method, eta...

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.n_seeds))

    def rule(self) -> PerturbationConfig:
        return PerturbationConfig(nonlinearity=self.nonlinearity, update=self.update, method=self.method,
                                  trial_order=self.trial_order, eta=self.eta, max_dw=self.max_dw,
                                  kick_amplitude=self.kick_amplitude)

    def resolved(self) -> PerturbationTrainConfig:
        task = get_continuous_task(self.task)
        rule = self.rule().resolved(task)
        return dataclasses.replace(self, n_trials=self.n_trials or task.paper_trials, eta=rule.eta,
                                   max_dw=rule.max_dw, kick_amplitude=rule.kick_amplitude)

    def build(self) -> PerturbationLearner:
        task = get_continuous_task(self.task)
        network = rate.RateConfig(n_inputs=task.n_inputs, n_units=self.n_units, kind=task.network)
        return PerturbationLearner(task, self.rule(), network)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PerturbationTrainConfig:
        return config_from_dict(cls, data)


#: Keys that may differ between a saved run and a resumed one.
RESUMABLE_CHANGES = ("n_trials", "stop_at_criterion")


def initial_states(cfg: PerturbationTrainConfig, learner: PerturbationLearner) -> PerturbationState:
    """Fresh learning states of every seed of ``cfg``, stacked (seed s -> PRNGKey(s)); also the
    template a checkpoint is read into."""
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *[learner.init(jax.random.PRNGKey(s)) for s in cfg.seeds])


def train_perturbation(config: PerturbationTrainConfig, out: Path | str, *, resume: bool = False,
                       overwrite: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train every seed of ``config`` into the run folder ``out``; returns the summary (also
    written to ``RUN/summary.json``)."""
    from rewardrnn.training import run_folder

    out = Path(out)
    config = run_folder.prepare(out, config, resume, overwrite)
    cfg = config.resolved()
    learner = cfg.build()
    task = learner.task
    template = initial_states(cfg, learner)
    ckpt = out / run_folder.CHECKPOINT
    if resume and ckpt.exists():
        states, meta = checkpoint.load(ckpt, template)
        states = jax.tree_util.tree_map(jnp.asarray, states)
        errors, history, wall_before = np.load(out / run_folder.ERRORS), meta["history"], meta["wall_s"]
    else:
        states, errors, history, wall_before = template, np.zeros((cfg.n_seeds, 0), np.float32), [], 0.0
    chunk = jax.jit(jax.vmap(lambda s: learner.train(s, cfg.chunk_trials)))
    started = time.perf_counter()
    wall = lambda: wall_before + time.perf_counter() - started  # noqa: E731
    if progress:
        print(f"training {cfg.task} with the perturbation rule (S = {cfg.nonlinearity}, {cfg.update} update, "
              f"{cfg.method}) · {cfg.n_seeds} seed(s) · up to {cfg.n_trials} trials", flush=True)
    while errors.shape[1] < cfg.n_trials:
        if cfg.stop_at_criterion and errors.shape[1] and (trials_to_criterion(errors, task.error_threshold) > 0).all():
            break
        states, chunk_errors = chunk(states)
        errors = np.concatenate([errors, np.asarray(chunk_errors)], axis=1)
        reached = trials_to_criterion(errors, task.error_threshold)
        n = errors.shape[1]
        for i, seed in enumerate(cfg.seeds):
            history.append({"seed": seed, "trials": n, "mean_error": float(errors[i, -cfg.chunk_trials:].mean()),
                            "good_of_last_100": int((errors[i, -100:] < task.error_threshold).sum()),
                            "trials_to_criterion": int(reached[i]), "wall_s": round(wall(), 3)})
        atomic_write_bytes(out / run_folder.ERRORS, lambda f: np.save(f, errors))
        checkpoint.save(ckpt, states, {"history": history, "wall_s": wall(), "config": cfg.to_dict()})
        run_folder.write_csv(out / run_folder.METRICS, history)
        if progress:
            done = int((reached > 0).sum())
            print(f"trials {n:>6}  median error {np.median(errors[:, -cfg.chunk_trials:].mean(1)):.3f}  "
                  f"criterion met {done}/{cfg.n_seeds}  {wall():7.1f} s", flush=True)
    summary = perturbation_summary(cfg, errors, wall())
    run_folder.write_json(out / run_folder.SUMMARY, summary)
    return summary


def perturbation_summary(cfg: PerturbationTrainConfig, errors: np.ndarray, wall_s: float) -> dict[str, Any]:
    """Trials to criterion per seed with the median and interquartile range across seeds."""
    task = get_continuous_task(cfg.task)
    reached = trials_to_criterion(errors, task.error_threshold)
    seeds = [{"seed": s, "reached_criterion": bool(r > 0), "trials_to_criterion": int(r) if r > 0 else None,
              "final_error": float(errors[i, -100:].mean())} for i, (s, r) in enumerate(zip(cfg.seeds, reached))]
    hit = sorted(int(r) for r in reached if r > 0)
    stats = {}
    if hit:
        q1, q3 = np.percentile(hit, [25, 75])
        stats = {"median_trials_to_criterion": statistics.median(hit), "iqr": [float(q1), float(q3)]}
    return {"task": cfg.task, "learner": "perturbation", "criterion": task.describe_criterion(),
            "trials": int(errors.shape[1]), "wall_s": round(wall_s, 3), "seeds_reached": len(hit),
            **stats, "seeds": seeds, "resolved_config": cfg.to_dict(),
            "trials_per_s_all_seeds": round(errors.size / wall_s, 1) if wall_s > 0 and not math.isnan(wall_s) else None}
