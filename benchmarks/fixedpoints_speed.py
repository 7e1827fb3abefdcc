"""Speed of the fixed-point search on a trained rdm-fixed network (issue target: 4,096 candidates
under the task's 11 constant inputs, found, de-duplicated and linearised in < 20 s on a 2-core
CPU, compilation included).

Run: ``python benchmarks/fixedpoints_speed.py [--run RUN] [--candidates 4096 ...]``. Without
``--run`` it trains rdm-fixed seed 2 (N = 100, to the paper's criterion) and records it in a
scratch folder first. Each candidate count runs in a fresh process, so every time includes
compilation; the stages are timed inside :func:`rewardrnn.analysis.fixedpoints.find` by the
``stage_s`` attribute. Results: ``benchmarks/results/fixedpoints_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "fixedpoints_speed.json"

ONE = """
import json, sys, time
t0 = time.perf_counter()
from rewardrnn import verbs
summary, path = verbs.fixedpoints(sys.argv[1], candidates=int(sys.argv[2]))
import xarray as xr
with xr.open_dataset(path) as ds:
    stages = json.loads(ds.attrs["stage_s"])
    q = ds["q"].values
print(json.dumps({"candidates": int(sys.argv[2]), "wall_s": round(time.perf_counter() - t0, 2),
                  "search_s": summary["wall_s"], "stages_s": stages, "points": summary["points"],
                  "tiers": summary["tiers"], "by_stability": summary["by_stability"],
                  "median_q": float(__import__("numpy").median(q))}))
"""


def recorded_rdm_fixed(run: str | None) -> str:
    """``run``, or a fresh one: rdm-fixed seed 2 trained to the paper's criterion and recorded."""
    if run is None:
        run = str(Path(tempfile.mkdtemp()) / "rdm-fixed")
        for cmd in (["train", "rdm-fixed", "--seed", "2", "-q", "-o", run], ["record", run]):
            subprocess.run([sys.executable, "-m", "rewardrnn.cli", *cmd], check=True)
    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run")
    parser.add_argument("--candidates", nargs="*", type=int, default=[1024, 4096])
    args = parser.parse_args()
    run = recorded_rdm_fixed(args.run)
    rows = []
    for n in args.candidates:
        out = subprocess.run([sys.executable, "-c", ONE, run, str(n)], check=True, capture_output=True, text=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"run": run, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
