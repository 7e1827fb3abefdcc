"""Does a curriculum train a task in fewer trials? (issue 33's target: "a curriculum that trains a
task faster (in trials) than without it, measured on one task".)

rdm-fixed, 10 seeds (1-10, vectorised), the paper's criterion (P(decision) >= 0.99,
P(correct | decision) >= 0.8 on 1,000 validation trials), ``--patience 0``, at most
``--max-updates`` updates, trained twice in fresh processes, one after the other:

* **without**: ``rewardrnn train rdm-fixed --learner LEARNER``;
* **with** a two-stage curriculum (:data:`STAGES`): first the two strongest coherences (25.6 and
  51.2 %) to the task's own criterion, then the task itself. Trials to criterion count both
  stages.

Results: ``benchmarks/results/curriculum_<learner>.json``.

    python benchmarks/curriculum.py [--learner actor-critic] [--max-updates 2000] [--out DIR]
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
import tomli_w

RESULTS = Path(__file__).parent / "results"
#: The curriculum measured: the easy coherences, then the task.
STAGES = [{"set": {"conditions.coherence": [25.6, 51.2]}}, {"set": {}}]


def one(name: str, learner: str, out: Path, max_updates: int) -> dict:
    run_file = out / f"{name}.toml"
    spec = {"task": "rdm-fixed", "learner": learner, "n_seeds": 10, "patience": 0, "max_updates": max_updates}
    if name == "with":
        spec["curriculum"] = STAGES
    run_file.write_text(tomli_w.dumps(spec))
    run = out / name
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rewardrnn.cli", "train", "--config", str(run_file), "-q", "-o", str(run)],
                   check=True)
    wall = time.perf_counter() - started
    seeds = json.loads((run / "summary.json").read_text())["seeds"]
    trials = np.asarray([s["trials_to_criterion"] for s in seeds if s["reached_criterion"]], float)
    q1, median, q3 = np.percentile(trials, [25, 50, 75]) if len(trials) else (float("nan"),) * 3
    return {"curriculum": name, "seeds": len(seeds), "reached": int(len(trials)), "median_trials": median,
            "q25_trials": q1, "q75_trials": q3, "trials": [s["trials_to_criterion"] for s in seeds],
            "trials_per_stage": [s.get("trials_per_stage") for s in seeds], "wall_s": round(wall, 1),
            "run": str(run)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learner", default="actor-critic")
    parser.add_argument("--max-updates", type=int, default=2000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="curriculum-"))
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in ("without", "with"):
        rows.append(one(name, args.learner, out, args.max_updates))
        print(json.dumps({k: v for k, v in rows[-1].items() if k not in ("trials", "trials_per_stage")}), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"curriculum_{args.learner}.json").write_text(json.dumps(
        {"date": time.strftime("%Y-%m-%d"), "load_average": os.getloadavg(), "learner": args.learner,
         "max_updates": args.max_updates, "stages": STAGES, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
