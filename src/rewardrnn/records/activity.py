"""Activity records of the actor-critic: a trained model run over the condition grid, saved as a
behaviour table and an xarray activity dataset (NetCDF, written batch by batch).

The dataset (``open_activity``) has dims ``trial`` x ``time`` x ``unit`` / ``value_unit`` /
``input`` / ``action``; ``time`` is in ms from trial start (step ``k`` at ``k * dt``). Variables:

* ``inputs`` (trial, time, input): the input the network had received by step ``k`` (pyrl's
  ``U`` shifted by one: zero at ``k = 0``, spec §1.3);
* ``action_prob`` (trial, time, action): the policy ``softmax(W_out r_k + b_out)``;
* ``action_taken`` (trial, time): the sampled action index, -1 after the trial's end;
* ``rates`` (trial, time, unit): decision-network rates ``[x_k]+``;
* ``value_rates`` (trial, time, value_unit): value-network rates (gated baseline only);
* ``value`` (trial, time): the value network's prediction V_k of the return to go;
* ``step_reward`` (trial, time): R[k], discounted;
* ``valid`` (trial, time): the steps that were executed (up to and including the trial's last).

Float variables are NaN where ``valid`` is false, so xarray's reductions (``skipna``) average
over executed steps only, as pyrl's PSTHs do (spec §6.2). Every behaviour-table column is a
``trial`` coordinate. The network is simulated one batch of trials at a time (float32); the
compressed NetCDF file is built in memory and written in one atomic write, because HDF5 does not
survive a disk that fills mid-write (10,000 trials of rdm-fixed, 276 steps, 100 + 100 units, are
at most ~2 GB before compression; a record that would need more than half the available memory,
or more than the free disk, is refused up front). Unwritten (post-trial) chunks take no space.
"""

from __future__ import annotations

import io
from pathlib import Path

import h5netcdf
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import xarray as xr

from rewardrnn.records.behaviour import behaviour_columns, condition_cycle, per_trial_outcomes
from rewardrnn.learners.actor_critic import ActorCritic
from rewardrnn.networks import gru
from rewardrnn.records import ACTIVITY  # noqa: F401  (re-exported)
from rewardrnn.resources import check_fits
from rewardrnn.safe_files import atomic_write_bytes, check_free_space

#: Largest number of float32 values of one recorded batch (all arrays): about 400 MB.
MAX_BATCH_ELEMENTS = 100_000_000



def record(learner: ActorCritic, params, key: jax.Array, trials_per_condition: int, path: Path | str,
           batch_size: int = 500) -> pd.DataFrame:
    """Simulate ``trials_per_condition`` trials of every condition (cycled through the grid, spec
    §6.1; stochastic policy, noise on) with ``params = (policy, policy_masks, value,
    value_masks)`` of one seed, write the activity dataset to ``path`` and return the behaviour
    table (the same trials, row for row)."""
    env = learner.env
    conditions = condition_cycle(env, trials_per_condition)
    n_total, n_steps = len(conditions), env.n_steps
    n_units, n_value = learner.policy_config.n_units, _value_units(learner)
    per_trial = n_steps * (5 * n_units + n_value + env.n_inputs + env.n_actions + 4)  # trace: 4 x N
    batch_size = max(1, min(batch_size, n_total, MAX_BATCH_ELEMENTS // per_trial))

    @jax.jit  # the weights are arguments: one compiled program for every network of a task
    def simulate(params, key, condition):
        policy, masks, value, value_masks = params
        batch = learner.draw_batch(key, condition.shape[0], condition)
        trials, inputs = batch.trials, batch.inputs
        actions, trace = learner.simulate(policy, masks, batch, record=True)
        out = env.outcomes(trials, actions)
        states = trace.xs  # computed until the last trial of the batch ended (later steps are masked)
        value_states, v = learner.values(value, value_masks, batch.value_keys, states, actions)
        shown = jnp.concatenate([jnp.zeros_like(inputs[:1]), inputs[:-1]])  # input received by step k
        activity = {"inputs": shown, "action_prob": jax.nn.softmax(gru.readout(policy, states)),
                    "rates": jax.nn.relu(states), "value": v, "step_reward": out.reward}
        if n_value:
            activity["value_rates"] = jax.nn.relu(value_states)
        valid = out.mask > 0
        activity = {k: jnp.where(valid.reshape(valid.shape + (1,) * (a.ndim - 2)), a, jnp.nan)
                    for k, a in activity.items()}
        activity["action_taken"] = jnp.where(valid, actions, -1)
        activity["valid"] = valid
        return trials, out, {k: jnp.swapaxes(a, 0, 1) for k, a in activity.items()}  # trial-major

    path = Path(path)
    # at most this many bytes (float32, before compression): built in memory, then written in one
    # go, so that a disk that fills up is one clean error (HDF5 does not survive one mid-write)
    size = n_total * n_steps * (n_units + n_value + env.n_inputs + env.n_actions + 4) * 4
    check_fits(size, "the activity records", "record fewer --trials-per-condition")
    check_free_space(path.parent, size, "the activity records (fewer --trials-per-condition need less)")
    image = io.BytesIO()
    parts = []
    with h5netcdf.File(image, "w") as f:
        variables = _create_variables(f, learner, n_total, batch_size)
        for i, start in enumerate(range(0, n_total, batch_size)):
            cond = conditions[start:start + batch_size]
            padded = np.resize(cond, batch_size)  # one compiled shape for every batch
            trials, out, activity = simulate(params, jax.random.fold_in(key, i), jnp.asarray(padded))
            stop = start + len(cond)
            last = int(np.asarray(out.end_step)[:len(cond)].max()) + 1  # later steps stay unwritten
            for name, var in variables.items():
                var[start:stop, :last] = np.asarray(activity[name][:len(cond), :last])
            kept = (trials, per_trial_outcomes(out))
            parts.append(jax.tree_util.tree_map(lambda a: np.asarray(a)[:len(cond)], kept))
    trials, out = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *parts)
    table = behaviour_columns(env, trials, out)
    _add_coordinates(image, learner, table)
    atomic_write_bytes(path, lambda f: f.write(image.getbuffer()))  # a partial file never has the final name
    return table


def _value_units(learner: ActorCritic) -> int:
    return learner.value_config.n_units if learner.value_net is gru else 0


def _create_variables(f: h5netcdf.File, learner: ActorCritic, n_total: int, batch_size: int) -> dict:
    env = learner.env
    dims = {"trial": n_total, "time": env.n_steps, "unit": learner.policy_config.n_units,
            "input": env.n_inputs, "action": env.n_actions}
    if _value_units(learner):  # the linear baseline has no units
        dims["value_unit"] = _value_units(learner)
    f.dimensions = dims
    chunk_trials = min(batch_size, n_total, 64)
    chunk_time = min(env.n_steps, 50)
    specs = {
        "inputs": (("input",), "f4", "input received by step k (U[k-1]); 0 at k = 0"),
        "action_prob": (("action",), "f4", "policy pi(a | r_k) = softmax(W_out r_k + b_out)"),
        "rates": (("unit",), "f4", "decision-network rates [x_k]+ (dimensionless)"),
        "value": ((), "f4", "value-network prediction V_k of the return to go"),
        "step_reward": ((), "f4", "reward R[k] (discounted)"),
        "action_taken": ((), "i1", "sampled action index; -1 after the trial's end"),
        "valid": ((), "i1", "1 for executed steps (up to and including the trial's last)"),
    }
    if _value_units(learner):
        specs["value_rates"] = (("value_unit",), "f4", "value-network rates (dimensionless)")
    variables = {}
    for name, (extra, dtype, doc) in specs.items():
        dims = ("trial", "time") + extra
        chunks = (chunk_trials, chunk_time) + tuple(f.dimensions[d].size for d in extra)
        fill = np.nan if dtype == "f4" else -1 if name == "action_taken" else 0
        var = f.create_variable(name, dims, dtype, chunks=chunks, fillvalue=fill,
                                compression="gzip", compression_opts=1, shuffle=True)
        if dtype != "f4":  # integers are read back as integers (the HDF5 fill value stays)
            del var.attrs["_FillValue"]
        var.attrs["description"] = doc
        variables[name] = var
    return variables


def _add_coordinates(path, learner: ActorCritic, table: pd.DataFrame) -> None:
    """Dimension coordinates (time in ms, unit and channel names) and the behaviour columns as
    trial coordinates, appended to the file written by h5netcdf."""
    env = learner.env
    coords = {"trial": np.arange(len(table)),
              "time": ("time", np.arange(env.n_steps) * env.dt_ms, {"units": "ms"}),
              "unit": np.arange(learner.policy_config.n_units),
              "input": list(env.protocol.inputs), "action": list(env.protocol.actions)}
    if _value_units(learner):
        coords["value_unit"] = np.arange(_value_units(learner))
    for column in table.columns:
        if column != "trial":
            values = table[column].to_numpy()
            coords[column] = ("trial", values.astype(str) if values.dtype == object else values)
    extra = xr.Dataset(coords=coords, attrs={"task": env.protocol.name, "dt_ms": env.dt_ms,
                                             "action_names": ",".join(env.protocol.actions)})
    extra.to_netcdf(path, mode="a", engine="h5netcdf")


#: What every activity dataset holds (every kind of record writes them): variable -> dims.
REQUIRED = {"rates": ("trial", "time", "unit"), "inputs": ("trial", "time", "input")}


def open_activity(path: Path | str) -> xr.Dataset:
    """The activity dataset at ``path`` (lazily loaded; ``valid``, where there is one, as booleans).
    A file that is not one (truncated, foreign, without ``rates`` and ``inputs`` over trial x time)
    is a one-line :class:`~rewardrnn.errors.RunFolderError` naming it."""
    from rewardrnn.errors import RunFolderError

    again = "record it again (`rewardrnn record RUN`)"
    try:
        ds = xr.open_dataset(path, engine="h5netcdf")
    except FileNotFoundError:
        raise RunFolderError(f"{path} does not exist; {again}") from None
    except Exception as error:  # h5py/h5netcdf/xarray raise many kinds for a damaged file
        raise RunFolderError(f"{path} is truncated or not an activity dataset ({type(error).__name__}); {again}") from None
    missing = [f"{name} {dims}" for name, dims in REQUIRED.items()
               if name not in ds or tuple(ds[name].dims) != dims]
    if missing:
        ds.close()
        raise RunFolderError(f"{path} is not a rewardrnn activity dataset (missing {', '.join(missing)}); {again}")
    return ds.assign(valid=ds["valid"].astype(bool)) if "valid" in ds else ds
