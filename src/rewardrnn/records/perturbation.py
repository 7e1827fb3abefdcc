"""Records of networks trained with Miconi's rule (spec miconi2017.md §5): test trials of a
trained network with the perturbations on, as in the paper ("also on during testing and
decoding"), no learning.

The activity dataset has the layout of the actor-critic's (:mod:`rewardrnn.records.activity`):
``rates`` (trial, time, unit), ``inputs`` (trial, time, input), ``output`` (trial, time), sampled
every ``sample_ms`` (10 ms, at the last millisecond of each bin: 9, 19, ..., 999 ms, so that
Miconi's MDS times 199/599/799/999 ms are samples), and the trial table (type, target, error,
biases) as trial coordinates.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import xarray as xr

from rewardrnn.keys import MANIPULATION_NOISE_STREAM
from rewardrnn.learners.perturbation import PerturbationLearner
from rewardrnn.manipulation import rate as manipulated
from rewardrnn.networks import rate
from rewardrnn.records import write_dataset
from rewardrnn.tasks.miconi import selective_integration_inputs

#: Biases of selective-integration test trials (spec §5: -0.5..0.5 in steps of 0.1).
TEST_BIASES = tuple(np.round(np.arange(-5, 6) / 10, 1))


def _conditions(learner: PerturbationLearner, trials_per_condition: int) -> pd.DataFrame:
    task = learner.task
    if task.name == "selective-integration":
        grid = [(c, b1, b2) for c in (0, 1) for b1 in TEST_BIASES for b2 in TEST_BIASES]
        rows = pd.DataFrame(grid * trials_per_condition, columns=["attend_2", "bias_1", "bias_2"])
        relevant = np.where(rows["attend_2"] == 0, rows["bias_1"], rows["bias_2"])
        rows["context"] = np.where(rows["attend_2"] == 0, "attend 1", "attend 2")
        rows["relevant_bias"] = relevant
        rows["irrelevant_bias"] = np.where(rows["attend_2"] == 0, rows["bias_2"], rows["bias_1"])
        rows["target"] = np.sign(relevant)  # 0 when the relevant bias is 0
        return rows
    types = np.tile(np.arange(task.n_types), trials_per_condition)
    return pd.DataFrame({"trial_type_index": types, "trial_type": np.asarray(task.trial_types)[types],
                         "target": np.asarray(task.targets)[types]})


def record(learner: PerturbationLearner, params: rate.Params, key: jax.Array, trials_per_condition: int,
           path: Path | str | None, sample_ms: int = 10, manipulation=None) -> pd.DataFrame:
    """Simulate test trials (perturbations on, no learning), write the activity dataset to
    ``path`` (nothing when None: a behaviour-only run) and return the trial table (with
    ``error``, ``correct`` = error below the task's threshold, and ``final_output``). DNMS tasks:
    ``trials_per_condition`` trials of each type (the paper decoded 20 per condition); selective
    integration: of each (context, bias 1, bias 2) in the test grid. With ``manipulation``
    (:class:`rewardrnn.manipulation.applied.Applied`, its ``during`` over the task's
    ``epoch_names``), the manipulated network on the very same trials and kicks."""
    task, net = learner.task, learner.network
    table = _conditions(learner, trials_per_condition)
    n = len(table)
    keys = jax.random.split(key, n)

    def one(key, row):
        k_in, k_kick, k_x0 = jax.random.split(key, 3)
        if task.name == "selective-integration":
            inputs = selective_integration_inputs(k_in, row[0], row[1], row[2])
        else:
            inputs = task.inputs(k_in, row[0].astype(jnp.int32))
        x0 = rate.initial_state(k_x0, net)
        kicks = learner.kicks(k_kick)
        if manipulation is None:
            _, r, _, _ = learner.run(params, jnp.zeros(net.n_units, jnp.float32), x0, inputs, kicks)
        else:
            r = _run_manipulated(learner, params, manipulation, x0, inputs, kicks,
                                 jax.random.fold_in(k_kick, MANIPULATION_NOISE_STREAM))
        return inputs, r

    if task.name == "selective-integration":
        rows = table[["attend_2", "bias_1", "bias_2"]].to_numpy(np.float32)
    else:
        rows = table[["trial_type_index"]].to_numpy(np.float32)
    inputs, r = jax.jit(jax.vmap(one))(keys, jnp.asarray(rows))
    inputs, r = np.asarray(inputs), np.asarray(r)
    output = r[:, :, net.output_unit]
    mask = np.asarray(task.response_mask())
    target = table["target"].to_numpy(float)
    table["error"] = np.sum(np.abs(output - target[:, None]) * mask, axis=1) / mask.sum()
    table["correct"] = table["error"] < task.error_threshold
    table["final_output"] = output[:, -1]
    table["response_output"] = np.sum(output * mask, axis=1) / mask.sum()
    if path is None:
        return table
    sampled = np.arange(sample_ms - 1, task.n_steps, sample_ms)
    coords = {"trial": np.arange(n), "time": ("time", sampled.astype(float), {"units": "ms"}),
              "unit": np.arange(net.n_units), "input": [f"input {i}" for i in range(task.n_inputs)]}
    coords.update({c: ("trial", table[c].to_numpy()) for c in table.columns})
    ds = xr.Dataset({"rates": (("trial", "time", "unit"), r[:, sampled].astype(np.float32)),
                     "inputs": (("trial", "time", "input"), inputs[:, sampled].astype(np.float32)),
                     "output": (("trial", "time"), output[:, sampled].astype(np.float32))},
                    coords=coords, attrs={"task": task.name, "dt_ms": float(sample_ms), "learner": "perturbation"})
    write_dataset(ds, path)
    return table


def _run_manipulated(learner: PerturbationLearner, params: rate.Params, applied, x0: jax.Array, inputs: jax.Array,
                     kicks: jax.Array, key: jax.Array) -> jax.Array:
    """The rates (T, N) after each step of one trial run under ``applied``
    (:mod:`rewardrnn.manipulation.rate`; the rates read, silenced units at 0 where it acts),
    as :meth:`PerturbationLearner.run` runs the intact network."""
    net = learner.network
    cut = manipulated.cut_params(applied, params)
    drive = rate.external_drive(params, inputs, kicks)
    cut_drive = None if cut is None else rate.external_drive(cut, inputs, kicks)
    flags = learner.task.epoch_flags()

    def body(x, t):
        on = applied.on(flags[t])
        q_extra = jax.random.normal(jax.random.fold_in(key, t), x.shape) if applied.noisy else None
        x = manipulated.step(applied, on, params, cut, net, x, drive[t], None if cut is None else cut_drive[t],
                             q_extra, learner.a)
        return x, manipulated.read_rates(applied, on, rate.rates(x, net))

    return jax.lax.scan(body, x0, jnp.arange(inputs.shape[0]))[1]
