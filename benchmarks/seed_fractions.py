"""Fraction of 10 seeds that reach each task's criterion, with the defaults and with the
recommended remedy for stalled seeds (issue 16).

One `rewardrnn train TASK --seeds 10 --restart-stalled 3` per task: seeds 1-10 trained together,
the paper's defaults otherwise (stall detection on, `--patience 40`). A restart acts only on a seed
already stopped as stalled, and the seeds of a run are computed independently (vmap), so one run
gives both columns:

* **defaults**: the seeds that reached the criterion in their first attempt (what
  `rewardrnn train TASK --seeds 10` does: a seed that stalls is stopped there);
* **with `--restart-stalled 3`**: every seed that reached it, a restarted seed's trials counted
  from its first attempt.

A task still running after --timeout seconds is stopped with SIGTERM (its checkpoint kept) and
recorded as it stands: its unfinished seeds count as not reached, with their trials so far. Run the
script again and it resumes that run (`--resume`) instead of starting afresh; a finished run is
only recorded again (`--retrain` trains it afresh).

    python benchmarks/seed_fractions.py [--tasks rdm-fixed wager ...] [--timeout 3600]
    python benchmarks/seed_fractions.py --tasks wager --patience 120 --max-updates 30000
    python benchmarks/seed_fractions.py --report        # rewrite the section of the page only

``--patience`` and ``--max-updates`` are passed on to `train`; a run with them is a row of its
own (results key and run folder named after them, e.g. ``wager --patience 120``), whose first
columns count the first attempts under that patience.

Results: benchmarks/results/seed_fractions.json (the latest run of each task and flags); the table
goes between the markers of docs/benchmarks-tasks.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from pages import replace_section
from rewardrnn.training.trainer import REACHED, STALLED

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "seed_fractions.json"
PAGE = ROOT / "docs" / "benchmarks-tasks.md"
BEGIN, END = "<!-- seed_fractions.py: begin -->", "<!-- seed_fractions.py: end -->"
TASKS = ("rdm-fixed", "rdm-rt", "economic", "multisensory", "romo", "wager", "mante")
N_SEEDS, RESTARTS = 10, 3


def key_of(task: str, patience: int | None) -> str:
    """The results' key of a task trained with ``--patience`` (None: the trainer's), e.g.
    ``wager --patience 120``; ``--max-updates`` is a budget, not another row."""
    return task if patience is None else f"{task} --patience {patience}"


def train(task: str, timeout: float, runs: Path, retrain: bool, patience: int | None,
          max_updates: int | None) -> dict:
    """Train (or resume) the task's 10 seeds, with ``--patience`` and ``--max-updates`` when
    given; record the run as it stands when it ends. A run already finished in ``runs`` is only
    recorded, unless ``retrain``."""
    key = key_of(task, patience)
    flags = ([] if patience is None else ["--patience", str(patience)]) + \
        ([] if max_updates is None else ["--max-updates", str(max_updates)])
    out = runs / key.replace(" --", "-").replace(" ", "-")
    if (out / "summary.json").is_file() and not retrain:
        return record(task, out, key, flags)
    resume = (out / "checkpoint.npz").is_file() and not (out / "summary.json").is_file()
    cmd = [sys.executable, "-m", "rewardrnn.cli", "train", task, "--out", str(out), "-q", *flags,
           *(["--resume"] if resume else ["--seeds", str(N_SEEDS), "--restart-stalled", str(RESTARTS), "--overwrite"])]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # the trainer stops at the next chunk, keeping its checkpoint
        proc.wait()
    return record(task, out, key, flags)


def record(task: str, out: Path, key: str, flags: list[str]) -> dict:
    """Per seed: reached in the first attempt (the defaults), reached at all (the remedy), trials,
    restarts and why each attempt before the last stalled; from summary.json and metrics.csv."""
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else None
    by_seed: dict[int, list[dict]] = {}
    for row in rows:
        by_seed.setdefault(int(row["seed"]), []).append(row)
    seeds = []
    for seed, history in sorted(by_seed.items()):
        last = history[-1]
        stalls = [{"trials": int(r["trials"]), "reason": r["stall_reason"]} for r in history if r["status"] == "restarted"]
        if summary is not None:
            s = next(s for s in summary["seeds"] if s["seed"] == seed)
            status, trials = s["status"], s["trials_to_criterion"] or int(last["trials"])
            reached = s["reached_criterion"]
            if s.get("stall_reason"):
                stalls.append({"trials": int(last["trials"]), "reason": s["stall_reason"]})
        else:  # interrupted: running seeds count as not reached
            reached = last["status"] == REACHED
            status = last["status"] if last["status"] in (REACHED, STALLED) else "interrupted"
            trials = int(last["trials"])
            if last["status"] == STALLED:
                stalls.append({"trials": trials, "reason": last["stall_reason"]})
        seeds.append({"seed": seed, "status": status, "reached": reached, "restarts": sum(r["status"] == "restarted" for r in history),
                      "trials": trials, "stalls": stalls})
    result = {"task": task, "date": time.strftime("%Y-%m-%d"), "finished": summary is not None,
              "wall_s": round(summary["wall_s"] if summary else float(rows[-1]["wall_s"]), 1),
              "command": " ".join(["rewardrnn train", task, "--seeds", str(N_SEEDS), "--restart-stalled", str(RESTARTS),
                                   *flags]), "seeds": seeds}
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results[key] = result
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "seeds"}), flush=True)
    return result


def _median_iqr(trials: list[int]) -> str:
    if not trials:
        return "–"
    q1, med, q3 = np.percentile(trials, [25, 50, 75])
    return f"{med:,.0f} ({q1:,.0f}–{q3:,.0f})"


def _short(reason: str) -> str:
    """The rule of a stall reason ("never decides", "no progress"), without its numbers."""
    return reason.split(":")[0]


def report() -> str:
    """The page's section: one row per task, defaults and remedy side by side."""
    results = json.loads(RESULTS.read_text())
    lines = [BEGIN, "", "### Fraction of 10 seeds at criterion, defaults and `--restart-stalled 3`", "",
             "Written by `python benchmarks/seed_fractions.py` from `benchmarks/results/seed_fractions.json`.",
             "One `rewardrnn train TASK --seeds 10 --restart-stalled 3` per task (seeds 1–10 together, the",
             "paper's defaults otherwise, stall detection on). A restart acts only on a seed already stopped",
             "as stalled, so the *defaults* column counts the seeds that reached the criterion in their first",
             "attempt (what the defaults alone give) and the *remedy* column every seed that reached it, a",
             "restarted seed's trials counted from its first attempt. A row with flags (`wager --patience 120`)",
             "was trained with them added (its command is in the results file), and its first columns count",
             "the first attempts under them. Trials are training trials, median (IQR).",
             "", "| task | defaults: seeds at criterion | trials | `--restart-stalled 3`: seeds | trials | "
             "stalls (rule, trials when stopped) | wall s (10 seeds) |", "|---|---|---|---|---|---|---|"]
    for task in [t for t in TASKS if t in results] + [t for t in results if t not in TASKS]:
        r = results[task]  # task, or task and flags
        first = [s["trials"] for s in r["seeds"] if s["reached"] and s["restarts"] == 0]
        every = [s["trials"] for s in r["seeds"] if s["reached"]]
        stalls = "; ".join(f"seed {s['seed']}: " + ", ".join(f"{_short(x['reason'])} at {x['trials']:,}" for x in s["stalls"])
                           + (f" → reached at {s['trials']:,}" if s["reached"] else "")
                           for s in r["seeds"] if s["stalls"]) or "none"
        unfinished = [s for s in r["seeds"] if s["status"] == "interrupted"]
        if unfinished:
            stalls += ("; stopped by the time limit, not at criterion: "
                       + ", ".join(f"seed {s['seed']} ({s['trials']:,})" for s in unfinished))
        n = len(r["seeds"])
        open_ = f" ({len(unfinished)} unfinished)" if unfinished else ""
        lines.append(f"| `{task}` | {len(first)} / {n}{open_} | {_median_iqr(first)} | {len(every)} / {n}{open_} | "
                     f"{_median_iqr(every)} | {stalls} | {r['wall_s']:,.0f}{'' if r['finished'] else ' (interrupted)'} |")
    lines += ["", END]
    return "\n".join(lines)


def write_page() -> None:
    replace_section(PAGE, BEGIN, END, report())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=list(TASKS), choices=TASKS, metavar="TASK")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per task")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "fractions")
    parser.add_argument("--report", action="store_true", help="only rewrite the page's section")
    parser.add_argument("--retrain", action="store_true", help="train afresh a task already finished in --runs")
    parser.add_argument("--patience", type=int, help="train's --patience (default: the trainer's)")
    parser.add_argument("--max-updates", type=int, help="train's --max-updates (default: the trainer's)")
    args = parser.parse_args()
    if not args.report:
        for task in args.tasks:
            train(task, args.timeout, args.runs, args.retrain, args.patience, args.max_updates)
            write_page()
    write_page()


if __name__ == "__main__":
    main()
