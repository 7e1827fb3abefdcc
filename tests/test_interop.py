"""Interoperability: the Gymnasium environments (env_checker, the engine's rules, seeding) and
Stable-Baselines3 on one of them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

import rewardrnn.envs  # noqa: E402  (registers the ids)
from rewardrnn.tasks.engine import TaskEnv  # noqa: E402
from rewardrnn.tasks.registry import get_task  # noqa: E402
from waiting import LIMIT_S  # noqa: E402


@pytest.mark.parametrize("name", sorted(rewardrnn.envs.ENV_IDS))
def test_every_task_passes_the_env_checker(name):
    env = gymnasium.make(rewardrnn.envs.ENV_IDS[name])
    check_env(env.unwrapped, skip_render_check=True)
    task = get_task(name)
    assert env.observation_space.shape == (len(task.inputs),) and env.action_space.n == len(task.actions)
    assert env.unwrapped.observation_space.name == {c: i for i, c in enumerate(task.inputs)}
    assert env.unwrapped.action_space.name == {a: i for i, a in enumerate(task.actions)}


@pytest.mark.parametrize("name", sorted(rewardrnn.envs.ENV_IDS))
def test_observation_spaces_are_bounded_where_the_inputs_are(name):
    """A channel with input noise (Gaussian) in any epoch is unbounded; a noise-free one is
    bounded by the values it takes (FIXATION in [0, 1]); every observation of trials run to
    their last step (always FIXATE) lies inside the space."""
    env = gymnasium.make(rewardrnn.envs.ENV_IDS[name]).unwrapped
    task, space = env.protocol, env.observation_space
    noisy = {c for c, epochs in task.noisy_inputs.items() if epochs and task.input_noise_var > 0}
    for i, channel in enumerate(task.inputs):
        assert np.isinf([space.low[i], space.high[i]]).all() == (channel in noisy), channel
    if "FIXATION" in task.inputs:
        i = task.inputs.index("FIXATION")
        assert (space.low[i], space.high[i]) == (0.0, 1.0)
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            assert space.contains(obs)
            obs, _, done, _, _ = env.step(0)


def test_a_task_without_input_noise_passes_the_env_checker_without_a_warning():
    import warnings

    env = rewardrnn.envs.TaskGymEnv("dnms-choice")
    assert np.isfinite(env.observation_space.low).all() and np.isfinite(env.observation_space.high).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)


def test_ids_and_seeding():
    assert rewardrnn.envs.ENV_IDS["rdm-fixed"] == "rewardrnn/RdmFixed-v0"
    assert rewardrnn.envs.ENV_IDS["economic"] == "rewardrnn/Economic-v0"
    a, b = gymnasium.make("rewardrnn/RdmFixed-v0"), gymnasium.make("rewardrnn/RdmFixed-v0")
    (obs_a, info_a), (_, info_b) = a.reset(seed=7), b.reset(seed=7)
    assert info_a["trial"] == info_b["trial"] and (obs_a == 0).all()
    steps_a = [a.step(0)[0] for _ in range(10)]
    steps_b = [b.step(0)[0] for _ in range(10)]
    assert np.array_equal(steps_a, steps_b) and steps_a[0].dtype == np.float32
    with pytest.raises(ValueError, match="action must be an integer in 0..2"):
        a.step(5)


def test_an_episode_follows_the_engine_rules():
    """Fixate through fixation and stimulus, then choose the correct side: reward +1 at the
    decision step, `new_trial` and `correct` in info; breaking fixation early costs -1."""
    env = gymnasium.make("rewardrnn/RdmFixed-v0").unwrapped
    obs, info = env.reset(seed=3)
    right = info["trial"]["direction"] > 0
    task_env = TaskEnv(get_task("rdm-fixed"), 10.0)
    rewards, k, terminated = [], 0, False
    while not terminated:
        fixating = obs[0] > 0 or k == 0  # the fixation input turns off at the decision epoch
        action = 0 if fixating else (2 if right else 1)
        obs, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        k += 1
    assert info["new_trial"] and info["decision"] and info["correct"] and not truncated
    assert rewards[-1] == pytest.approx(1.0) and sum(rewards[:-1]) == 0
    assert (k - 1) * 10 >= 750 + 80 and task_env.n_steps > k  # after fixation + the shortest stimulus
    env.reset(seed=4)
    _, reward, terminated, _, info = env.step(1)
    assert terminated and reward == -1.0 and not info["decision"]


# NeuroGym and Stable-Baselines3 import PyTorch, which slows JAX in the same process by ~40 %
# (measured: 30 rdm-fixed updates 0.95 s -> 1.36 s after `import torch`); these tests run them in
# a subprocess so that the rest of the suite keeps its speed.
def _run(*args: str, timeout: float = LIMIT_S) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout)


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.mark.skipif(not _has("stable_baselines3"), reason="the sb3 extra is not installed")
def test_stable_baselines3_runs_a_few_updates():
    script = """
import gymnasium, rewardrnn.envs
from stable_baselines3 import PPO
env = gymnasium.make("rewardrnn/RdmFixed-v0")
model = PPO("MlpPolicy", env, n_steps=128, batch_size=64, n_epochs=2, seed=0, device="cpu")
model.learn(total_timesteps=512)
action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
assert model.num_timesteps >= 512 and env.action_space.contains(int(action))
print("updates", model._n_updates)
"""
    result = _run("-c", script)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "updates 8" in result.stdout  # 4 rollouts of 128 steps x 2 epochs


@pytest.mark.parametrize("name", sorted(rewardrnn.envs.EPISODE_ENV_IDS))
def test_an_episode_task_is_a_gymnasium_episode_that_replays_through_play(name):
    options = {"n_trials": 30, **({"first": 10, "last": 20} if name == "reversal" else {})}
    """check_env passes; a session played step by step earns exactly the rewards that
    rewardrnn.tasks.episodes.play gives the same actions on the episode's latents."""
    import jax.numpy as jnp

    from rewardrnn.tasks import episodes

    env = gymnasium.make(rewardrnn.envs.EPISODE_ENV_IDS[name], **options)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=4)
    assert not obs.any() and info["trial"] == 1
    rng = np.random.default_rng(0)
    latents = {k: jnp.asarray(v) for k, v in env.unwrapped.latents.items()}
    actions, rewards, trials, done = [], [], [], False
    while not done:
        a = int(rng.integers(2))
        obs, reward, done, truncated, info = env.step(a)
        assert env.observation_space.contains(obs) and not truncated
        actions.append(a), rewards.append(reward), trials.append(info["trial"])
    task = env.unwrapped.task
    assert len(actions) == task.n_steps and trials[-1] == 30 and info["new_trial"]
    replayed = episodes.play(task, latents, jnp.asarray(actions, jnp.int32)[:, None])
    np.testing.assert_array_equal(np.asarray(replayed["reward"])[:, 0], rewards)
    assert sum(rewards) > 0
