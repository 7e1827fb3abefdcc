"""Every rewardrnn task as a ``gymnasium.Env`` (optional extra: ``pip install rewardrnn[gym]``).

>>> import gymnasium as gym
>>> import rewardrnn.envs                                # registers the ids  # doctest: +SKIP
>>> env = gym.make("rewardrnn/RdmFixed-v0")              # doctest: +SKIP
>>> obs, info = env.reset(seed=1)                        # doctest: +SKIP

One episode is one trial, with the engine's rules exactly (spec §1.3): the first observation is
zeros (no input has been shown at k = 0); ``step(a)`` judges action ``a`` at step ``k``, returns
the reward R[k] (discounted, as in training) and the input of index ``k + 1``; the episode
terminates when the trial ends (a choice, a broken fixation, or the last step). Observations are
float32 numpy arrays, bounded per channel where the inputs are (:func:`observation_bounds`: a
noise-free channel such as FIXATION in [0, 1]; a channel with input noise stays unbounded, as
Gaussian noise is); the spaces are named as in NeuroGym (``observation_space.name`` maps each
input channel to its index, ``action_space.name`` each action). ``info`` carries the trial's
conditions (``trial``), ``new_trial`` (True on the step that ended it), ``decision``, ``correct``
and ``step``; ``reset(seed=...)`` seeds everything random.

The episodic tasks (``rewardrnn/Bandit-v0``, ``rewardrnn/Reversal-v0``, ``rewardrnn/TwoStep-v0``)
are :class:`EpisodeGymEnv`: one episode is one episode of trials.

Speed: at reset, one compiled call draws the trial's whole input sequence and judges every
action at every step into a (steps x actions) table, so ``step`` is numpy indexing only.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from rewardrnn.tasks.engine import TaskEnv
from rewardrnn.tasks.protocol import Protocol
from rewardrnn.tasks.registry import TASKS, get_task
from rewardrnn.tasks.variants import vary

#: Gymnasium id of every task: "rewardrnn/RdmFixed-v0", ...
ENV_IDS = {name: "rewardrnn/" + "".join(part.capitalize() for part in name.split("-")) + "-v0" for name in TASKS}


class TaskGymEnv(gymnasium.Env):
    """A rewardrnn task as a Gymnasium environment: ``task`` is a registered name, a task file
    (``path/to/file.py:NAME``) or any :class:`~rewardrnn.tasks.Protocol`; ``settings`` a variant
    (``{"stimulus.duration": "uniform(300, 700)"}``, :mod:`rewardrnn.tasks.variants`);
    ``task_options`` the task's own options (``juice_ratio=4.1``); ``dt_ms`` the time step."""

    metadata = {"render_modes": []}

    def __init__(self, task: str | Protocol = "rdm-fixed", dt_ms: float = 10.0, settings: dict | None = None,
                 **task_options: Any):
        if isinstance(task, Protocol) and task_options:
            raise TypeError(f"a Protocol object takes no task options, got {sorted(task_options)}")
        base = task if isinstance(task, Protocol) else get_task(task, **task_options)
        self.protocol = vary(base, settings or {})
        self.task_env = TaskEnv(self.protocol, dt_ms)
        e = self.task_env
        low, high = observation_bounds(e)
        self.observation_space = spaces.Box(low, high, (e.n_inputs,), np.float32)
        self.observation_space.name = {name: i for i, name in enumerate(self.protocol.inputs)}
        self.action_space = spaces.Discrete(e.n_actions)
        self.action_space.name = {name: i for i, name in enumerate(self.protocol.actions)}
        self.dt = e.dt_ms
        self._trial = jax.jit(self._draw_trial)
        self._inputs = self._table = None
        self._k = 0

    def _draw_trial(self, key):
        e = self.task_env
        k_trial, k_inputs = jax.random.split(key)
        trials = e.sample_trials(k_trial, 1)
        inputs = e.inputs(k_inputs, trials)[:, 0]  # (T, n_in): row k is shown after action k
        steps = jnp.arange(e.n_steps)[:, None]
        actions = jnp.arange(e.n_actions)[None, :]
        reward, ends, decision, correct = e.judge(jax.tree_util.tree_map(lambda a: a[0], trials), steps, actions)
        variables = {name: v[0] for name, v in e.variables(trials).items()}
        return inputs, reward * e.discount(steps), ends, decision, correct, variables

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        key = jax.random.PRNGKey(int(self.np_random.integers(0, 2 ** 31 - 1)))
        inputs, reward, ends, decision, correct, variables = jax.tree_util.tree_map(np.asarray, self._trial(key))
        self._inputs, self._table = inputs.astype(np.float32), (reward, ends, decision, correct)
        self._conditions = {name: float(v) for name, v in variables.items()}
        self._k = 0
        return np.zeros(self.task_env.n_inputs, np.float32), {"trial": dict(self._conditions), "new_trial": False}

    def step(self, action):
        if self._inputs is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(int(action)):
            raise ValueError(f"action must be an integer in 0..{self.action_space.n - 1} "
                             f"({', '.join(self.protocol.actions)}), got {action!r}")
        k, a = self._k, int(action)
        reward, ends, decision, correct = (t[k, a] for t in self._table)
        obs = self._inputs[k]
        self._k = k + 1
        terminated = bool(ends)
        info = {"trial": dict(self._conditions), "new_trial": terminated, "decision": bool(decision),
                "correct": bool(correct), "step": k}
        if terminated:
            self._inputs = None  # the next step needs a reset
        return obs, float(reward), terminated, False, info


class EpisodeGymEnv(gymnasium.Env):
    """An episodic task (``bandit``, ``reversal``, ``two-step``: :mod:`rewardrnn.tasks.episodes`)
    as a Gymnasium environment: *an episode is an episode* of ``n_trials`` trials. ``reset`` draws
    the episode's latents (the arms' reward probabilities, the reversal, every random number the
    rewards and transitions will use) and returns zeros (nothing has been shown at step 0);
    ``step(a)`` is the task's transition at step k: the reward and the observation the network
    sees next (its previous action and reward, the trial number or the two-step task's state).
    The episode terminates after its last step. ``info``: ``trial`` (from 1), ``new_trial`` (True
    on a trial's last step), ``step`` and the task's own per-step variables (the arms'
    probabilities; the two-step task's ``common`` transition and ``state2``); ``latents`` (numpy)
    holds the episode's draws, so a session replays exactly through
    :func:`rewardrnn.tasks.episodes.play`. ``task_options`` are the task factory's."""

    metadata = {"render_modes": []}

    def __init__(self, task: str = "bandit", **task_options: Any):
        from rewardrnn.tasks import episodes

        self.task = episodes.get_episode_task(task, **task_options)
        t = self.task
        # every channel of these tasks is a one-hot, a 0/1 reward or the trial's fraction of the episode
        self.observation_space = spaces.Box(0.0, 1.0, (t.n_inputs,), np.float32)
        self.observation_space.name = {name: i for i, name in enumerate(t.inputs)}
        self.action_space = spaces.Discrete(t.n_actions)
        self.action_space.name = {name: i for i, name in enumerate(t.actions)}
        self._latents_of = jax.jit(lambda key: t.latents(key, 1))
        self._transition = jax.jit(lambda latents, k, action, memory: t.transition(latents, k, action, memory))
        self.latents = None
        self._k = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        key = jax.random.PRNGKey(int(self.np_random.integers(0, 2 ** 31 - 1)))
        self.latents = jax.tree_util.tree_map(np.asarray, self._latents_of(key))
        self._memory = self.task.memory(1)
        self._k = 0
        return np.zeros(self.task.n_inputs, np.float32), {"trial": 1, "new_trial": False, "step": 0}

    def step(self, action):
        if self.latents is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(int(action)):
            raise ValueError(f"action must be an integer in 0..{self.action_space.n - 1} "
                             f"({', '.join(self.task.actions)}), got {action!r}")
        k = self._k
        reward, self._memory, observation, extra = self._transition(self.latents, k, jnp.asarray([int(action)], jnp.int32),
                                                                    self._memory)
        per_trial = self.task.steps_per_trial
        info = {name: np.asarray(value)[0].item() for name, value in extra.items() if name not in ("trial", "stage")}
        info.update(trial=k // per_trial + 1, new_trial=k % per_trial == per_trial - 1, step=k)
        self._k = k + 1
        terminated = self._k == self.task.n_steps
        if terminated:
            self.latents = None  # the next step needs a reset
        return np.asarray(observation[0], np.float32), float(reward[0]), terminated, False, info


#: Gymnasium id of every episodic task: "rewardrnn/Bandit-v0", "rewardrnn/TwoStep-v0", ...
EPISODE_ENV_IDS = {name: "rewardrnn/" + "".join(part.capitalize() for part in name.split("-")) + "-v0"
                   for name in ("bandit", "reversal", "two-step")}


#: Trials per condition drawn to find the range of the noise-free channels.
BOUND_TRIALS_PER_CONDITION = 16
#: A noise-free channel taking more distinct values than this in those trials is treated as
#: continuous (a level drawn at random): its range cannot be known from samples, so it stays
#: unbounded.
MAX_DISTINCT_LEVELS = 64


def observation_bounds(task_env: TaskEnv) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) per input channel for the observation space. A channel with input noise in
    any epoch (Gaussian, so unbounded) is (-inf, inf); so is a noise-free channel with more than
    ``MAX_DISTINCT_LEVELS`` distinct values in ``BOUND_TRIALS_PER_CONDITION`` trials of every
    condition (a continuously drawn level); any other noise-free channel is bounded by the least
    and largest value it takes in those trials and 0 (the first observation, and after a trial's
    last step), e.g. FIXATION in [0, 1]."""
    e = task_env
    n = BOUND_TRIALS_PER_CONDITION * e.n_conditions
    trials = e.sample_trials(jax.random.PRNGKey(0), n, jnp.tile(jnp.arange(e.n_conditions), BOUND_TRIALS_PER_CONDITION))
    mean, _ = e.mean_inputs(trials, jnp.arange(1, e.n_steps + 1)[:, None])
    mean = np.asarray(mean).reshape(-1, e.n_inputs)
    noisy = np.asarray(e._noise_channels).any(axis=0) & (e.input_noise_std > 0)
    low, high = np.full(e.n_inputs, -np.inf, np.float32), np.full(e.n_inputs, np.inf, np.float32)
    for c in range(e.n_inputs):
        if not noisy[c] and len(np.unique(mean[:, c])) <= MAX_DISTINCT_LEVELS:
            low[c], high[c] = min(0.0, float(mean[:, c].min())), max(0.0, float(mean[:, c].max()))
    return low, high


def register_all() -> None:
    """Register every task under its id in ``ENV_IDS`` (done on import of this module)."""
    for name, env_id in ENV_IDS.items():
        if env_id not in gymnasium.envs.registry:
            gymnasium.register(env_id, entry_point=TaskGymEnv, kwargs={"task": name})
    for name, env_id in EPISODE_ENV_IDS.items():
        if env_id not in gymnasium.envs.registry:
            gymnasium.register(env_id, entry_point=EpisodeGymEnv, kwargs={"task": name})


register_all()
