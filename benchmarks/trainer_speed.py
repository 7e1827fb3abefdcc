"""Training speed of two versions of rewardrnn side by side, in one run (this machine is shared
and noisy: compare the ratios): rdm-fixed training trials/s (one seed) and Miconi DNMS trials/s
(one network, N = 200), each measured from the run's own metrics.csv between its second and last
validation (steady state: compilation excluded), the versions interleaved, ``--repeats`` times.

Run: ``python benchmarks/trainer_speed.py OLD_SRC NEW_SRC`` (each a ``src`` folder holding the
``rewardrnn`` package, e.g. a ``git worktree`` of the commit before a change). Writes
benchmarks/results/trainer_speed.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "trainer_speed.json"
JOBS = {
    "rdm-fixed trials/s": ["train", "rdm-fixed", "--seed", "2", "--max-updates", "400", "-q"],
    "DNMS trials/s": ["train", "dnms", "--trials", "1500", "-q"],
}


def measure(src: str, args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        env = dict(os.environ, PYTHONPATH=src, REWARDRNN_COMPILATION_CACHE="0")
        subprocess.run([sys.executable, "-m", "rewardrnn.cli", *args, "--out", str(out)], env=env, check=True,
                       capture_output=True)
        metrics = pd.read_csv(out / "metrics.csv")
        first, last = metrics.iloc[1], metrics.iloc[-1]
        return float((last["trials"] - first["trials"]) / (last["wall_s"] - first["wall_s"]))


def main() -> None:
    old, new = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    rows: dict[str, dict[str, list[float]]] = {job: {"old": [], "new": []} for job in JOBS}
    for _ in range(repeats):
        for job, args in JOBS.items():
            for name, src in (("old", old), ("new", new)):
                rows[job][name].append(measure(src, args))
                print(job, name, round(rows[job][name][-1], 1), flush=True)
    summary = {job: {"old_median": round(statistics.median(v["old"]), 1), "new_median": round(statistics.median(v["new"]), 1),
                     "new_over_old": round(statistics.median(v["new"]) / statistics.median(v["old"]), 3),
                     "old": [round(x, 1) for x in v["old"]], "new": [round(x, 1) for x in v["new"]]}
               for job, v in rows.items()}
    summary["date"] = time.strftime("%Y-%m-%d %H:%M")
    summary["machine"] = f"{os.cpu_count()}-core CPU, JAX {__import__('jax').__version__}"
    RESULTS.write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
