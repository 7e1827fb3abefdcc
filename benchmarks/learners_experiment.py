"""The learning rules on equal terms (issue 33's table): ``rewardrnn experiment learners`` on the
tasks given, with every learner's cells trained to the paper's criterion within one trial budget
per seed, and the dynamics of the networks at criterion compared. Runs the experiment (a folder
already holding finished cells keeps them; an interrupted cell resumes), then keeps its tables in
``benchmarks/results/learners/<task>/`` (results, seeds, dynamics, fixed points per condition,
similarity, per-learner medians, summary.json) with the machine's facts and the date.

    python benchmarks/learners_experiment.py --tasks mante --trials 72000 [--learners ...] [--seeds 10]
        [--out runs/learners]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "learners"
TABLES = ("results.csv", "seeds.csv", "dynamics.csv", "fixedpoints.csv", "similarity.csv", "spectra.csv",
          "dynamics_by_learner.csv", "similarity_by_learner.csv", "summary.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", required=True)
    parser.add_argument("--learners", default="actor-critic,supervised,perturbation")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=Path("runs/learners"))
    parser.add_argument("--keep", default=None, help="folder name under benchmarks/results/learners/ [default: the task; "
                        "give another for a run of other learners, so that the task's tables are not replaced]")
    args = parser.parse_args()
    started = time.perf_counter()
    command = [sys.executable, "-m", "rewardrnn.cli", "experiment", "learners", "--tasks", args.tasks, "--learners",
               args.learners, "--seeds", str(args.seeds), "--trials", str(args.trials), "-o", str(args.out), "-q"]
    subprocess.run(command, check=True)
    wall = round(time.perf_counter() - started, 1)
    for task in args.tasks.split(","):
        keep = RESULTS / (args.keep or ("dnms-choice" if task == "dnms" else task))
        keep.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            if (args.out / name).is_file():
                shutil.copyfile(args.out / name, keep / name)
        (keep / "setup.json").write_text(json.dumps({
            "command": " ".join(command[2:]), "date": time.strftime("%Y-%m-%d"), "wall_s_this_call": wall,
            "cpus": os.cpu_count(), "note": "cells finished before this call were kept (their own wall_s is in "
                                            "results.csv)"}, indent=1))
        print(f"kept in {keep}")


if __name__ == "__main__":
    main()
