"""Benchmark of Miconi 2017's rule: DNMS trials to criterion over many seeds (S = cube, and
S = identity, which should fail), throughput of one network and of 20 vectorised seeds, and the
gradient-alignment experiment. Results accumulate in benchmarks/results/miconi.json; the page
docs/benchmarks-miconi.md is rewritten from them.

    python benchmarks/miconi.py throughput
    python benchmarks/miconi.py dnms --nonlinearity cube --seeds 20 --trials 6000
    python benchmarks/miconi.py alignment --episodes 1000
    python benchmarks/miconi.py report
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "miconi.json"
PAGE = ROOT / "docs" / "benchmarks-miconi.md"


def load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def save(results: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1))


def throughput() -> dict:
    import jax
    import numpy as np

    from rewardrnn.learners.perturbation import PerturbationLearner
    from rewardrnn.tasks.miconi import DNMS

    learner = PerturbationLearner(DNMS)
    rows = []
    for n_seeds in (1, 20):
        states = jax.vmap(learner.init)(jax.random.split(jax.random.PRNGKey(0), n_seeds))
        chunk = jax.jit(jax.vmap(lambda s: learner.train(s, 100)))  # the trainer's compiled chunk, without bookkeeping
        states, e = chunk(states)
        jax.block_until_ready(e)
        times = []
        for _ in range(3):
            t = time.perf_counter()
            states, e = chunk(states)
            jax.block_until_ready(e)
            times.append(time.perf_counter() - t)
        per = float(np.median(times))
        rows.append({"n_seeds": n_seeds, "trials_per_s": 100 * n_seeds / per, "ms_per_trial_per_seed": 1000 * per / (100 * n_seeds)})
        print(rows[-1], flush=True)
    return {"rows": rows, "date": time.strftime("%Y-%m-%d")}


def dnms(nonlinearity: str, seeds: int, trials: int, task: str, extra: list[str]) -> dict:
    out = ROOT / "runs" / "bench" / f"{task}-{nonlinearity}-{seeds}"
    cmd = [sys.executable, "-m", "rewardrnn.cli", "train", task, "--seeds", str(seeds), "--trials", str(trials),
           "--nonlinearity", nonlinearity, "--out", str(out), "--overwrite", "-q", *extra]
    subprocess.run(cmd, env=dict(os.environ, REWARDRNN_COMPILATION_CACHE="0"))  # 130 if interrupted
    return ingest(out)


def ingest(out: Path) -> dict:
    """Numbers of a run folder, finished or interrupted (from errors.npy and metrics.csv)."""
    import csv

    import numpy as np

    from rewardrnn.learners.perturbation import trials_to_criterion
    from rewardrnn.training.run_folder import RunFolder

    folder = RunFolder(out)
    config = folder.resolved
    errors = folder.trace()  # seeds x trials, NaN after a seed stopped at its criterion
    wall = float(list(csv.DictReader((out / "metrics.csv").open()))[-1]["wall_s"])
    reached = trials_to_criterion(np.nan_to_num(errors, nan=np.inf), folder.learner.task.error_threshold)
    hit = sorted(int(r) for r in reached if r > 0)
    last_100 = [np.nanmean(row[np.isfinite(row)][-100:]) for row in errors]
    return {"task": config.task, "nonlinearity": config.nonlinearity, "method": config.method,
            "seeds": len(reached), "trials_run": int(np.isfinite(errors).sum(1).max()), "reached": len(hit),
            "median": float(np.median(hit)) if hit else None,
            "iqr": [float(q) for q in np.percentile(hit, [25, 75])] if hit else None,
            "per_seed": [int(r) if r > 0 else None for r in reached],
            "median_error_last_100": float(np.median(last_100)),
            "wall_s": wall, "date": time.strftime("%Y-%m-%d")}


def alignment(episodes: int) -> dict:
    import jax

    from rewardrnn.experiments.gradient_alignment import run_episodes

    t = time.perf_counter()
    result = run_episodes(jax.random.PRNGKey(0), episodes)
    return {"episodes": episodes, "spearman": result["spearman_vs_node_perturbation"],
            "wall_s": time.perf_counter() - t, "date": time.strftime("%Y-%m-%d")}


def report(results: dict) -> str:
    lines = ["# Benchmarks: Miconi 2017's perturbation rule", "",
             "Written by `python benchmarks/miconi.py` from `benchmarks/results/miconi.json`, on the 2-core",
             "CPU of docs/benchmarks.md (float32). Criterion (spec §4.1): more than 95 of the last 100 trials",
             "with error < 1. Code constants (spec §3.6): eta = 0.1 x |Ebar|, clip 3e-4, A = 16, p = 0.003/ms,",
             "alpha_x = 0.05, alpha_R = 0.75, 100 warm-up trials, trial types cycled.", ""]
    runs = results.get("dnms", {})
    if runs:
        lines += ["## Trials to criterion", "",
                  "| task | S | seeds | trials run | reached | median (IQR) | median error, last 100 trials | wall s (all seeds) |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in runs.values():
            med = f"{r['median']:,.0f} ({r['iqr'][0]:,.0f}-{r['iqr'][1]:,.0f})" if r["median"] else "—"
            lines.append(f"| {r['task']} | {r['nonlinearity']} | {r['seeds']} | {r['trials_run']:,} | {r['reached']} | "
                         f"{med} | {r['median_error_last_100']:.3f} | {r['wall_s']:.0f} |")
        lines += ["", "Paper (20 runs): median 843 trials (IQR 692-1,125). The original C++ code measured on a",
                  "machine like this one (anchors.md, 11 seeds): median 1,399 (IQR 1,023-2,889), one seed never.",
                  "The paper: S = identity \"fails to produce learning\". Read from the original repository's figures",
                  "(spec §9): selective integration reaches error < 0.5 by about 3-5k trials (its error threshold",
                  "for the criterion is ours, 1); dnms-ei about 8,200 trials (IQR 4,400-16,000, criterion error",
                  "< 2.5) over 30k trials, residual error about 0.5.", ""]
        for r in runs.values():
            lines.append(f"- {r['task']}, S = {r['nonlinearity']}: trials to criterion per seed "
                         + ", ".join("never" if t is None else f"{t:,}" for t in r["per_seed"]) + ".")
        lines.append("")
    if "throughput" in results:
        lines += ["## Throughput (DNMS, 1,000-ms trials, compiled, steady state)", "",
                  "| seeds | trials/s (all seeds) | ms per trial per seed |", "|---|---|---|"]
        for r in results["throughput"]["rows"]:
            lines.append(f"| {r['n_seeds']} | {r['trials_per_s']:.0f} | {r['ms_per_trial_per_seed']:.1f} |")
        lines += ["", "The original C++/Eigen code on a machine like this one (anchors.md): 31 trials/s with its",
                  "README build, 65 with -O3 -march=native, node perturbation 140.", ""]
    if "alignment" in results:
        a = results["alignment"]
        lines += ["## Gradient alignment (paper Fig. 9)", "",
                  f"{a['episodes']} episodes (pairs of trials with and without one kick on the output neuron);",
                  "Spearman rank correlation of each Hebbian estimate with node perturbation's:", "",
                  "| S | Spearman ρ |", "|---|---|"]
        for name, rho in a["spearman"].items():
            lines.append(f"| {name} | {rho:+.3f} |")
        lines += ["", "The paper: x³ and x|x| follow node perturbation; identity and square root give",
                  "essentially random (or anti-correlated) estimates.", ""]
    lines += ["## Not reproduced here", "",
              "- The arm-reaching task needs OpenSim 3.3, which cannot be installed on this machine; it is",
              "  left out.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["throughput", "dnms", "alignment", "ingest", "report"])
    parser.add_argument("--nonlinearity", default="cube")
    parser.add_argument("--task", default="dnms")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=6000)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--run", type=Path, help="with ingest: a finished run folder")
    args, extra = parser.parse_known_args()
    results = load()
    if args.what == "throughput":
        results["throughput"] = throughput()
    elif args.what == "dnms":
        r = dnms(args.nonlinearity, args.seeds, args.trials, args.task, extra)
        results.setdefault("dnms", {})[f"{r['task']}/{r['nonlinearity']}"] = r
    elif args.what == "ingest":
        r = ingest(args.run)
        results.setdefault("dnms", {})[f"{r['task']}/{r['nonlinearity']}"] = r
    elif args.what == "alignment":
        results["alignment"] = alignment(args.episodes)
    save(results)
    PAGE.write_text(report(results))
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
