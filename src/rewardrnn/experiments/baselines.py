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
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rewardrnn import safe_files
from rewardrnn.errors import ConfigError, RunFolderError
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
        actor_critic = self.learner == "actor-critic"
        if not actor_critic and (self.max_updates is not None or self.lesion_value_at is not None):
            raise ConfigError("--max-updates and --lesion-value-at apply to --learner actor-critic; "
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
        if self.learner != "actor-critic":
            return self.trials
        resolved = config.resolved()
        updates = -(-resolved.max_updates // resolved.checkfreq) * resolved.checkfreq
        return updates * resolved.n_gradient

    def cells(self) -> list[tuple[str, str, Any]]:
        """(task folder, cell name, run config) of every cell, in order."""
        from rewardrnn.training.config import TrainConfig
        from rewardrnn.training.perturbation_config import PerturbationTrainConfig

        if self.learner == "actor-critic":
            cells = []
            cap = {} if self.max_updates is None else {"max_updates": self.max_updates}
            for task in self.tasks:
                for baseline in self.baselines:
                    cells.append((task, baseline, TrainConfig(task=task, seed=self.first_seed, n_seeds=self.seeds,
                                                              patience=0, baseline=baseline, **cap)))
                if self.lesion_value_at is not None:
                    cells.append((task, f"gru-lesion@{self.lesion_value_at}", TrainConfig(
                        task=task, seed=self.first_seed, n_seeds=self.seeds, patience=0, baseline="gru",
                        lesion_value_at=self.lesion_value_at, **cap)))
            return cells
        cells = []
        for task in self.tasks:
            for baseline in self.baselines:
                extra = self.value_options if baseline == "value" else {}
                cells.append((task, baseline, PerturbationTrainConfig(
                    task=task, seed=self.first_seed, n_seeds=self.seeds, n_trials=self.trials,
                    chunk_trials=NATIVE_CURVE_TRIALS if task in TASKS else CURVE_TRIALS,
                    reward_baseline=baseline, patience=0, **extra)))
            native = task if task in TASKS else NATIVE_VERSION.get(task)
            if self.reference and native is not None:
                n_gradient = TrainConfig(task=native).resolved().n_gradient
                cells.append((task, "actor-critic", TrainConfig(
                    task=native, seed=self.first_seed, n_seeds=self.seeds, patience=0,
                    max_updates=max(1, -(-self.trials // n_gradient)))))
        return cells


def run(experiment: BaselinesExperiment, out: Path | str, *, overwrite: bool = False,
        progress: bool = True) -> pd.DataFrame:
    """Train every cell into ``out`` (a cell already finished there with the same configuration is
    kept and an interrupted one resumed, so an interrupted experiment continues; a cell trained
    with other options is refused unless ``overwrite``), then write the tables, figures and page.
    Returns the results table."""
    from rewardrnn.training.run import train

    out = Path(out)
    cells = experiment.cells()
    _check_experiment_folder(out)
    if not overwrite:  # never replace a cell trained with other options: refuse before any work
        for task, name, config in cells:
            folder = out / task / name
            if (folder / run_folder.CONFIG).is_file() and not _same_config(folder, config):
                raise ConfigError(f"{folder} holds a run with other options; choose another --out or give --overwrite")
    run_folder.check_writable_folder(out, "--out")
    run_folder.write_json(out / MARKER, {"experiment": "baselines"})
    for task, name, config in cells:
        folder = safe_files.folder_inside(out, task, name)
        if _finished(folder, config) and not overwrite:
            continue
        resume = (folder / run_folder.CHECKPOINT).is_file() and not overwrite
        train(config, folder, resume=resume, overwrite=overwrite, progress=progress)
    return write_results(experiment, out)


#: The learners whose baselines the experiment compares.
LEARNERS = ("perturbation", "actor-critic")
#: What marks a folder as a baselines experiment's (written before its first cell).
MARKER = "experiment.json"


def _check_experiment_folder(out: Path) -> None:
    """``out`` may be missing, empty or a baselines experiment's folder (marked by :data:`MARKER`,
    or by an earlier version's ``summary.json``); anything else is refused, before any work."""
    if not out.exists():
        return
    if not out.is_dir():
        raise RunFolderError(f"--out {out} exists and is not a folder")
    if not any(out.iterdir()):
        return
    for name in (MARKER, "summary.json"):
        try:
            if json.loads((out / name).read_text()).get("experiment") == "baselines":
                return
        except (OSError, ValueError, AttributeError, RecursionError):
            continue
    what = "a run" if (out / run_folder.CONFIG).exists() else "a sweep" if (out / "sweep.json").exists() else \
        "files that are not a baselines experiment"
    raise RunFolderError(f"--out {out} holds {what}; an experiment writes a folder of its own: choose another --out")


def _same_config(folder: Path, config) -> bool:
    try:
        saved = json.loads((folder / run_folder.CONFIG).read_text())
    except (OSError, ValueError):
        return False
    mine = config.to_dict()
    return all(saved.get(k) == v for k, v in mine.items() if not k.startswith("_"))


def _finished(folder: Path, config) -> bool:
    return (folder / run_folder.SUMMARY).is_file() and _same_config(folder, config)


# ---- results -----------------------------------------------------------------------------------
def seed_rows(experiment: BaselinesExperiment, out: Path) -> pd.DataFrame:
    """One row per cell and seed: reached, trials to criterion, status."""
    rows = []
    for task, name, config in experiment.cells():
        summary = json.loads((out / task / name / run_folder.SUMMARY).read_text())
        for seed in summary["seeds"]:
            rows.append({"task": task, "cell": name, "learner": summary["learner"], "trained_on": config.task,
                         "seed": seed["seed"], "reached": bool(seed["reached_criterion"]),
                         "trials_to_criterion": seed["trials_to_criterion"], "status": seed.get("status", ""),
                         "wall_s": summary["wall_s"]})
    return pd.DataFrame(rows)


def summarise(seeds: pd.DataFrame) -> pd.DataFrame:
    """Per cell: seeds, seeds at criterion and their fraction, median and IQR of trials to
    criterion over the seeds that reached it, and the cell's wall time."""
    rows = []
    for (task, cell), group in seeds.groupby(["task", "cell"], sort=False):
        reached = group.loc[group["reached"], "trials_to_criterion"].to_numpy(float)
        q1, median, q3 = np.percentile(reached, [25, 50, 75]) if len(reached) else (np.nan,) * 3
        rows.append({"task": task, "cell": cell, "learner": group["learner"].iloc[0],
                     "trained_on": group["trained_on"].iloc[0], "seeds": len(group),
                     "reached": len(reached), "fraction_reached": len(reached) / len(group),
                     "median_trials": median, "q25_trials": q1, "q75_trials": q3,
                     "wall_s": float(group["wall_s"].iloc[0])})
    return pd.DataFrame(rows)


def learning_curves(folder: Path, budget: int) -> pd.DataFrame:
    """Fraction correct (module docstring) against training trials up to ``budget``, one column
    per seed; a seed that stopped keeps its last value."""
    metrics = pd.read_csv(folder / run_folder.METRICS)
    if "good_of_last_100" in metrics:  # Miconi's rule on his task: its measure needs trials, none at 0
        metrics = metrics[metrics["trials"] > 0].copy()
        metrics["fraction_correct"] = metrics["good_of_last_100"] / 100.0
    else:
        metrics["fraction_correct"] = metrics["p_decision"] * metrics["p_correct"]
    table = metrics.pivot_table(index="trials", columns="seed", values="fraction_correct", aggfunc="last")
    return table.reindex(sorted(set(table.index) | {budget})).ffill()


def write_results(experiment: BaselinesExperiment, out: Path) -> pd.DataFrame:
    """results.csv, seeds.csv, summary.json, the figures and report.html from the cells in ``out``."""
    seeds = seed_rows(experiment, out)
    results = summarise(seeds)
    run_folder.atomic_write_bytes(out / "seeds.csv", lambda f: f.write(seeds.to_csv(index=False).encode()))
    run_folder.atomic_write_bytes(out / "results.csv", lambda f: f.write(results.round(4).to_csv(index=False).encode()))
    run_folder.write_json(out / "summary.json", {"experiment": "baselines", **_jsonable(dataclasses.asdict(experiment)),
                                                 "results": json.loads(results.to_json(orient="records"))})
    if experiment.lesion_value_at is not None:
        lesion = lesion_rows(experiment, out)
        run_folder.atomic_write_bytes(out / "lesion.csv", lambda f: f.write(lesion.round(4).to_csv(index=False).encode()))
    figures = {}
    curves_caption = CURVES_CAPTION if experiment.learner != "actor-critic" else (
        "Fraction correct, P(decision) x P(correct | decision) on the validation trials, against training trials: "
        "median (line) and IQR (band) across seeds; a seed that stopped at its criterion keeps its last value.")
    for task in experiment.tasks:
        cells = [(name, config) for t, name, config in experiment.cells() if t == task]
        budget = max(experiment.budget(config) for _, config in cells)
        curves = {name: learning_curves(out / task / name, budget) for name, _ in cells}
        figures[f"{task}_learning_curves"] = (_curve_figure(task, curves, budget, experiment.lesion_trials(task)),
                                              curves_caption)
        figures[f"{task}_trials_to_criterion"] = (_ttc_figure(task, seeds[seeds["task"] == task], budget),
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


def _jsonable(value):
    return json.loads(json.dumps(value, default=list))


def _curve_figure(task: str, curves: dict[str, pd.DataFrame], budget: int, lesion_trials: int | None = None):
    fig, ax = plt.subplots(figsize=(6.4, 4))
    if lesion_trials is not None:
        ax.axvline(lesion_trials, color="0.4", lw=0.8, ls=":", label="value network removed")
    for name, table in curves.items():
        q = table.quantile([0.25, 0.5, 0.75], axis=1).T
        ax.plot(q.index, q[0.5], label=name, lw=1.6, ls="--" if name == "actor-critic" else "-")
        ax.fill_between(q.index, q[0.25], q[0.75], alpha=0.2)
    ax.set(xlabel="training trials", ylabel="fraction correct", title=f"{task}: median and IQR across seeds",
           xlim=(0, budget), ylim=(0, 1.02))
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def _ttc_figure(task: str, seeds: pd.DataFrame, budget: int):
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    cells = list(dict.fromkeys(seeds["cell"]))
    for i, cell in enumerate(cells):
        group = seeds[seeds["cell"] == cell]
        y = np.where(group["reached"], group["trials_to_criterion"].astype(float), budget * 1.08)
        x = i + np.linspace(-0.15, 0.15, len(y))
        ax.scatter(x, y, s=14, c=np.where(group["reached"], "C0", "C3"))
    ax.axhline(budget, color="0.6", lw=0.8, ls=":")
    ax.set_xticks(range(len(cells)), cells)
    ax.set(ylabel="trials to criterion", title=f"{task}: one dot per seed (red: not reached within {budget:,})")
    fig.tight_layout()
    return fig


def _write_page(experiment: BaselinesExperiment, results: pd.DataFrame, figures: dict, out: Path) -> None:
    import html

    from rewardrnn.figures.html import STYLE, html_table, png_file_uri

    def fmt(x):
        return "" if pd.isna(x) else f"{x:,.0f}"

    rows = [(r.task, r.cell, r.trained_on, f"{r.reached} / {r.seeds}", fmt(r.median_trials),
             f"{fmt(r.q25_trials)}-{fmt(r.q75_trials)}" if r.reached else "", f"{r.wall_s:.0f}")
            for r in results.itertuples()]
    table = html_table(rows, ("task", "cell", "trained on", "seeds at criterion", "median trials", "IQR", "wall s"))
    if experiment.learner == "actor-critic":
        who = "Song et al.'s actor-critic"
        budget = "the default 100,000 updates" if experiment.max_updates is None else \
            f"{experiment.max_updates:,} updates (rounded up to the validation period)"
    else:
        who, budget = "Miconi's rule", f"{experiment.trials:,} trials"
    imgs = "".join(f'<figure><img src="{png_file_uri(out / f"{name}.png")}" alt="{html.escape(name)}">'
                   f"<figcaption>{html.escape(caption)}</figcaption></figure>" for name, (_, caption) in figures.items())
    text = (f"<!doctype html><html><head><meta charset='utf-8'><title>reward baselines</title><style>{STYLE}</style>"
            f"</head><body><h1>Reward baselines for {who}</h1><p>{experiment.seeds} seeds per cell, at most "
            f"{budget} per seed. Median and IQR over the seeds that reached the criterion.</p>"
            f"{table}<div class='figures'>{imgs}</div></body></html>")
    run_folder.atomic_write_bytes(out / "report.html", lambda f: f.write(text.encode()))
