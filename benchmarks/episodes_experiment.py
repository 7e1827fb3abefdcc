"""Episodes of trials (issue 35): the three episodic tasks trained to their criteria over 10
seeds, their behaviour analysed on held-out episodes, and the throughput of an episode of K
trials against K one-trial updates.

Not a test: ``train`` takes about 2 minutes at the default rho = 1 and 11 at Song's rho = 2 on a
2-core CPU. Results go to
benchmarks/results/episodes/ (per task: the summary JSON, each seed's best parameters, the
analyses JSON and figures); docs/episodes.md quotes them.

    python benchmarks/episodes_experiment.py train [--tasks bandit reversal two-step] [--seeds 10] [--rho 1]
    python benchmarks/episodes_experiment.py analyse [--tasks ...] [--episodes 500] [--rho 1]
    python benchmarks/episodes_experiment.py throughput
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import jax
import numpy as np

from rewardrnn.learners import episodic
from rewardrnn.tasks import episodes
from rewardrnn.training import checkpoint
from rewardrnn.training.trainer import Trainer, TrainerPlan

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "episodes"
TASKS = ("bandit", "reversal", "two-step")
#: Updates between validations and the budget per seed (updates of 20 episodes).
CHECKFREQ, MAX_UPDATES = 50, 3000


def stem(name: str, rho: float) -> str:
    """Where the results of task ``name`` trained at initial spectral radius ``rho`` go."""
    return f"{name}-rho{rho:g}"


def train(name: str, seeds: tuple[int, ...], rho: float) -> dict:
    """Train ``seeds`` (vmapped) on task ``name`` to its criterion, both networks initialised at
    spectral radius ``rho``; write its summary and each seed's best parameters under
    :func:`stem`."""
    task = episodes.get_episode_task(name)
    learner = episodic.build(task, rho=rho)
    where = stem(name, rho)
    trainer = Trainer(learner, TrainerPlan(seeds=seeds, checkfreq=CHECKFREQ, max_updates=MAX_UPDATES,
                                           n_validation=task.n_validation))
    start = time.perf_counter()
    wall = lambda: time.perf_counter() - start  # noqa: E731
    history: list[dict] = []

    def show(rows):
        line = " ".join(f"{r['seed']}:{r['p_better']:.2f}" for r in rows)
        print(f"{name} {rows[0]['updates']:5d} updates {wall():6.0f} s  p_better {line}", flush=True)

    state, trace = trainer.run(trainer.initial_state(), history, np.zeros((len(seeds), 0), np.float32),
                               save=lambda *a: None, show=show, wall=wall)
    summary = trainer.summary(state, wall(), trace)
    summary.update(task=name, rho=rho, task_summary=task.summary, reference=task.reference, learner=learner.describe(),
                   trials_per_update=learner.trials_per_update, checkfreq=CHECKFREQ, max_updates=MAX_UPDATES,
                   skipped_updates=[int(s) for s in np.asarray(state.learner.skipped)],
                   machine=platform.processor() or platform.machine(), jax=jax.__version__)
    OUT.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds):
        best = jax.tree_util.tree_map(lambda a, i=i: np.asarray(a[i]), state.best)
        checkpoint.save(OUT / f"{where}-seed{seed}.npz", best, {"task": name, "seed": seed})
    (OUT / f"{where}.json").write_text(json.dumps({"summary": summary, "history": history}, indent=1, default=float))
    return summary


def load_best(name: str, seed: int, rho: float):
    """Task, learner and the best parameters of seed ``seed`` trained on ``name`` at ``rho``."""
    task = episodes.get_episode_task(name)
    learner = episodic.build(task)
    template = learner.best_params(learner.init(jax.random.PRNGKey(seed)))
    best, _ = checkpoint.load(OUT / f"{stem(name, rho)}-seed{seed}.npz", template)
    return task, learner, best


def throughput(repeats: int = 5) -> dict:
    """Trials/s of training on episodes of K = 100 trials (20 episodes per update) against K
    updates on one-trial episodes of the same task (20 per update), compiled, steady state."""
    out = {}
    for name, k in (("bandit", 100), ("two-step", 100)):
        rates = {}
        for label, n_trials, length in (("episode", k, 1), ("one-trial", 1, k)):
            task = episodes.get_episode_task(name, n_trials=n_trials)
            learner = episodic.build(task)
            state = learner.init(jax.random.PRNGKey(0))
            run = jax.jit(lambda s, learner=learner, length=length: jax.lax.scan(
                lambda s, _: learner.update(s), s, None, length=length))
            jax.block_until_ready(run(state))
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                jax.block_until_ready(run(state))
                times.append(time.perf_counter() - t)
            trials = length * learner.trials_per_update
            rates[label] = {"trials": trials, "median_s": statistics.median(times),
                            "trials_per_s": trials / statistics.median(times)}
        rates["ratio_episode_over_one_trial"] = rates["episode"]["trials_per_s"] / rates["one-trial"]["trials_per_s"]
        out[name] = rates
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("train", "analyse", "throughput"))
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--rho", type=float, default=1.0,
                        help="initial spectral radius of both networks (default 1.0, the learner's; Song's: 2); "
                             "results under <task>-rho<rho>")
    parser.add_argument("--episodes", type=int, default=500, help="held-out episodes per seed for the analyses")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.what == "train":
        for name in args.tasks:
            s = train(name, tuple(range(1, args.seeds + 1)), args.rho)
            print(json.dumps({k: v for k, v in s.items() if k != "seeds"}, indent=1), flush=True)
    elif args.what == "throughput":
        result = throughput()
        result.update(machine=platform.processor() or platform.machine(), jax=jax.__version__)
        (OUT / "throughput.json").write_text(json.dumps(result, indent=1))
        print(json.dumps(result, indent=1))
    else:
        from episodes_analyses import analyse_all  # noqa: PLC0415 (the analysis half, beside this file)

        analyse_all(args.tasks, args.seeds, args.episodes, args.rho)


if __name__ == "__main__":
    main()
