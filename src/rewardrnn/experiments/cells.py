"""What every experiment (``rewardrnn experiment ...``) shares: a folder of cells, each a normal
run folder ``OUT/<task>/<cell>/`` trained by the trainer; the folder's marker; keeping a cell
already finished with the same configuration and resuming an interrupted one; and the tables
and figures built from the cells' summaries and metrics (seeds at criterion, trials to
criterion, learning curves)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rewardrnn import safe_files
from rewardrnn.errors import ConfigError, RunFolderError
from rewardrnn.training import run_folder

#: What marks a folder as an experiment's (written before its first cell): ``{"experiment": NAME}``.
MARKER = "experiment.json"
#: A cell: (task folder, cell name, run config).
Cell = tuple[str, str, Any]


def check_experiment_folder(out: Path, experiment: str) -> None:
    """``out`` may be missing, empty or the folder of an ``experiment`` experiment (marked by
    :data:`MARKER`, or by an earlier version's ``summary.json``); anything else is refused,
    before any work."""
    if not out.exists():
        return
    if not out.is_dir():
        raise RunFolderError(f"--out {out} exists and is not a folder")
    if not any(out.iterdir()):
        return
    for name in (MARKER, "summary.json"):
        try:
            if json.loads((out / name).read_text()).get("experiment") == experiment:
                return
        except (OSError, ValueError, AttributeError, RecursionError):
            continue
    what = "a run" if (out / run_folder.CONFIG).exists() else "a sweep" if (out / "sweep.json").exists() else \
        f"files that are not a {experiment} experiment"
    raise RunFolderError(f"--out {out} holds {what}; an experiment writes a folder of its own: choose another --out")


def saved_experiment(out: Path, experiment: str, cls: type):
    """The experiment ``cls`` saved in ``out/summary.json`` by :func:`write_results` of the
    experiment named ``experiment``, validated as a new one (only known tasks and options, so
    opening someone else's folder imports nothing of theirs)."""
    import dataclasses

    try:
        saved = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError) as error:
        raise RunFolderError(f"{out} has no readable summary.json of a {experiment} experiment "
                             f"({type(error).__name__}); run the experiment there again") from None
    if not isinstance(saved, dict) or saved.get("experiment") != experiment:
        raise RunFolderError(f"{out}/summary.json is not a {experiment} experiment's")
    fields = {f.name for f in dataclasses.fields(cls)}
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k in fields}
    try:
        return cls(**options)
    except TypeError as error:
        raise RunFolderError(f"{out}/summary.json does not describe a {experiment} experiment ({error})") from None


def saved_experiment_name(out: Path) -> str | None:
    """The experiment whose folder ``out`` is (by its :data:`MARKER`), or None."""
    try:
        marker = json.loads((out / MARKER).read_text())
    except (OSError, ValueError, RecursionError):
        return None
    name = marker.get("experiment") if isinstance(marker, dict) else None
    return name if isinstance(name, str) else None


def same_config(folder: Path, config) -> bool:
    """Whether ``folder`` holds a run saved with ``config``'s options."""
    try:
        saved = json.loads((folder / run_folder.CONFIG).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(saved, dict):
        return False
    return all(saved.get(k) == v for k, v in config.to_dict().items() if not k.startswith("_"))


def finished(folder: Path, config) -> bool:
    """Whether ``folder`` holds a finished run of ``config``."""
    return (folder / run_folder.SUMMARY).is_file() and same_config(folder, config)


def train_cells(out: Path, cells: Iterable[Cell], experiment: str, *, overwrite: bool = False,
                progress: bool = True) -> None:
    """Train every cell into ``out/<task>/<cell>``: a cell already finished there with the same
    configuration is kept and an interrupted one resumed; a cell trained with other options is
    refused (before any work) unless ``overwrite``."""
    from rewardrnn.training.run import train

    cells = list(cells)
    check_experiment_folder(out, experiment)
    if not overwrite:
        for task, name, config in cells:
            folder = out / task / name
            if (folder / run_folder.CONFIG).is_file() and not same_config(folder, config):
                raise ConfigError(f"{folder} holds a run with other options; choose another --out or give --overwrite")
    run_folder.check_writable_folder(out, "--out")
    run_folder.write_json(out / MARKER, {"experiment": experiment})
    for task, name, config in cells:
        folder = safe_files.folder_inside(out, task, name)
        if finished(folder, config) and not overwrite:
            continue
        resume = (folder / run_folder.CHECKPOINT).is_file() and not overwrite
        train(config, folder, resume=resume, overwrite=overwrite, progress=progress)


def seed_rows(out: Path, cells: Iterable[Cell]) -> pd.DataFrame:
    """One row per cell and seed: reached, trials to criterion, status, the cell's wall time (s)."""
    rows = []
    for task, name, config in cells:
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
    """Fraction correct against training trials up to ``budget``, one column per seed; a seed
    that stopped keeps its last value. Miconi's rule on his task: the fraction of the last 100
    training trials with error below the task's threshold; a native task (any learner):
    P(decision) x P(correct | decision) on the validation trials."""
    metrics = pd.read_csv(folder / run_folder.METRICS)
    if "good_of_last_100" in metrics:  # Miconi's rule on his task: its measure needs trials, none at 0
        metrics = metrics[metrics["trials"] > 0].copy()
        metrics["fraction_correct"] = metrics["good_of_last_100"] / 100.0
    else:
        metrics["fraction_correct"] = metrics["p_decision"] * metrics["p_correct"]
    table = metrics.pivot_table(index="trials", columns="seed", values="fraction_correct", aggfunc="last")
    return table.reindex(sorted(set(table.index) | {budget})).ffill()


def write_csv(path: Path, table: pd.DataFrame, digits: int | None = 4) -> None:
    """``table`` as CSV at ``path`` (atomically), floats rounded to ``digits``."""
    table = table.round(digits) if digits is not None else table
    run_folder.atomic_write_bytes(path, lambda f: f.write(table.to_csv(index=False).encode()))


def jsonable(value):
    """``value`` with tuples as lists (for ``summary.json``)."""
    return json.loads(json.dumps(value, default=list))


def curve_figure(task: str, curves: dict[str, pd.DataFrame], budget: int, lesion_trials: int | None = None,
                 dashed: tuple[str, ...] = ("actor-critic",)):
    """Median (line) and IQR (band) across seeds of each cell's learning curve."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    if lesion_trials is not None:
        ax.axvline(lesion_trials, color="0.4", lw=0.8, ls=":", label="value network removed")
    for name, table in curves.items():
        q = table.quantile([0.25, 0.5, 0.75], axis=1).T
        ax.plot(q.index, q[0.5], label=name, lw=1.6, ls="--" if name in dashed else "-")
        ax.fill_between(q.index, q[0.25], q[0.75], alpha=0.2)
    ax.set(xlabel="training trials", ylabel="fraction correct", title=f"{task}: median and IQR across seeds",
           xlim=(0, budget), ylim=(0, 1.02))
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def ttc_figure(task: str, seeds: pd.DataFrame, budget: int):
    """Trials to criterion, one dot per seed and cell; seeds that did not reach it in red, above
    the budget line."""
    import matplotlib.pyplot as plt

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


def results_rows(results: pd.DataFrame) -> list[tuple]:
    """The page's rows of a results table: task, cell, trained on, seeds at criterion, median
    trials, IQR, wall s."""
    def fmt(x):
        return "" if pd.isna(x) else f"{x:,.0f}"

    return [(r.task, r.cell, r.trained_on, f"{r.reached} / {r.seeds}", fmt(r.median_trials),
             f"{fmt(r.q25_trials)}-{fmt(r.q75_trials)}" if r.reached else "", f"{r.wall_s:.0f}")
            for r in results.itertuples()]


RESULTS_HEADER = ("task", "cell", "trained on", "seeds at criterion", "median trials", "IQR", "wall s")


def page(title: str, heading: str, body: str, figures: dict, out: Path) -> None:
    """``out/report.html``: the heading, the body (HTML) and the figures (name -> (figure,
    caption), saved as ``out/<name>.png``)."""
    import html

    from rewardrnn.figures.html import STYLE, png_file_uri

    imgs = "".join(f'<figure><img src="{png_file_uri(out / f"{name}.png")}" alt="{html.escape(name)}">'
                   f"<figcaption>{html.escape(caption)}</figcaption></figure>" for name, (_, caption) in figures.items())
    text = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(heading)}</h1>{body}"
            f"<div class='figures'>{imgs}</div></body></html>")
    run_folder.atomic_write_bytes(out / "report.html", lambda f: f.write(text.encode()))
