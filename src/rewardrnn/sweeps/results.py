"""A sweep's results: ``DIR/results.csv`` (one row per point and seed) and ``DIR/report.html``
(trials to criterion against each swept option: median and IQR across seeds, and the table)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rewardrnn.training import run_folder

RESULTS = "results.csv"
PAGE = "report.html"
#: Numbers of a seed's last validation copied into the table when the run has them.
FINAL = ("score", "p_decision", "p_correct", "p_sure", "performance", "mean_error")


def finished(folder: Path) -> bool:
    """Whether the run folder holds a finished training (its summary belongs to its run)."""
    try:
        _, identity = run_folder.read_config_json(folder)
        summary = json.loads((folder / run_folder.SUMMARY).read_text())
    except Exception:  # missing, partial or foreign: not finished
        return False
    return summary.get("run_id") == identity.get("run_id")


def outcome_of_folder(folder: Path, resumed: bool | None = None, job_wall_s: float | None = None,
                      perturbations=(), perturbation_errors: dict[str, str] | None = None) -> dict[str, Any]:
    """What a finished job's run folder says, per seed: status, criterion, trials, updates, the
    last validation's numbers, wall seconds and, for each of the sweep's ``perturbations``,
    ``NAME:intact_KEY`` / ``NAME:perturbed_KEY`` of each pooled measure (from
    ``perturbations/NAME__seedS/summary.json``) or ``NAME:error``."""
    folder = Path(folder)
    if not finished(folder):
        return {"error": None, "seeds": {}}
    summary = json.loads((folder / run_folder.SUMMARY).read_text())
    metrics = pd.read_csv(folder / run_folder.METRICS) if (folder / run_folder.METRICS).is_file() else None
    seeds = {}
    for s in summary["seeds"]:
        row = {"status": s["status"], "reached": bool(s["reached_criterion"]),
               "trials_to_criterion": s["trials_to_criterion"], "updates": s["updates"],
               "best_score": s["best_score"], "stall_reason": s.get("stall_reason", "")}
        if metrics is not None and "seed" in metrics:
            last = metrics[metrics["seed"] == s["seed"]].tail(1)
            for name in FINAL:
                if name in last and len(last):
                    row[f"final_{name}"] = float(last[name].iloc[0])
        for spec in perturbations:
            row.update(_perturbation_columns(folder, spec.name, int(s["seed"]), perturbation_errors or {}))
        seeds[int(s["seed"])] = row
    return {"error": None, "seeds": seeds, "wall_s": summary.get("wall_s"), "job_wall_s": job_wall_s,
            "resumed": resumed}


def _perturbation_columns(folder: Path, name: str, seed: int, errors: dict[str, str]) -> dict[str, Any]:
    from rewardrnn import safe_files
    from rewardrnn.perturbations import FOLDER

    folder_name = f"{name}__seed{seed}"
    if folder_name in errors:
        return {f"{name}:error": errors[folder_name]}
    path = folder / FOLDER / folder_name / "summary.json"
    try:
        if not safe_files.regular_file_inside(folder, path):
            return {}
        summary = json.loads(path.read_text())
        return {f"{name}:{part}_{key}": summary[part].get(key) for key in summary["measures"]
                for part in ("intact", "perturbed")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}


def outcome_of_error(message: str) -> dict[str, Any]:
    return {"error": message, "seeds": {}}


def table(sweep, outcomes: dict[str, dict]) -> pd.DataFrame:
    """One row per point and seed, in the sweep's order; jobs not run yet are ``pending``."""
    rows = []
    for job in sweep.jobs:
        outcome = outcomes.get(job.name)
        for seed in job.seeds:
            row: dict[str, Any] = {**{k: v for k, v in job.varied.items() if k != "seed"}, "seed": seed,
                                   "folder": job.name}
            if outcome is None:
                row["status"] = "pending"
            elif outcome["error"] is not None:
                row.update(status="failed", reached=False, error=outcome["error"])
            elif seed in outcome["seeds"]:
                row.update(outcome["seeds"][seed], wall_s=outcome.get("wall_s"), job_wall_s=outcome.get("job_wall_s"),
                           resumed=outcome.get("resumed"))
            else:
                row["status"] = "interrupted"
            rows.append(row)
    return pd.DataFrame(rows)


def write(out: Path, sweep, outcomes: dict[str, dict]) -> pd.DataFrame:
    frame = table(sweep, outcomes)
    run_folder.atomic_write_bytes(Path(out) / RESULTS, lambda f: f.write(frame.to_csv(index=False).encode()))
    return frame


def by_option(frame: pd.DataFrame, axis: str) -> pd.DataFrame:
    """Per value of ``axis``: seeds, seeds at criterion, median and IQR of trials to criterion
    over the seeds that reached it."""
    rows = []
    for value, group in frame.groupby(frame[axis].astype(str), sort=False):
        reached = group[group.get("reached", pd.Series(False, index=group.index)).fillna(False).astype(bool)]
        trials = reached["trials_to_criterion"].astype(float).to_numpy() if len(reached) else np.zeros(0)
        q1, median, q3 = np.percentile(trials, [25, 50, 75]) if len(trials) else (np.nan,) * 3
        rows.append({axis: value, "seeds": len(group), "reached": len(reached), "median_trials": median,
                     "q25_trials": q1, "q75_trials": q3})
    return pd.DataFrame(rows)


def write_page(out: Path, sweep, frame: pd.DataFrame) -> Path:
    """``DIR/report.html``: per swept option, trials to criterion (median, IQR) and seeds at
    criterion, with a figure; then the whole table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rewardrnn.figures.html import STYLE, html_table, png_uri

    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>rewardrnn sweep</title>"
             f"<style>{STYLE}</style></head><body><h1>rewardrnn sweep · {len(sweep.jobs)} jobs, "
             f"{sweep.n_points} points</h1><p>Folder <code>{html.escape(str(Path(out).resolve()))}</code>.</p>"]
    done = frame[frame["status"] != "pending"] if "status" in frame else frame
    for axis in (a for a in sweep.axes if a != "seed"):
        stats = by_option(done, axis)
        parts.append(f"<h2>{html.escape(axis)}</h2>")
        fig, ax = plt.subplots(figsize=(4.5, 3))
        x = np.arange(len(stats))
        ax.errorbar(x, stats["median_trials"], yerr=[stats["median_trials"] - stats["q25_trials"],
                                                      stats["q75_trials"] - stats["median_trials"]], fmt="o-", capsize=3)
        ax.set_xticks(x, stats[axis], rotation=30)
        ax.set_xlabel(axis)
        ax.set_ylabel("trials to criterion")
        fig.tight_layout()
        parts.append(f"<figure><img alt='{html.escape(axis)}' src='{png_uri(fig)}'><figcaption>Trials to criterion "
                     f"against {html.escape(axis)}: median and interquartile range over the seeds that reached "
                     f"it.</figcaption></figure>")
        parts.append(html_table([tuple(_cell(v) for v in row) for row in stats.itertuples(index=False)],
                                tuple(stats.columns)))
    parts.append("<h2>Every point</h2>")
    parts.append(html_table([tuple(_cell(v) for v in row) for row in frame.itertuples(index=False)],
                            tuple(frame.columns)))
    parts.append("</body></html>")
    path = Path(out) / PAGE
    run_folder.atomic_write_bytes(path, lambda f: f.write("\n".join(parts).encode()))
    return path


def _cell(value: Any) -> str:
    from rewardrnn.figures.labels import number

    if isinstance(value, float) and np.isnan(value):
        return ""
    return number(value.item() if hasattr(value, "item") else value)
