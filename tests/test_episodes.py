"""Episodes of trials (issue 35): the tasks' transitions against hand computations, the learner's
two passes agreeing, the discounted return, and the bandit learned to Wang et al. 2018's criterion."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rewardrnn.errors import ConfigError
from rewardrnn.learners import episodic
from rewardrnn.learners.actor_critic import returns_to_go
from rewardrnn.networks import gru
from rewardrnn.tasks import episodes
from rewardrnn.training.trainer import Trainer, TrainerPlan


def _bandit_latents(p_left, p_right, u):
    u = jnp.asarray(u, jnp.float32)
    n, t = u.shape[:2]
    p = jnp.broadcast_to(jnp.asarray([p_left, p_right], jnp.float32), (n, t, 2))
    return {"p": p, "u": u}


def test_bandit_pays_the_chosen_arm_and_shows_action_reward_and_trial():
    task = episodes.bandit(n_trials=3)
    u = [[[0.5, 0.5], [0.8, 0.1], [0.6, 0.2]]]  # one episode, 3 trials, a draw per arm
    latents = _bandit_latents(0.7, 0.3, u)
    played = episodes.play(task, latents, jnp.asarray([[0], [1], [0]]))
    # trial 1 LEFT: 0.5 < 0.7 pays; trial 2 RIGHT: 0.1 < 0.3 pays; trial 3 LEFT: 0.6 < 0.7 pays
    np.testing.assert_array_equal(played["reward"][:, 0], [1.0, 1.0, 1.0])
    played = episodes.play(task, latents, jnp.asarray([[1], [0], [1]]))
    # RIGHT 0.5 >= 0.3 no; LEFT 0.8 >= 0.7 no; RIGHT 0.2 < 0.3 yes
    np.testing.assert_array_equal(played["reward"][:, 0], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(played["inputs"][:, 0], [[0, 1, 0, 1 / 3], [1, 0, 0, 2 / 3], [0, 1, 1, 1.0]])
    assert task.inputs == ("previous-LEFT", "previous-RIGHT", "previous-reward", "trial/n_trials")


def test_bandit_latents_follow_the_arms_option():
    key = jax.random.PRNGKey(3)
    correlated = episodes.bandit(n_trials=5).latents(key, 400)
    p = np.asarray(correlated["p"])
    np.testing.assert_allclose(p[..., 0] + p[..., 1], 1.0, atol=1e-6)
    assert np.all(p == p[:, :1])  # fixed within an episode
    assert abs(p[:, 0, 0].mean() - 0.5) < 0.05 and p[:, 0, 0].min() < 0.05 and p[:, 0, 0].max() > 0.95
    independent = np.asarray(episodes.bandit(n_trials=5, arms="independent").latents(key, 400)["p"])
    assert abs(np.corrcoef(independent[:, 0, 0], independent[:, 0, 1])[0, 1]) < 0.15
    better = np.asarray(episodes.bandit(n_trials=5).better(correlated))
    np.testing.assert_array_equal(better[:, 0], np.where(p[:, 0, 0] > p[:, 0, 1], 0, 1))


def test_reversal_swaps_the_better_arm_once_at_its_trial():
    task = episodes.reversal(n_trials=100)
    latents = task.latents(jax.random.PRNGKey(0), 300)
    at = np.asarray(latents["reversal_trial"])
    assert at.min() >= 29 and at.max() <= 69  # 0-based first trial after the reversal, within 30..70
    better = np.asarray(task.better(latents))
    for i in range(300):
        assert np.all(better[i, :at[i]] == better[i, 0]) and np.all(better[i, at[i]:] == 1 - better[i, 0])
    p = np.asarray(latents["p"])
    np.testing.assert_allclose(np.sort(p[:, 0], axis=-1), np.tile([0.2, 0.8], (300, 1)), atol=1e-6)


def test_two_step_transitions_rewards_and_inputs_by_hand():
    task = episodes.two_step(n_trials=2)
    # trial 1: A1 with a common draw (0.5 < 0.8) reaches 2a, which pays (0.3 < p_2a = 0.9);
    # trial 2: A1 with a rare draw (0.9) reaches 2b, which does not pay (0.3 >= 1 - 0.9)
    latents = {"p_2a": jnp.asarray([[0.9, 0.9]]), "move": jnp.asarray([[0.5, 0.9]]), "u": jnp.asarray([[0.3, 0.3]])}
    played = episodes.play(task, latents, jnp.asarray([[0], [1], [0], [0]]))
    np.testing.assert_array_equal(played["reward"][:, 0], [0, 1, 0, 0])
    np.testing.assert_array_equal(played["state2"][:, 0], [1, 1, 2, 2])
    np.testing.assert_array_equal(played["common"][:, 0], [True, True, False, False])
    np.testing.assert_array_equal(played["stage"][:, 0], [0, 1, 0, 1])
    # inputs after each step: the state shown next (2a, then state 1, then 2b, then 1), the
    # action just taken and the reward just earned
    np.testing.assert_array_equal(played["inputs"][:, 0], [[0, 1, 0, 1, 0, 0], [1, 0, 0, 0, 1, 1],
                                                           [0, 0, 1, 1, 0, 0], [1, 0, 0, 1, 0, 0]])
    # A2 with a common draw reaches 2b
    played = episodes.play(task, latents, jnp.asarray([[1], [0], [1], [0]]))
    assert int(played["state2"][0, 0]) == 2 and int(played["state2"][2, 0]) == 1
    np.testing.assert_array_equal(np.asarray(task.better(latents)), [[0, 0]])


def test_two_step_reward_probabilities_swap_at_their_rate():
    task = episodes.two_step(n_trials=200, p_switch=0.05)
    p = np.asarray(task.latents(jax.random.PRNGKey(1), 200)["p_2a"])
    np.testing.assert_allclose(np.unique(np.round(p, 5)), [0.1, 0.9], rtol=1e-5)
    swaps = (np.diff(p, axis=1) != 0).mean()
    assert 0.04 < swaps < 0.06


def test_performance_counts_the_better_choice_from_the_criterion_trial_where_options_differ():
    task = episodes.bandit(n_trials=20)
    u = jnp.full((2, 20, 2), 0.5)
    latents = {"p": jnp.concatenate([_bandit_latents(0.9, 0.1, u[:1])["p"], _bandit_latents(0.45, 0.55, u[1:])["p"]]),
               "u": u}
    actions = jnp.zeros((20, 2), jnp.int32).at[15:, 0].set(1)  # episode 0: LEFT for 15 trials, then RIGHT
    perf = episodes.performance(task, latents, episodes.play(task, latents, actions))
    # only episode 0 counts (gap 0.8 >= 0.3; episode 1's 0.1 does not); trials 11..20: 5 of 10 LEFT
    assert float(perf["p_better"]) == pytest.approx(0.5)
    # u = 0.5 pays only the 0.9 arm: episode 0's 15 LEFT trials
    assert float(perf["reward"]) == pytest.approx(15 / 40)


def test_the_differentiable_pass_sees_the_inputs_the_sampling_pass_saw():
    task = episodes.two_step(n_trials=6)
    learner = episodic.build(task, N=12)
    state = learner.init(jax.random.PRNGKey(0))
    batch = learner.draw_episodes(jax.random.PRNGKey(1), 5)
    played = learner.play_episodes(state.policy, state.policy_masks, batch)
    states = gru.run(state.policy, state.policy_masks, played["inputs"], batch.noise, learner.alpha)
    np.testing.assert_allclose(states, played["states"], atol=1e-5)
    logits = gru.readout(state.policy, states)
    chosen = jnp.argmax(logits + batch.gumbel, axis=-1)
    np.testing.assert_array_equal(chosen, played["actions"])


def test_discounted_return_over_trials_by_hand():
    task = episodes.two_step(n_trials=3)  # two steps per trial: the discount applies at each trial's end
    learner = episodic.build(task, N=10, discount=0.5)
    reward = jnp.asarray([0, 1, 0, 0, 2, 1], jnp.float32)[:, None]
    # G_5 = 1; G_4 = 2 + 1 = 3; G_3 = 0 + 0.5 * 3 = 1.5; G_2 = 1.5; G_1 = 1 + 0.5 * 1.5 = 1.75; G_0 = 1.75
    np.testing.assert_allclose(learner.returns(reward)[:, 0], [1.75, 1.75, 1.5, 1.5, 3, 1])


def test_an_undiscounted_one_trial_episode_has_songs_return():
    task = episodes.two_step(n_trials=1)
    learner = episodic.build(task, N=10, discount=1.0)
    reward = jax.random.normal(jax.random.PRNGKey(0), (2, 4))
    np.testing.assert_allclose(learner.returns(reward), returns_to_go(reward), rtol=1e-6)
    undiscounted = episodic.build(episodes.two_step(n_trials=5), N=10, discount=1.0)
    reward = jax.random.normal(jax.random.PRNGKey(1), (10, 3))
    np.testing.assert_allclose(undiscounted.returns(reward), returns_to_go(reward), rtol=1e-5, atol=1e-6)


def test_bad_options_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="unknown episodic task 'bandits'; known: bandit, reversal, two-step"):
        episodes.get_episode_task("bandits")
    with pytest.raises(ConfigError, match="takes the options n_trials, arms"):
        episodes.get_episode_task("bandit", p_high=0.9)
    with pytest.raises(ConfigError, match="arms must be one of independent, correlated"):
        episodes.bandit(arms="coupled")
    with pytest.raises(ConfigError, match=r"p_high must be a number in \[0.5, 1\], got 1.2"):
        episodes.reversal(p_high=1.2)
    with pytest.raises(ConfigError, match="n_trials must be a whole number"):
        episodes.two_step(n_trials=0)
    with pytest.raises(ConfigError, match="first <= last"):
        episodes.reversal(first=80, last=70)


def test_the_bandit_is_learned_to_wang_et_als_criterion():
    """The smallest honest setting: episodes of 40 trials, 16 units, one seed; the criterion is
    the task's (the better arm on >= 80 % of trials 11+ on fresh probability pairs with
    |p_L - p_R| >= 0.3)."""
    task = episodes.bandit(n_trials=40)
    learner = episodic.build(task, N=16)
    trainer = Trainer(learner, TrainerPlan(seeds=(1,), checkfreq=25, max_updates=600, n_validation=200))
    state, trace = trainer.run(trainer.initial_state(), [], np.zeros((1, 0), np.float32),
                               save=lambda *a: None, show=lambda rows: None, wall=lambda: 0.0)
    assert trainer.status(state) == ["reached criterion"]
    assert 0 < int(state.criterion_update[0]) <= 600


def test_the_episodic_learner_refuses_a_baseline_other_than_the_value_network():
    learner = episodic.build(episodes.bandit(n_trials=5), N=10)
    config = dataclasses.replace(learner.config, baseline="none")
    with pytest.raises(ValueError, match="value network"):
        episodic.EpisodeActorCritic(learner.env, learner.policy_config, learner.value_config, config)
