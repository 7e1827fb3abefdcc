"""The supervised learner's two losses on rdm-fixed, 10 seeds each (issue 33: PsychRNN's
mean-squared-error option, "not measured yet"): trials to the paper's criterion with
``--loss cross-entropy`` (the default) and ``--loss mse``, the network read out greedily (the
default ``--act greedy``).

One ``rewardrnn train rdm-fixed --learner supervised --loss LOSS --seeds 10 --patience 0
--max-updates 2000`` per loss (seeds 1-10 vectorised, at most 20,000 trials each), one after the
other in fresh processes. Results: ``benchmarks/results/supervised_losses.json``.

    python benchmarks/supervised_losses.py [--out DIR] [--max-updates 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "supervised_losses.json"
LOSSES = ("cross-entropy", "mse")


def one(loss: str, out: Path, max_updates: int) -> dict:
    run = out / loss
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rewardrnn.cli", "train", "rdm-fixed", "--learner", "supervised", "--loss",
                    loss, "--seeds", "10", "--patience", "0", "--max-updates", str(max_updates), "-q", "-o", str(run)],
                   check=True)
    wall = time.perf_counter() - started
    summary = json.loads((run / "summary.json").read_text())
    seeds = summary["seeds"]
    trials = np.asarray([s["trials_to_criterion"] for s in seeds if s["reached_criterion"]], float)
    q1, median, q3 = np.percentile(trials, [25, 50, 75]) if len(trials) else (float("nan"),) * 3
    return {"loss": loss, "seeds": len(seeds), "reached": int(len(trials)), "median_trials": median,
            "q25_trials": q1, "q75_trials": q3, "trials": [s["trials_to_criterion"] for s in seeds],
            "best_scores": [s["best_score"] for s in seeds], "wall_s": round(wall, 1), "run": str(run)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path)
    parser.add_argument("--max-updates", type=int, default=2000)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="supervised-losses-"))
    rows = []
    for loss in LOSSES:
        rows.append(one(loss, out, args.max_updates))
        print(json.dumps({k: v for k, v in rows[-1].items() if k not in ("trials", "best_scores")}), flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "load_average": os.getloadavg(),
                                   "max_updates": args.max_updates, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
