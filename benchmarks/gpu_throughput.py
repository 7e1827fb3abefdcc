"""Many seeds on one GPU (issue 17): rdm-fixed with 1,000 vectorised seeds trained to the
criterion (training trials/s, wall seconds until every seed has stopped, seeds at criterion,
median trials to criterion) and Miconi's DNMS with 1,000 seeds (trials/s), each a normal run
folder trained through the public API.

Run on a machine with a GPU and ``jax[cuda]``: ``python benchmarks/gpu_throughput.py [--seeds
1000] [--dnms-trials 1000]``. Without a GPU it says so and exits with status 3 (nothing is
measured: the numbers would be a CPU's). Writes benchmarks/results/gpu_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "gpu_throughput.json"


def measure(task: str, seeds: int, **options) -> dict:
    import rewardrnn

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = rewardrnn.train(task, Path(tmp) / "run", n_seeds=seeds, progress=False, **options)
        wall = time.perf_counter() - start
    summary = result.summary
    reached = [s["trials_to_criterion"] for s in summary["seeds"] if s["reached_criterion"]]
    return {"seeds": seeds, "command_wall_s": round(wall, 1), "training_wall_s": summary["wall_s"],
            "seeds_reached": summary["seeds_reached"],
            "median_trials_to_criterion": statistics.median(reached) if reached else None,
            "trials_per_s_all_seeds": summary["trials_per_s_all_seeds"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--dnms-trials", type=int, default=1000)
    parser.add_argument("--max-updates", type=int, default=2000, help="rdm-fixed budget per seed (updates)")
    args = parser.parse_args()
    import jax

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if not gpus:
        print(f"no GPU visible to JAX (devices: {jax.devices()}); nothing measured", file=sys.stderr)
        return 3
    results = {"device": str(gpus[0].device_kind), "jax": jax.__version__, "date": time.strftime("%Y-%m-%d %H:%M")}
    results["rdm-fixed"] = measure("rdm-fixed", args.seeds, max_updates=args.max_updates)
    print("rdm-fixed", results["rdm-fixed"], flush=True)
    results["dnms"] = measure("dnms", args.seeds, n_trials=args.dnms_trials)
    print("dnms", results["dnms"], flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
