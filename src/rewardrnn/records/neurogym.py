"""Records of the actor-critic trained on a NeuroGym environment: trials simulated in freshly
seeded environments (stochastic policy, noise on), as a behaviour table and an activity dataset.

NeuroGym environments draw their conditions themselves, so there is no condition grid to cycle
through: a record is ``n`` trials (of ``ceil(n / K)`` sessions of K trials, for a run trained
over sessions: then the table also has ``episode`` and ``trial_in_episode``, 1-based, and each
trial's activity is its own window of the session, the state carried over from the trial
before). The behaviour table has one row per trial: ``trial``, the
trial's scalar variables from NeuroGym (``ground_truth``, ``coh``, ...), ``performance``
(NeuroGym's), ``correct`` (performance >= 1), ``reward`` (total), ``responded`` (any action other
than fixation), ``choice`` (the action taken at the trial's last step) and ``end_time_ms`` (that
step's time from the trial's start). The
activity dataset has the layout of the native tasks' (:mod:`rewardrnn.records.activity`):
``inputs``, ``action_prob``, ``rates``, ``action_taken`` and ``valid`` over trial x time
(ms, step k at k dt) x unit / input / action, NaN after each trial's end, the table's columns as
trial coordinates.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pandas as pd
import xarray as xr

from rewardrnn.records import write_dataset
from rewardrnn.keys import ENV_RECORD, HOST_BATCH_STREAM, fold
from rewardrnn.learners.actor_critic_host import HostBatchActorCritic

#: Environments simulated side by side.
BATCH = 200


def record(learner: HostBatchActorCritic, policy, masks, seed: int, n_trials: int,
           path: Path | str | None, stream: int = ENV_RECORD, manipulation=None) -> pd.DataFrame:
    """Simulate ``n_trials`` trials, all of ``ceil(n_trials / K)`` sessions for a run over
    sessions of K trials (environments and noise seeded from ``seed`` and ``stream``);
    write the activity dataset to ``path`` (nothing when None) and return the behaviour table.
    With ``manipulation`` (:class:`rewardrnn.manipulation.applied.Applied`, its ``during``
    over the environment's periods), the manipulated network in the very same environments."""
    tables, parts = [], []
    sessions = learner.episode_trials > 1
    n_episodes, done = learner.episodes_for(n_trials), 0
    for b, start in enumerate(range(0, n_episodes, BATCH)):
        n = min(BATCH, n_episodes - start)
        key = fold(jax.random.PRNGKey(seed), HOST_BATCH_STREAM, stream, b)
        sim = learner.simulate(policy, masks, key, seed, stream, b, n, keep_states=path is not None,
                               manipulation=manipulation)
        batch = sim.batch
        last = batch.actions[np.minimum(batch.end_step, batch.actions.shape[0] - 1), batch.episode]
        table = pd.DataFrame(batch.info, index=range(len(batch.end_step)))
        table.insert(0, "trial", done + np.arange(len(table)))
        done += len(table)
        if sessions:
            table.insert(1, "episode", start + batch.episode)
            table.insert(2, "trial_in_episode", batch.trial_in_episode)
        table["performance"] = batch.performance
        table["correct"] = batch.performance >= 1
        table["reward"] = batch.reward_total
        table["responded"] = batch.responded
        table["choice"] = last
        table["end_time_ms"] = (batch.end_step - batch.start_step) * learner.env.dt_ms
        tables.append(table)
        if path is not None:
            parts.append(_activity(sim, learner.env.dt_ms))
    table = pd.concat(tables, ignore_index=True)
    if path is None:
        return table
    n_steps = max(p["rates"].shape[1] for p in parts)
    fills = {"action_taken": -1, "valid": 0}
    data = {name: np.concatenate([_pad(p[name], n_steps, fills.get(name, np.nan)) for p in parts]) for name in parts[0]}
    coords = {"trial": table["trial"].to_numpy(), "time": ("time", np.arange(n_steps) * learner.env.dt_ms,
                                                           {"units": "ms"}),
              "unit": np.arange(data["rates"].shape[2]), "input": np.arange(data["inputs"].shape[2]),
              "action": np.arange(data["action_prob"].shape[2])}
    coords.update({c: ("trial", table[c].to_numpy()) for c in table.columns if c != "trial"})
    ds = xr.Dataset({"inputs": (("trial", "time", "input"), data["inputs"]),
                     "action_prob": (("trial", "time", "action"), data["action_prob"]),
                     "rates": (("trial", "time", "unit"), data["rates"]),
                     "action_taken": (("trial", "time"), data["action_taken"]),
                     "valid": (("trial", "time"), data["valid"])},
                    coords=coords, attrs={"task": learner.task, "dt_ms": learner.env.dt_ms, "learner": "actor-critic",
                                          **({"episode_trials": learner.episode_trials} if sessions else {})})
    write_dataset(ds, path)
    return table


def _activity(sim, dt_ms: float) -> dict[str, np.ndarray]:
    """Trial-major arrays of one simulated batch, each trial its own window of its episode (the
    whole column for one trial per episode); step k of a trial holds the input received by its
    step k and the state after it, NaN (or -1) after the trial's end."""
    batch = sim.batch
    length = batch.end_step - batch.start_step + 1
    window = np.arange(length.max())[None, :]
    valid = window < length[:, None]  # (trials, W)
    rows = np.minimum(batch.start_step[:, None] + window, batch.actions.shape[0] - 1)
    columns = batch.episode[:, None]
    nan = lambda a: np.where(valid[..., None], a[rows, columns], np.nan).astype(np.float32)  # noqa: E731
    return {"inputs": nan(batch.inputs[:-1]), "action_prob": nan(sim.action_prob),
            "rates": nan(np.maximum(sim.states, 0.0)),
            "action_taken": np.where(valid, batch.actions[rows, columns], -1).astype(np.int8),
            "valid": valid.astype(np.int8)}


def _pad(a: np.ndarray, n_steps: int, fill) -> np.ndarray:
    """``a`` (trial, time, ...) padded with ``fill`` to ``n_steps`` time steps."""
    pad = n_steps - a.shape[1]
    return np.concatenate([a, np.full((a.shape[0], pad) + a.shape[2:], fill, a.dtype)], axis=1) if pad else a
