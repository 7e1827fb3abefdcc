"""Replay stall rules on runs trained without stall detection (issue 16): which seeds each rule
would have stopped, and whether they would have reached the criterion had they gone on.

A run trained with ``--patience 0`` (no stall detection) records every seed's validations until
it meets the criterion or the budget runs out. Stall detection only stops a seed (it changes
nothing in the seeds that go on, which are computed independently; see the caveat below), so
applying a rule to each seed's history, validation by validation, tells exactly what that rule
would have done to the same networks:

* **reached**: the seed met the criterion before the rule fired;
* **stopped, would have reached**: a false stop (the run without stall detection reached the
  criterion later, at the trials given);
* **stopped, not reached**: no criterion in the trials the run recorded (a true stop if the run
  went to its budget), with the trials at which the rule stopped it.

Rules: the library's (:func:`rewardrnn.training.stalls.stall_reason`) at several patiences, with
progress read from the validation reward alone ("score") or from the reward or the distance to
the criterion ("score or gap", :meth:`rewardrnn.tasks.protocol.Criterion.gap`). A history written
before runs recorded the gap gets it from the task's criterion.

Caveat: the trainer computes the running seeds as a batch padded to a power of two, so stopping
a seed can change the batch size of the others and with it the last bits of their arithmetic;
a real run with the rule is then a statistically equivalent, not an identical, sample. On wager
(10 seeds, ``--patience 120 --restart-stalled 3``) the real run matched the replay exactly: the
eight seeds the rule left alone reached the criterion at the replayed trials, and seed 8 was
stopped at the replayed 409,200 although seed 10 had restarted before it.

    python benchmarks/stall_replay.py runs/wager-nostop/run [--patience 40 60 80 120]
    python benchmarks/stall_replay.py --report      # rewrite the page's section only

Results: benchmarks/results/stall_replay.json (one entry per run folder); the table goes between the
markers of docs/benchmarks-tasks.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from pages import replace_section
from rewardrnn.tasks.registry import build_task
from rewardrnn.training.run_folder import METRICS
from rewardrnn.training.stalls import StallRule, rows_by_seed, stall_reason

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "stall_replay.json"
PAGE = ROOT / "docs" / "benchmarks-tasks.md"
BEGIN, END = "<!-- stall_replay.py: begin -->", "<!-- stall_replay.py: end -->"


def histories(run: Path) -> tuple[str, dict[int, list[dict]]]:
    """The run's task and each seed's validation rows, the criterion gap filled in from the task's
    criterion where the history has none."""
    config = json.loads((run / "config.json").read_text())
    if config.get("patience", 0) != 0:
        raise SystemExit(f"{run} was trained with stall detection (patience {config['patience']}); "
                         "replay needs a run trained with --patience 0")
    metrics = pd.read_csv(run / METRICS)
    if "criterion_gap" not in metrics:  # a history written before runs recorded it
        criterion = build_task(config["task"], config.get("task_options"), config.get("task_settings")).criterion
        metrics["criterion_gap"] = criterion.gap(metrics)
    seeds = tuple(int(seed) for seed in sorted(metrics["seed"].unique()))
    return config["task"], rows_by_seed(metrics.to_dict("records"), seeds)


def replay(rows: list[dict], rule: StallRule) -> dict:
    """What ``rule`` does to one seed's history: reached (trials), stopped (trials, reason) or
    ran to the end of the history."""
    for k, row in enumerate(rows):
        if row["criterion_met"]:
            return {"outcome": "reached", "trials": row["trials"]}
        reason = stall_reason(rows[:k + 1], rule)
        if reason is not None:
            return {"outcome": "stopped", "trials": row["trials"], "reason": reason}
    return {"outcome": "budget", "trials": rows[-1]["trials"]}


def measure(run: Path, patiences: list[int]) -> dict:
    task, by_seed = histories(run)
    no_stop = {seed: replay(rows, StallRule(patience=0)) for seed, rows in by_seed.items()}  # patience 0: no rule
    rules = []
    for gap_progress in (False, True):
        for patience in patiences:
            rule = StallRule(patience=patience, gap_progress=gap_progress)
            seeds = []
            for seed, rows in sorted(by_seed.items()):
                r = replay(rows, rule)
                r.update(seed=seed, reached_without_stop=no_stop[seed]["outcome"] == "reached",
                         trials_without_stop=no_stop[seed]["trials"])
                seeds.append(r)
            rules.append({"patience": patience, "progress": "score or gap" if gap_progress else "score", "seeds": seeds})
    budget = max(rows[-1]["trials"] for rows in by_seed.values())
    return {"task": task, "run": str(run.relative_to(ROOT) if run.is_relative_to(ROOT) else run),
            "date": time.strftime("%Y-%m-%d"), "n_seeds": len(by_seed), "trials_recorded": budget,
            "finished": (run / "summary.json").is_file(),
            "no_stop": [{"seed": s, **r} for s, r in sorted(no_stop.items())], "rules": rules}


def report() -> str:
    results = json.loads(RESULTS.read_text())
    lines = [BEGIN, "", "### Stall rules replayed on runs without stall detection", "",
             "Written by `python benchmarks/stall_replay.py RUN` from `benchmarks/results/stall_replay.json`:",
             "each rule applied, validation by validation, to the histories of a run trained with",
             "`--patience 0` (the seeds' networks are the same; the script's docstring gives the caveat).",
             "*False stops* are seeds the rule stops that reached the criterion later without it.", ""]
    for r in results.values():
        reached = [x for x in r["no_stop"] if x["outcome"] == "reached"]
        lines += [f"**{r['task']}** ({r['n_seeds']} seeds, `{r['run']}`, {r['trials_recorded']:,} trials recorded"
                  f"{'' if r['finished'] else ', run unfinished'}): without stall detection "
                  f"{len(reached)} / {r['n_seeds']} reached the criterion, at "
                  + (", ".join(f"{x['trials']:,}" for x in sorted(reached, key=lambda x: x["trials"])) or "–")
                  + " trials.", "",
                  "| progress read from | patience (validations) | reached | false stops: stopped at (would reach at) | "
                  "stopped, not reached in the trials recorded | still running at the end of the record |",
                  "|---|---|---|---|---|---|"]
        for rule in r["rules"]:
            seeds = rule["seeds"]
            false = [s for s in seeds if s["outcome"] == "stopped" and s["reached_without_stop"]]
            true = [s for s in seeds if s["outcome"] == "stopped" and not s["reached_without_stop"]]
            open_ = [s for s in seeds if s["outcome"] == "budget"]
            lines.append(
                f"| {rule['progress']} | {rule['patience']} | {sum(s['outcome'] == 'reached' for s in seeds)} | "
                + (", ".join(f"seed {s['seed']} at {s['trials']:,} ({s['trials_without_stop']:,})" for s in false) or "none")
                + " | " + (", ".join(f"seed {s['seed']} at {s['trials']:,}" for s in true) or "none")
                + " | " + (", ".join(f"seed {s['seed']}" for s in open_) or "none") + " |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run folders trained with --patience 0")
    parser.add_argument("--patience", nargs="+", type=int, default=[40, 60, 80, 120])
    parser.add_argument("--report", action="store_true", help="only rewrite the page's section")
    args = parser.parse_args()
    if not args.report:
        results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        for run in args.runs:
            r = measure(run.resolve(), args.patience)
            results[r["run"]] = r  # one entry per run folder (several runs of a task, e.g. with a remedy)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    replace_section(PAGE, BEGIN, END, report())


if __name__ == "__main__":
    main()
