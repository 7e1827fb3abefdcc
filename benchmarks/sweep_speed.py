"""A sweep on Ray against the same points as separate ``rewardrnn train`` commands, in one run.

The points are ``examples/sweep.toml``'s (rdm-fixed, 4 learning rates x 4 seeds, 200 updates
each, patience off). Three arms, each with a fresh XLA compilation cache (so that no arm reuses
another's compiled programs; within an arm, points that share a program reuse it, as a user's
would):

* ``sequential``: the 16 ``rewardrnn train`` commands one after another;
* ``sweep``: ``rewardrnn sweep examples/sweep.toml`` (local Ray, one worker per core);
* ``sweep, 4 seeds per job``: the same with ``--seeds-per-job 4`` (each learning rate's 4 seeds
  vectorised in one job).

Per-point overhead: Ray's start (``ray.init`` and ``ray.shutdown`` with nothing to run), a fresh
process's ``import jax`` and ``import rewardrnn.training.run``, and per job the seconds outside
training (``job_wall_s - wall_s`` of results.csv: imports, set-up) and the training's own wall
(compilation included).

Run: ``python benchmarks/sweep_speed.py [--keep DIR]``. Writes benchmarks/results/sweep_speed.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "examples" / "sweep.toml"
RESULTS = ROOT / "benchmarks" / "results" / "sweep_speed.json"
CLI = [sys.executable, "-m", "rewardrnn.cli"]


def _points() -> list[dict]:
    import tomllib

    data = tomllib.loads(SWEEP.read_text())
    grid = data["grid"]
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def _run(args: list[str], cache: Path) -> float:
    env = {**os.environ, "REWARDRNN_COMPILATION_CACHE": str(cache)}
    started = time.perf_counter()
    subprocess.run(CLI + args, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def sequential(scratch: Path) -> float:
    import tomllib

    base = tomllib.loads(SWEEP.read_text())["base"]
    started = time.perf_counter()
    for point in _points():
        _run(["train", base["task"], "--max-updates", str(base["max_updates"]), "--checkfreq", str(base["checkfreq"]),
              "--patience", str(base["patience"]), "--lr", str(point["lr"]), "--seed", str(point["seed"]), "-q",
              "-o", str(scratch / "sequential" / f"lr{point['lr']}_seed{point['seed']}")], scratch / "cache-seq")
    return time.perf_counter() - started


def sweep(scratch: Path, name: str, extra: list[str]) -> tuple[float, dict]:
    out = scratch / name
    wall = _run(["sweep", str(SWEEP), "-o", str(out), "-q", *extra], scratch / f"cache-{name}")
    import pandas as pd

    table = pd.read_csv(out / "results.csv").drop_duplicates("folder")
    outside = (table["job_wall_s"] - table["wall_s"]).tolist()
    return wall, {"jobs": len(table), "job_wall_s_median": statistics.median(table["job_wall_s"]),
                  "training_wall_s_median": statistics.median(table["wall_s"]),
                  "outside_training_s_median": statistics.median(outside)}


def overheads() -> dict:
    code_ray = ("import time, ray; t = time.perf_counter(); ray.init(num_cpus=2, include_dashboard=False, "
                "log_to_driver=False); t1 = time.perf_counter(); ray.shutdown(); print(t1 - t, time.perf_counter() - t1)")
    out = subprocess.run([sys.executable, "-c", code_ray], capture_output=True, text=True, check=True).stdout.split()
    jax_import = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); import jax; "
                                 "print(time.perf_counter() - t)"], capture_output=True, text=True, check=True)
    run_import = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); "
                                 "import rewardrnn.training.run; print(time.perf_counter() - t)"],
                                capture_output=True, text=True, check=True)
    return {"ray_init_s": float(out[0]), "ray_shutdown_s": float(out[1]),
            "import_jax_s": float(jax_import.stdout.strip()), "import_rewardrnn_training_s": float(run_import.stdout)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", type=Path, default=None, help="keep the run folders here")
    args = parser.parse_args()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="sweep_speed_"))
    result = {"machine": f"{os.cpu_count()} cores", "points": len(_points()), "overheads": overheads()}
    result["sequential_s"] = sequential(scratch)
    result["sweep_s"], result["sweep_jobs"] = sweep(scratch, "sweep", [])
    result["sweep_4_seeds_per_job_s"], result["sweep_4_seeds_per_job_jobs"] = sweep(scratch, "sweep4",
                                                                                     ["--seeds-per-job", "4"])
    result["ratio_sweep"] = result["sweep_s"] / result["sequential_s"]
    result["ratio_sweep_4_seeds_per_job"] = result["sweep_4_seeds_per_job_s"] / result["sequential_s"]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
