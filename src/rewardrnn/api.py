"""The Python API: the same verbs as the CLI.

>>> import rewardrnn
>>> result = rewardrnn.train("rdm-fixed", seed=1, out="runs/rdm")      # doctest: +SKIP
>>> table = rewardrnn.evaluate("runs/rdm", trials_per_condition=200)   # doctest: +SKIP
>>> paths = rewardrnn.plot("runs/rdm")                                 # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import pandas as pd

from rewardrnn.analysis.behaviour import fit_psychometric, performance_by, psychometric_points
from rewardrnn.analysis.records import behaviour_table, table_performance
from rewardrnn.errors import ConfigError, RunFolderError
from rewardrnn.tasks.registry import get_task
from rewardrnn.training import checkpoint, run_folder
from rewardrnn.training.config import TrainConfig
from rewardrnn.training.loop import TrainResult, build_learner, initial_state
from rewardrnn.training.loop import train as _train

#: Key stream of evaluation runs (independent of training).
EVALUATION_SEED = 1


def train(task: str = "rdm-fixed", out: str | Path = "runs/run", *, resume: bool = False,
          overwrite: bool = False, progress: bool = True, **options: Any) -> TrainResult | dict:
    """Train ``task`` into the run folder ``out``. ``options`` are :class:`TrainConfig` fields
    (``seed``, ``n_seeds``, ``dt_ms``, ``N``, ``lr``, ``t0_return``, ``max_updates``...); for
    Miconi's tasks (``dnms``...) they are :class:`PerturbationTrainConfig` fields (``n_seeds``,
    ``n_trials``, ``nonlinearity``...) and the run's summary dict is returned."""
    from rewardrnn.tasks.miconi import CONTINUOUS_TASKS
    from rewardrnn.training.perturbation_run import PerturbationTrainConfig, train_perturbation

    miconi = task in CONTINUOUS_TASKS
    config_class = PerturbationTrainConfig if miconi else TrainConfig
    known = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown}; known: {', '.join(sorted(known - {'task'}))}")
    if miconi:  # Miconi's tasks train with his perturbation rule; returns the run's summary
        return train_perturbation(config_class(task=task, **options), out, resume=resume, overwrite=overwrite,
                                  progress=progress)
    return _train(TrainConfig(task=task, **options), out, resume=resume, overwrite=overwrite, progress=progress)


def _plot_errors(run: Path, config) -> list[Path]:
    import matplotlib.pyplot as plt
    import numpy as np

    from rewardrnn.figures.learning import error_curves
    from rewardrnn.tasks.miconi import get_continuous_task
    errors = run / run_folder.ERRORS
    if not errors.is_file():
        raise RunFolderError(f"{run} has no {run_folder.ERRORS}; train it first")
    figures = run / "figures"
    figures.mkdir(exist_ok=True)
    fig = error_curves(np.load(errors), get_continuous_task(config.task).error_threshold)
    written = []
    for ext in ("png", "svg"):
        written.append(figures / f"error_curve.{ext}")
        fig.savefig(written[-1], dpi=150)
    plt.close(fig)
    return written


def _actor_critic_run(config) -> TrainConfig:
    if not isinstance(config, TrainConfig):
        raise ConfigError("this run was trained with the perturbation rule; `evaluate` and records of "
                          "such runs are not available yet (`plot` draws its error curves)")
    return config


def load_run(run: str | Path, dt_ms: float | None = None):
    """(config, learner, trainer state) of a run folder; ``dt_ms`` rebuilds the learner at another
    time step (alpha, noise scale and trial length follow, as pyrl's ``--dt``, spec §4.7)."""
    run = Path(run)
    config = _actor_critic_run(run_folder.read_config(run))
    learner = build_learner(config.resolved())
    state, _ = checkpoint.load(run / run_folder.CHECKPOINT, initial_state(config.resolved(), learner))
    if dt_ms is not None:
        config = dataclasses.replace(config, dt_ms=dt_ms)  # validates dt against the task
        learner = build_learner(config.resolved())
    return config, learner, jax.tree_util.tree_map(jnp.asarray, state)


def _seed_index(config: TrainConfig, seed: int | None) -> int:
    if seed is None:
        return 0
    if seed not in config.seeds:
        raise ConfigError(f"seed {seed} was not trained in this run; its seeds are {config.seeds}")
    return config.seeds.index(seed)


def evaluate(run: str | Path, trials_per_condition: int = 200, seed: int | None = None,
             dt_ms: float | None = None) -> pd.DataFrame:
    """Run the best parameters of ``seed`` (default: the run's first) over every condition and
    write ``RUN/evaluation/trials_seed{S}.csv`` (one row per trial) and ``summary_seed{S}.json``.
    Returns the behaviour table."""
    if not (isinstance(trials_per_condition, int) and trials_per_condition >= 1):
        raise ConfigError(f"trials per condition must be an integer >= 1, got {trials_per_condition!r}")
    config, learner, state = load_run(run, dt_ms)
    i = _seed_index(config, seed)
    policy = jax.tree_util.tree_map(lambda a: a[i], state.best_policy)
    masks = jax.tree_util.tree_map(lambda a: a[i], state.learner.policy_masks)
    table = behaviour_table(learner, policy, masks, jax.random.PRNGKey(EVALUATION_SEED), trials_per_condition)
    out = Path(run) / "evaluation"
    out.mkdir(exist_ok=True)
    s = config.seeds[i]
    table.to_csv(out / f"trials_seed{s}.csv", index=False)
    summary = {"seed": s, "dt_ms": learner.env.dt_ms, "trials": len(table),
               **table_performance(learner.env.protocol, table), "best_update": int(state.best_update[i])}
    run_folder.write_json(out / f"summary_seed{s}.json", summary)
    return table


def evaluation_report(table: pd.DataFrame, task_name: str) -> pd.DataFrame:
    """P(decision) and P(correct | decision) per value of the task's last condition variable
    (coherence for the random-dots task)."""
    variable = list(get_task(task_name).conditions)[-1]
    return performance_by(table, variable)


def plot(run: str | Path, seed: int | None = None) -> list[Path]:
    """Write the learning curve (all seeds) and the psychometric curve of ``seed`` as PNG and
    SVG under ``RUN/figures/``; evaluates first if needed. Returns the written paths."""
    import matplotlib.pyplot as plt

    from rewardrnn.figures.learning import learning_curve
    from rewardrnn.figures.psychometric import psychometric_curve

    run = Path(run)
    config = run_folder.read_config(run)
    if not isinstance(config, TrainConfig):  # Miconi's rule: error curves across seeds
        return _plot_errors(run, config)
    task = config.protocol()
    metrics_path = run / run_folder.METRICS
    if not metrics_path.is_file():
        raise RunFolderError(f"{run} has no {run_folder.METRICS}; train it first")
    figures = run / "figures"
    figures.mkdir(exist_ok=True)
    written: list[Path] = []

    def save(fig, name):
        for ext in ("png", "svg"):
            path = figures / f"{name}.{ext}"
            fig.savefig(path, dpi=150)
            written.append(path)
        plt.close(fig)

    save(learning_curve(pd.read_csv(metrics_path), task.criterion.min_p_correct), "learning_curve")
    if task.psychometric is not None:
        s = config.seeds[_seed_index(config, seed)]
        trials_path = run / "evaluation" / f"trials_seed{s}.csv"
        table = pd.read_csv(trials_path) if trials_path.is_file() else evaluate(run, seed=s)
        table["choice"] = table["choice"].fillna("")
        spec = task.psychometric
        points = psychometric_points(table, spec.signed_stimulus, spec.positive_action, spec.among)
        fit = fit_psychometric(points["stimulus"], points["n_positive"], points["n_decision"])
        run_folder.write_json(figures / f"psychometric_seed{s}.json",
                              {"mu": fit.mu, "sigma": fit.sigma, "mu_se": fit.mu_se,
                               "sigma_se": fit.sigma_se, "n_trials": fit.n_trials,
                               "points": json.loads(points.to_json(orient="records"))})
        save(psychometric_curve(points, fit, spec.label, f"P({spec.positive_action}) (%)"),
             f"psychometric_seed{s}")
    return written
