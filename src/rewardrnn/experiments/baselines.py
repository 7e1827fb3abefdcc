"""``rewardrnn experiment baselines``: what a learned reward baseline buys Miconi's rule (the
unified model asked for by "Neural networks subtract and conquer", eLife 2017), or, with
``learner="actor-critic"``, Song et al.'s actor-critic (their prediction that value representation
is "essential for learning, but not executing"): cells ``gru`` and ``linear`` (the value network,
Song's), ``running``, ``constant`` and ``none`` (:mod:`rewardrnn.learners.actor_critic`) on each
of Song's tasks, each capped at ``max_updates``; with ``lesion_value_at`` a cell
``gru-lesion@U`` trains with the value network removed from update U on (``lesion.csv``: each
seed's performance at the last validation before the lesion and at the end).

Cells: Miconi's perturbation rule with each reward baseline (``trial-type``, Miconi's; ``running``;
``value``, Song et al.'s value network; ``none``) on each task given, a Miconi task or one of
Song et al.'s (there the rate network acts: :mod:`rewardrnn.learners.perturbation_native`), and
Song et al.'s actor-critic as the reference, on the native version of a Miconi paradigm (DNMS ->
``dnms-choice``) or on the Song task itself. Every cell is a normal run folder ``OUT/<task>/<learner or baseline>/`` (every verb
works on it) training all its seeds together, each seed stopping at its criterion or at the trial
budget (no stall detection: the fraction of seeds at criterion is within the budget). Then ``OUT/results.csv`` (one row per cell: fraction of seeds at criterion, median and
IQR of trials to criterion), ``OUT/seeds.csv`` (one row per cell and seed), learning curves and
trials-to-criterion figures, ``OUT/report.html`` and ``OUT/summary.json``.

Learning curves (median and IQR across seeds, against training trials): "fraction correct" is,
for Miconi's rule on his tasks, the fraction of the last 100 training trials with error below the
task's threshold (its criterion's own measure), and on a native task (either learner)
P(decision) x P(correct | decision) on the validation trials (Song's criterion's measures). A seed that stopped at its
criterion keeps its last value.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import pandas as pd

from rewardrnn.errors import ConfigError
from rewardrnn.experiments import cells
from rewardrnn.experiments.cells import summarise
from rewardrnn.safe_files import save_figure
from rewardrnn.learners.perturbation import REWARD_BASELINES
from rewardrnn.training.config import BASELINES as ACTOR_CRITIC_BASELINES
from rewardrnn.tasks.miconi import CONTINUOUS_TASKS
from rewardrnn.tasks.registry import TASKS
from rewardrnn.training import run_folder

#: The native task on which the actor-critic reference trains each Miconi paradigm.
NATIVE_VERSION = {"dnms": "dnms-choice"}
#: Captions of the page's figures.
CURVES_CAPTION = ("Fraction correct against training trials: median (line) and IQR (band) across seeds; Miconi's "
                  "rule: the last 100 training trials, the actor-critic: its validation trials.")
TTC_CAPTION = "Trials to criterion, one dot per seed; red dots did not reach it within the budget."
#: Trials between two points of a Miconi cell's learning curve (its checkpoint period), and of a
#: native task's (each point is a validation of the task's ``n_validation`` trials).
CURVE_TRIALS, NATIVE_CURVE_TRIALS = 100, 500


@dataclasses.dataclass(frozen=True)
class BaselinesExperiment:
    """What to run: tasks (Miconi's or Song's), baselines, seeds ``first_seed .. first_seed + seeds - 1``,
    the trial budget per seed, and whether to add the actor-critic reference."""

    tasks: tuple[str, ...] = ("dnms",)
    baselines: tuple[str, ...] = REWARD_BASELINES
    seeds: int = 20
    first_seed: int = 1
    trials: int = 5000
    reference: bool = True
    value_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    learner: str = "perturbation"
    max_updates: int | None = None
    lesion_value_at: int | None = None

    def __post_init__(self) -> None:
        if self.learner not in LEARNERS:
            raise ConfigError(f"--learner must be one of {', '.join(LEARNERS)}; got {self.learner!r}")
        actor_critic = self.learner in GATED_LEARNERS
        if not actor_critic and (self.max_updates is not None or self.lesion_value_at is not None):
            raise ConfigError("--max-updates and --lesion-value-at apply to --learner actor-critic and local; "
                              "Miconi's rule is capped by --trials")
        tasks_words = (f"one of Song's tasks ({', '.join(TASKS)}): the actor-critic trains those" if actor_critic else
                       f"a task; choose among {', '.join(CONTINUOUS_TASKS)} (Miconi's) or {', '.join(TASKS)} (Song's)")
        baselines = ACTOR_CRITIC_BASELINES if actor_critic else REWARD_BASELINES
        for task in self.tasks:
            if task not in TASKS and (actor_critic or task not in CONTINUOUS_TASKS):
                raise ConfigError(f"--tasks: {task!r} is not {tasks_words}")
        for baseline in self.baselines:
            if baseline not in baselines:
                raise ConfigError(f"--baselines: {baseline!r} is not a baseline of {self.learner}; choose among "
                                  f"{', '.join(baselines)}")
        if not self.tasks or not self.baselines:
            raise ConfigError("give at least one task and one baseline")
        if not (isinstance(self.seeds, int) and self.seeds >= 1):
            raise ConfigError(f"--seeds must be an integer >= 1, got {self.seeds!r}")
        if not actor_critic and not (isinstance(self.trials, int) and self.trials >= CURVE_TRIALS):
            raise ConfigError(f"--trials must be an integer >= {CURVE_TRIALS}, got {self.trials!r}")
        if self.value_options and (actor_critic or "value" not in self.baselines):
            raise ConfigError("--value-input and --value-readout set Miconi's value baseline; add value to --baselines"
                              + (" (not an actor-critic option)" if actor_critic else ""))
        for _, name, config in self.cells():  # every cell's options checked before any work
            config.resolved()

    def lesion_trials(self, task: str) -> int | None:
        """The training trial at which the lesion cell of ``task`` loses its value network."""
        if self.lesion_value_at is None:
            return None
        config = next(c for t, _, c in self.cells() if t == task and c.lesion_value_at is not None)
        return self.lesion_value_at * config.resolved().n_gradient

    def budget(self, config) -> int:
        """A cell's trial budget per seed: Miconi's rule's ``trials``; the actor-critic's updates
        (rounded up to the validation period, as the trainer does) times its trials per update."""
        if self.learner not in GATED_LEARNERS:
            return self.trials
        resolved = config.resolved()
        updates = -(-resolved.max_updates // resolved.checkfreq) * resolved.checkfreq
        return updates * resolved.n_gradient

    def cells(self) -> list[tuple[str, str, Any]]:
        """(task folder, cell name, run config) of every cell, in order."""
        from rewardrnn.training.config import LocalTrainConfig, TrainConfig
        from rewardrnn.training.perturbation_config import PerturbationTrainConfig

        if self.learner in GATED_LEARNERS:
            config_class = LocalTrainConfig if self.learner == "local" else TrainConfig
            found = []
            cap = {} if self.max_updates is None else {"max_updates": self.max_updates}
            for task in self.tasks:
                for baseline in self.baselines:
                    found.append((task, baseline, config_class(task=task, seed=self.first_seed, n_seeds=self.seeds,
                                                               patience=0, baseline=baseline, **cap)))
                if self.lesion_value_at is not None:
                    found.append((task, f"gru-lesion@{self.lesion_value_at}", config_class(
                        task=task, seed=self.first_seed, n_seeds=self.seeds, patience=0, baseline="gru",
                        lesion_value_at=self.lesion_value_at, **cap)))
            return found
        found = []
        for task in self.tasks:
            for baseline in self.baselines:
                extra = self.value_options if baseline == "value" else {}
                found.append((task, baseline, PerturbationTrainConfig(
                    task=task, seed=self.first_seed, n_seeds=self.seeds, n_trials=self.trials,
                    chunk_trials=NATIVE_CURVE_TRIALS if task in TASKS else CURVE_TRIALS,
                    reward_baseline=baseline, patience=0, **extra)))
            native = task if task in TASKS else NATIVE_VERSION.get(task)
            if self.reference and native is not None:
                n_gradient = TrainConfig(task=native).resolved().n_gradient
                found.append((task, "actor-critic", TrainConfig(
                    task=native, seed=self.first_seed, n_seeds=self.seeds, patience=0,
                    max_updates=max(1, -(-self.trials // n_gradient)))))
        return found


def run(experiment: BaselinesExperiment, out: Path | str, *, overwrite: bool = False,
        progress: bool = True) -> pd.DataFrame:
    """Train every cell into ``out`` (:func:`rewardrnn.experiments.cells.train_cells`: a finished
    cell is kept, an interrupted one resumed, one with other options refused unless
    ``overwrite``), then write the tables, figures and page. Returns the results table."""
    out = Path(out)
    cells.train_cells(out, experiment.cells(), EXPERIMENT, overwrite=overwrite, progress=progress)
    return write_results(experiment, out)


#: The learners whose baselines the experiment compares.
LEARNERS = ("perturbation", "actor-critic", "local")
#: The learners of Song's gated network, whose baselines are the actor-critic's.
GATED_LEARNERS = ("actor-critic", "local")
#: The experiment's name in its folder's marker.
EXPERIMENT = "baselines"


# ---- results -----------------------------------------------------------------------------------
def write_results(experiment: BaselinesExperiment, out: Path) -> pd.DataFrame:
    """results.csv, seeds.csv, summary.json, the figures and report.html from the cells in ``out``."""
    seeds = cells.seed_rows(out, experiment.cells())
    results = summarise(seeds)
    cells.write_csv(out / "seeds.csv", seeds, None)
    cells.write_csv(out / "results.csv", results)
    run_folder.write_json(out / "summary.json", {"experiment": EXPERIMENT,
                                                 **cells.jsonable(dataclasses.asdict(experiment)),
                                                 "results": json.loads(results.to_json(orient="records"))})
    if experiment.lesion_value_at is not None:
        cells.write_csv(out / "lesion.csv", lesion_rows(experiment, out))
    figures = {}
    curves_caption = CURVES_CAPTION if experiment.learner not in GATED_LEARNERS else (
        "Fraction correct, P(decision) x P(correct | decision) on the validation trials, against training trials: "
        "median (line) and IQR (band) across seeds; a seed that stopped at its criterion keeps its last value.")
    for task in experiment.tasks:
        mine = [(name, config) for t, name, config in experiment.cells() if t == task]
        budget = max(experiment.budget(config) for _, config in mine)
        curves = {name: cells.learning_curves(out / task / name, budget) for name, _ in mine}
        figures[f"{task}_learning_curves"] = (cells.curve_figure(task, curves, budget, experiment.lesion_trials(task)),
                                              curves_caption)
        figures[f"{task}_trials_to_criterion"] = (cells.ttc_figure(task, seeds[seeds["task"] == task], budget),
                                                  TTC_CAPTION)
    for name, (fig, _) in figures.items():
        save_figure(fig, out, name, dpi=110)
    _write_page(experiment, results, figures, out)
    return results


def lesion_rows(experiment: BaselinesExperiment, out: Path) -> pd.DataFrame:
    """One row per seed of each lesion cell: fraction correct (P(decision) x P(correct |
    decision), validation trials) at the last validation before the lesion and at the last one,
    whether the seed had reached its criterion before the lesion, and at the end."""
    rows = []
    for task, name, config in experiment.cells():
        if config.lesion_value_at is None:
            continue
        metrics = pd.read_csv(out / task / name / run_folder.METRICS)
        metrics["fraction_correct"] = metrics["p_decision"] * metrics["p_correct"]
        for seed, group in metrics.groupby("seed"):
            before = group[group["updates"] <= config.lesion_value_at]
            rows.append({"task": task, "cell": name, "seed": int(seed), "lesion_at_update": config.lesion_value_at,
                         "fraction_correct_before": float(before["fraction_correct"].iloc[-1]),
                         "fraction_correct_end": float(group["fraction_correct"].iloc[-1]),
                         "criterion_before": bool(before["criterion_met"].any()),
                         "criterion_end": bool(group["criterion_met"].any()),
                         "updates_end": int(group["updates"].iloc[-1])})
    return pd.DataFrame(rows)


def _write_page(experiment: BaselinesExperiment, results: pd.DataFrame, figures: dict, out: Path) -> None:
    from rewardrnn.figures.html import html_table

    table = html_table(cells.results_rows(results), cells.RESULTS_HEADER)
    if experiment.learner in GATED_LEARNERS:
        who = "Song et al.'s actor-critic" if experiment.learner == "actor-critic" else \
            "the local rule (e-prop eligibility, random feedback)"
        budget = "the default 100,000 updates" if experiment.max_updates is None else \
            f"{experiment.max_updates:,} updates (rounded up to the validation period)"
    else:
        who, budget = "Miconi's rule", f"{experiment.trials:,} trials"
    cells.page("reward baselines", f"Reward baselines for {who}",
               f"<p>{experiment.seeds} seeds per cell, at most {budget} per seed. Median and IQR over the seeds that "
               f"reached the criterion.</p>{table}", figures, out)
