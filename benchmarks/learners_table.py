"""The learning rules across tasks (issue 33's table): one row per task and learner, from the
tables ``benchmarks/learners_experiment.py`` keeps in ``benchmarks/results/learners/<name>/``, into
docs/learners.md between its markers (``benchmarks/pages.py``). Nothing is trained.

Per row: seeds at criterion, trials to criterion (median and IQR over the seeds that reached it),
the cell's wall seconds (10 seeds vectorised), the trial budget per seed, and for the networks at
criterion the median participation ratio (dimensions) and share of slow rotational fixed and slow
points (``dynamics_by_learner.csv``). A task kept in several folders (``rdm-fixed`` and
``rdm-fixed-local``) gives one row per learner; a learner measured twice keeps the folder named
after the task.

Run: ``python benchmarks/learners_table.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pages import replace_section

ROOT = Path(__file__).resolve().parents[1]
KEPT = ROOT / "benchmarks" / "results" / "learners"
PAGE = ROOT / "docs" / "learners.md"
BEGIN, END = "<!-- learners table: begin -->", "<!-- learners table: end -->"
ORDER = ("rdm-fixed", "rdm-rt", "romo", "mante", "multisensory", "wager", "economic", "dnms-choice")
LEARNER_ORDER = ("actor-critic", "supervised", "perturbation", "local")


def rows() -> list[dict]:
    out: dict[tuple[str, str], dict] = {}
    for folder in sorted(KEPT.iterdir(), key=lambda f: (f.name not in ORDER, f.name)):  # a task's own folder first
        if not (folder / "results.csv").is_file():
            continue
        budgets = json.loads((folder / "summary.json").read_text())["budget"]  # trials per seed, per task
        results = pd.read_csv(folder / "results.csv")
        dynamics = (pd.read_csv(folder / "dynamics_by_learner.csv")
                    if (folder / "dynamics_by_learner.csv").is_file() else pd.DataFrame())
        for _, r in results.iterrows():
            key = (r["task"], r["learner"])
            if key in out:  # the folder named after the task came first
                continue
            d = dynamics[dynamics["learner"] == r["learner"]] if len(dynamics) else dynamics
            out[key] = {"task": r["task"], "learner": r["learner"], "seeds": int(r["seeds"]), "reached": int(r["reached"]),
                        "median": r["median_trials"], "q25": r["q25_trials"], "q75": r["q75_trials"],
                        "wall_s": r["wall_s"], "budget": f"{budgets[r['task']]:,}", "folder": folder.name,
                        "pr": float(d["participation_ratio"].iloc[0]) if len(d) else None,
                        "slow_rot": float(d["share_slow_rotational"].iloc[0]) if len(d) else None}
    rank = {t: i for i, t in enumerate(ORDER)}
    lrank = {name: i for i, name in enumerate(LEARNER_ORDER)}
    return sorted(out.values(), key=lambda r: (rank.get(r["task"], 99), lrank.get(r["learner"], 99)))


def _trials(r: dict) -> str:
    if r["reached"] == 0 or pd.isna(r["median"]):
        return "–"
    return f"{r['median']:,.0f} ({r['q25']:,.0f}-{r['q75']:,.0f})"


def section() -> str:
    lines = [BEGIN, "",
             "| task | learner | seeds at criterion | trials to criterion, median (IQR) | wall s, 10 seeds | budget per seed "
             "| participation ratio | share slow rotational | tables |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows():
        pr = "" if r["pr"] is None else f"{r['pr']:.2f}"
        rot = "" if r["slow_rot"] is None else f"{r['slow_rot']:.2f}"
        lines.append(f"| {r['task']} | {r['learner']} | {r['reached']} / {r['seeds']} | {_trials(r)} | "
                     f"{r['wall_s']:,.0f} | {r['budget']} | {pr} | {rot} | `{r['folder']}/` |")
    lines += ["", "(Written by `benchmarks/learners_table.py` from `benchmarks/results/learners/`; the dynamics "
                  "columns are medians over the networks at criterion; empty: no network at criterion.)", "", END]
    return "\n".join(lines)


if __name__ == "__main__":
    replace_section(PAGE, BEGIN, END, section())
