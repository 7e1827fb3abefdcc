"""Training throughput of two versions of rewardrnn side by side, in one run (this machine is
shared and noisy: compare the ratios), for issue 17's targets:

* ``full-length``: ms per update of rdm-fixed from initialisation with every trial running to
  tmax (the fixation action's bias set to 30, so that no trial ends early: 276 steps), for
  seeds x trials per update 1x10 (the paper's), 1x40, 1x160, 4x10 and 16x10, compilation
  excluded (the issue's table);
* ``steady``: rdm-fixed after 200 updates of training (trials end when the network decides):
  training trials/s over two checkpoint chunks of 50 updates *with* their validations (the
  trainer's cycle), for 1 and 16 vectorised seeds, and the validation's ms per trial;
* ``evaluate``: ms per trial of ``rewardrnn evaluate``'s simulation (the behaviour table) at the
  same trained state;
* ``criterion``: rdm-fixed seeds 1-5 trained alone by the command line to the criterion: wall
  seconds with compilation (no compilation cache) and trials to criterion;
* ``dnms``: Miconi DNMS trials/s (one network; 20 seeds together), from the run's metrics.csv
  between its second and last validation.

Run: ``python benchmarks/throughput.py OLD_SRC NEW_SRC [--only NAME ...]`` (each a ``src`` folder
holding the ``rewardrnn`` package, e.g. a ``git worktree`` of the commit before a change).
Both run with the command line's device setup (one XLA CPU device per core). Writes
benchmarks/results/throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "throughput.json"
SHAPES = ((1, 10), (1, 40), (1, 160), (4, 10), (16, 10))


# ---- measurements, run inside a worker process of one version --------------------------------
def _time(fn, repeats: int = 3) -> float:
    import jax

    jax.block_until_ready(fn())  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def _steps(seeds: int, n_gradient: int | None = None, checkfreq: int = 50):
    import numpy as np

    from rewardrnn.training.config import TrainConfig
    from rewardrnn.training.trainer import CompiledSteps, initial_state

    config = TrainConfig(task="rdm-fixed", seed=1, n_seeds=seeds, n_gradient=n_gradient, checkfreq=checkfreq).resolved()
    learner, plan = config.build_learner(), config.plan()
    return learner, plan, CompiledSteps(learner, plan), initial_state(learner, plan.seeds).learner, np.ones(seeds, bool)


def full_length() -> dict:
    out = {}
    for seeds, n_gradient in SHAPES:
        learner, plan, steps, state, active = _steps(seeds, n_gradient, checkfreq=10)
        fixate = learner.env.protocol.fixate_action
        state = state._replace(policy={**state.policy, "b_out": state.policy["b_out"].at[:, fixate].set(30.0)})
        seconds = _time(lambda: steps.chunk(state, active)[0]) / plan.checkfreq
        out[f"{seeds}x{n_gradient}"] = {"ms_per_update": 1000 * seconds, "trials_per_s": seeds * n_gradient / seconds}
    return out


def steady() -> dict:
    import jax

    from rewardrnn.records.behaviour import behaviour_table

    out = {}
    for seeds in (1, 16):
        learner, plan, steps, state, active = _steps(seeds)
        for _ in range(4):
            state = steps.chunk(state, active)[0]
        chunk = _time(lambda: steps.chunk(state, active)[0], repeats=2)
        validation = _time(lambda: steps.validate(state, active), repeats=2)
        trials = seeds * plan.checkfreq * learner.trials_per_update
        out[f"{seeds} seed(s)"] = {"chunk_s": chunk, "validation_s": validation,
                                   "training_trials_per_s": trials / (chunk + validation),
                                   "validation_ms_per_trial": 1000 * validation / (seeds * plan.n_validation)}
        if seeds == 1:
            one = jax.tree_util.tree_map(lambda a: a[0], state)
            simulate = lambda: behaviour_table(learner, one.policy, one.policy_masks, jax.random.PRNGKey(1), 100)  # noqa: E731
            simulate()
            start = time.perf_counter()
            table = simulate()
            out["evaluate_ms_per_trial"] = 1000 * (time.perf_counter() - start) / len(table)
    return out


WORKERS = {"full-length": full_length, "steady": steady}


# ---- the driver ----------------------------------------------------------------------------------
def worker(src: str, name: str) -> dict:
    env = dict(os.environ, PYTHONPATH=src, REWARDRNN_COMPILATION_CACHE="0",
               XLA_FLAGS=f"--xla_force_host_platform_device_count={len(os.sched_getaffinity(0))}")
    done = subprocess.run([sys.executable, __file__, "--worker", name], env=env, check=True, capture_output=True,
                          text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli_run(src: str, args: list[str]) -> Path:
    tmp = Path(tempfile.mkdtemp()) / "run"
    env = dict(os.environ, PYTHONPATH=src, REWARDRNN_COMPILATION_CACHE="0")
    subprocess.run([sys.executable, "-m", "rewardrnn.cli", *args, "--out", str(tmp), "-q"], env=env, check=True,
                   capture_output=True)
    return tmp


def criterion(src: str) -> dict:
    seeds = {}
    for seed in range(1, 6):
        start = time.perf_counter()
        run = cli_run(src, ["train", "rdm-fixed", "--seed", str(seed)])
        summary = json.loads((run / "summary.json").read_text())
        seeds[seed] = {"command_wall_s": time.perf_counter() - start, "training_wall_s": summary["wall_s"],
                       "trials_to_criterion": summary["seeds"][0]["trials_to_criterion"]}
    return {"seeds": seeds, "median_command_wall_s": statistics.median(s["command_wall_s"] for s in seeds.values()),
            "median_training_wall_s": statistics.median(s["training_wall_s"] for s in seeds.values())}


def dnms(src: str) -> dict:
    import pandas as pd

    out = {}
    for label, extra in (("1 network", []), ("20 seeds", ["--seeds", "20"])):
        run = cli_run(src, ["train", "dnms", "--trials", "1500", *extra])
        metrics = pd.read_csv(run / "metrics.csv")
        rows = metrics.groupby("updates").agg(trials=("trials", "sum"), wall=("wall_s", "max")).reset_index()
        first, last = rows.iloc[1], rows.iloc[-1]
        # trials summed over the seeds still training between the two validations
        done = metrics[metrics["updates"] > first["updates"]].groupby("seed")["trials"].max() - \
            metrics[metrics["updates"] == first["updates"]].set_index("seed")["trials"]
        out[label] = {"trials_per_s": float(done.clip(lower=0).sum() / (last["wall"] - first["wall"]))}
    return out


DRIVERS = {"criterion": criterion, "dnms": dnms}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("old", nargs="?")
    parser.add_argument("new", nargs="?")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker]()))
        return
    names = args.only or [*WORKERS, *DRIVERS]
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() and args.only else {}
    for name in names:
        for label, src in (("old", args.old), ("new", args.new)):  # interleaved: the same load for both
            value = worker(src, name) if name in WORKERS else DRIVERS[name](src)
            results.setdefault(name, {})[label] = value
            print(name, label, json.dumps(value), flush=True)
    import jax

    results["machine"] = f"{os.cpu_count()}-core CPU, JAX {jax.__version__}, float32"
    results["date"] = time.strftime("%Y-%m-%d %H:%M")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
