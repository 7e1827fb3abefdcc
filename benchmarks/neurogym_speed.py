"""Speed of the NeuroGym training path against the native path (docs/interop.md).

Same learner, same network (N = 100), 20 trials per update, dt = 10 ms, steady state (compiled,
after warm-up): NeuroGym PerceptualDecisionMaking-v0 (100 + 2000 + 100 ms trials; numpy
environments stepped in Python, the network step compiled) against native rdm-fixed
(750 + 80-1500 + 500 ms trials; everything compiled) with the trained network of a run folder
(its trials run until the decision), and NeuroGym at its default dt = 100 ms. The NeuroGym
network is untrained: PerceptualDecisionMaking does not end a trial on a fixation break, so its
trials always run their full 2.2 s. Needs the neurogym extra.
Run: `python benchmarks/neurogym_speed.py [RUN of rdm-fixed]`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import numpy as np

from rewardrnn.training import NeuroGymTrainConfig, TrainConfig
from rewardrnn.training.run_folder import RunFolder

UPDATES = 30


def neurogym(dt: float | None) -> dict:
    """Steady-state updates of the host-stepped actor-critic (simulation and compiled update
    timed separately through its parts)."""
    from rewardrnn.keys import ENV_TRAIN, HOST_BATCH_STREAM, fold
    from rewardrnn.learners.actor_critic_host import _bucket, _padded

    config = NeuroGymTrainConfig(dt_ms=dt, n_gradient=20)
    learner = config.build_learner()
    state = learner.init(jax.random.PRNGKey(1))
    sim_s = upd_s = 0.0
    steps = 0
    for i in range(UPDATES + 5):
        key = fold(jax.random.PRNGKey(1), HOST_BATCH_STREAM, i)
        t0 = time.perf_counter()
        batch = learner.simulate(state.policy, state.policy_masks, key, 1, ENV_TRAIN, i, 20).batch
        t1 = time.perf_counter()
        padded = _padded({"inputs": batch.inputs, "actions": batch.actions, "reward": batch.reward,
                          "mask": batch.mask}, _bucket(batch.actions.shape[0]))
        state, _ = learner._update(state, key, *(padded[k] for k in ("inputs", "actions", "reward", "mask")))
        jax.block_until_ready(state.policy)
        t2 = time.perf_counter()
        if i >= 5:
            sim_s, upd_s, steps = sim_s + t1 - t0, upd_s + t2 - t1, steps + batch.mask.sum()
    trials = 20 * UPDATES
    return {"path": f"NeuroGym PerceptualDecisionMaking-v0, dt {learner.env.dt_ms:g} ms",
            "trials_per_s": round(trials / (sim_s + upd_s), 1), "simulation_share": round(sim_s / (sim_s + upd_s), 3),
            "mean_steps_per_trial": round(float(steps) / trials, 1), "us_per_env_step": round(1e6 * sim_s / float(steps), 1)}


def native(run: str | None) -> dict:
    """Native rdm-fixed updates from the trained network of ``run`` (an untrained one breaks
    fixation at once, and its trials end at the first step), else from initialisation."""
    config = TrainConfig(task="rdm-fixed", n_gradient=20).resolved()
    learner = config.build_learner()
    state = learner.init(jax.random.PRNGKey(1))
    if run is not None:
        state = jax.tree_util.tree_map(lambda a: jax.numpy.asarray(a[0]), RunFolder(run).state.learner)
    update = jax.jit(learner.update)
    for _ in range(5):
        state, metrics = update(state)
    jax.block_until_ready(state.policy)
    t0 = time.perf_counter()
    for _ in range(UPDATES):
        state, metrics = update(state)
    jax.block_until_ready(state.policy)
    elapsed = time.perf_counter() - t0
    return {"path": f"native rdm-fixed, dt 10 ms, {'trained' if run else 'untrained'} network",
            "trials_per_s": round(20 * UPDATES / elapsed, 1)}


if __name__ == "__main__":
    import sys
    results = [native(sys.argv[1] if len(sys.argv) > 1 else None), neurogym(10.0), neurogym(None)]
    for row in results:
        print(row)
    out = Path(__file__).parent / "results" / "neurogym_speed.json"
    out.write_text(json.dumps({"untrained network, steady state, 2-core CPU": results,
                               "numpy": np.__version__, "jax": jax.__version__}, indent=1))
