"""Records of a network trained over episodes of trials (:mod:`rewardrnn.learners.episodic`):
held-out episodes played by its best parameters (sampling from its policy, its training noise
on, as validation), as a behaviour table (one row per trial,
:func:`rewardrnn.tasks.episodes.behaviour_table`) and an activity dataset.

In the activity dataset of an episode run a *record row is an episode*: the ``trial`` dimension
indexes episodes (the name every activity dataset shares, :data:`rewardrnn.records.activity.REQUIRED`)
and ``time`` the episode's steps (``n_trials`` x ``steps_per_trial``, at the network's dt), so
that the fixed-point search and every reader of records read it unchanged. Variables: ``rates``
[x_k]+ and ``states`` x_k of the decision network (the state from which step k's action was
drawn), ``inputs`` (the input received by step k: the observation after step k-1, 0 at k = 0),
``action_taken``, ``step_reward``, ``trial_of_step`` (the trial of the episode, from 1) and
``valid`` (1 everywhere: episodes have a fixed length).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np
import pandas as pd
import xarray as xr

from rewardrnn.resources import check_fits
from rewardrnn.safe_files import atomic_write_bytes, check_free_space
from rewardrnn.tasks import episodes


class Played(NamedTuple):
    """Held-out episodes: the behaviour table, the state at each trial's decision step (one row
    per table row, (rows, N)), the task criterion's numbers on them and the whole record of
    the play (``states`` (T, n, N) and the task's :func:`~rewardrnn.tasks.episodes.play`)."""

    table: pd.DataFrame
    decision_states: np.ndarray
    performance: dict[str, float]
    played: dict[str, np.ndarray]


def play(learner, policy, masks, key: jax.Array, n_episodes: int, manipulation=None) -> Played:
    """``n_episodes`` fresh episodes drawn from ``key`` and played by ``policy`` (under
    ``manipulation``, a :class:`rewardrnn.manipulation.applied.Applied`, when given: the same
    episodes, noise and action draws as the intact play)."""
    task, units = learner.task, learner.policy_config.n_units
    # the play's states and noise (T, n, N) and the dataset's rates, states and inputs, float32
    check_fits(4 * 5 * task.n_steps * n_episodes * (units + task.n_inputs), f"{n_episodes:,} episodes",
               "play fewer episodes (-n)")
    batch = learner.draw_episodes(key, n_episodes)
    played = jax.jit(learner.play_episodes)(policy, masks, batch, manipulation)
    played = {name: np.asarray(value) for name, value in played.items()}
    states = played.pop("states")
    table = episodes.behaviour_table(task, batch.latents, played)
    return Played(table, episodes.decision_states(task, states), episodes.table_performance(task, table),
                  {**played, "states": states})


def record(learner, policy, masks, key: jax.Array, n_episodes: int, path: Path | None) -> Played:
    """Play ``n_episodes`` and, when ``path`` is given, write their activity dataset (module
    docstring) there, atomically."""
    result = play(learner, policy, masks, key, n_episodes)
    if path is not None:
        task = learner.task
        check_free_space(Path(path).parent, 4 * 3 * task.n_steps * n_episodes * (learner.policy_config.n_units
                                                                               + task.n_inputs), "the episodes' records")
        ds = dataset(learner, result.played)
        atomic_write_bytes(Path(path), lambda f: f.write(ds.to_netcdf(engine="h5netcdf")))
    return result


def dataset(learner, played: dict[str, np.ndarray]) -> xr.Dataset:
    """The activity dataset of played episodes (module docstring), episode-major."""
    task, dt_ms = learner.task, float(learner.env.dt_ms)
    states = np.asarray(played["states"], np.float32).transpose(1, 0, 2)  # (episode, step, unit)
    inputs = np.asarray(played["inputs"], np.float32).transpose(1, 0, 2)
    received = np.concatenate([np.zeros_like(inputs[:, :1]), inputs[:, :-1]], axis=1)
    n, steps, units = states.shape
    trial_of_step = np.arange(steps) // task.steps_per_trial + 1
    coords = {"trial": np.arange(n), "time": ("time", np.arange(steps) * dt_ms, {"units": "ms"}),
              "unit": np.arange(units), "input": list(task.inputs)}
    variables = {
        "rates": (("trial", "time", "unit"), np.maximum(states, 0.0), {"description": "decision-network rates [x_k]+"}),
        "states": (("trial", "time", "unit"), states, {"description": "decision-network state x_k"}),
        "inputs": (("trial", "time", "input"), received,
                   {"description": "input received by step k (the observation after step k-1); 0 at k = 0"}),
        "action_taken": (("trial", "time"), np.asarray(played["actions"], np.int8).T, {"description": "action index"}),
        "step_reward": (("trial", "time"), np.asarray(played["reward"], np.float32).T, {"description": "reward R[k]"}),
        "trial_of_step": (("time",), trial_of_step.astype(np.int32), {"description": "trial of the episode, from 1"}),
        "valid": (("trial", "time"), np.ones((n, steps), np.int8), {"description": "1: every step is executed"}),
    }
    return xr.Dataset(variables, coords=coords,
                      attrs={"task": task.name, "dt_ms": dt_ms, "action_names": ",".join(task.actions),
                             "record_rows": "episodes (the trial dimension indexes episodes)",
                             "n_trials_per_episode": task.n_trials, "steps_per_trial": task.steps_per_trial})
