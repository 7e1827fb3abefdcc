"""The across-trials analyses (rewardrnn.analysis.episodes) on planted behaviour whose answers
are known: agents that follow fixed rules, a Q-learner, a logistic model with known weights."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from rewardrnn.analysis import episodes as analysis
from rewardrnn.errors import ConfigError
from rewardrnn.tasks import episodes


def _table(choices, rewards, **columns) -> pd.DataFrame:
    choices = np.asarray(choices)
    n, t = choices.shape
    data = {"episode": np.repeat(np.arange(n), t), "trial": np.tile(np.arange(1, t + 1), n),
            "choice": choices.ravel(), "reward": np.asarray(rewards, float).ravel()}
    data.update({k: np.asarray(v).ravel() for k, v in columns.items()})
    return pd.DataFrame(data)


def test_learning_curve_is_the_fraction_of_better_choices_per_trial():
    table = _table([[0, 1, 1], [0, 0, 1], [1, 1, 1]], np.zeros((3, 3)),
                   better=[[1, 1, 1], [1, 1, 1], [-1, -1, -1]])  # episode 2's options are equal: not counted
    curve = analysis.learning_curve(table)
    np.testing.assert_allclose(curve["p"], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(curve["n"], [2, 2, 2])
    np.testing.assert_allclose(curve["sem"], [0.0, 0.5 / np.sqrt(2), 0.0])


def test_around_reversal_aligns_on_the_first_trial_after_it():
    # two episodes of 10 trials; reversals at trials 5 and 7; the agent switches 2 trials late
    choices, better, reversal = [], [], []
    for at, first in ((5, 0), (7, 1)):
        b = np.where(np.arange(1, 11) < at, first, 1 - first)
        c = np.where(np.arange(1, 11) < at + 2, first, 1 - first)
        choices.append(c), better.append(b), reversal.append(np.full(10, at))
    curve = analysis.around_reversal(_table(choices, np.zeros((2, 10)), better=better, reversal_trial=reversal),
                                     before=3, after=3)
    assert list(curve["relative_trial"]) == [-3, -2, -1, 0, 1, 2]
    np.testing.assert_allclose(curve["p"], [1, 1, 1, 1, 1, 0])  # P(the initially better option)
    assert analysis.trials_to_follow_reversal(curve) == 3  # switched on the 3rd trial after the reversal
    assert analysis.trials_to_follow_reversal(curve.assign(p=1.0)) is None


def test_win_stay_lose_shift_by_hand():
    # episode 0: choices 0 0 1 1, rewards 1 0 0 1: after the win a stay, after the two losses a
    # shift then a stay; episode 1 (its first trial has no previous one): choices 1 0 0 0,
    # rewards 0 1 1 0: after the loss a shift, after the two wins two stays
    table = _table([[0, 0, 1, 1], [1, 0, 0, 0]], [[1, 0, 0, 1], [0, 1, 1, 0]])
    result = analysis.win_stay_lose_shift(table)
    assert result["win_stay"] == {"p": 1.0, "sem": 0.0, "n": 3}
    assert result["lose_shift"]["p"] == pytest.approx(2 / 3) and result["lose_shift"]["n"] == 3


def test_logistic_regression_recovers_planted_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 2))
    logit = 0.3 + 1.5 * x[:, 0] - 0.7 * x[:, 1]
    y = rng.random(20_000) < 1 / (1 + np.exp(-logit))
    fit = analysis.fit_logistic(x, y, ("a", "b"))
    assert fit.names == ("bias", "a", "b")
    assert np.all(np.abs(fit.coef - [0.3, 1.5, -0.7]) < 4 * fit.sem)
    assert np.all(fit.sem < 0.05)


def _q_learner(n_episodes=300, n_trials=100, alpha=0.4, beta=4.0, seed=0):
    """A Q-learner (learning rate alpha, softmax inverse temperature beta) on Wang et al.'s
    correlated bandit: its history kernel is beta * alpha * (1 - alpha) ** (j - 1) on rewarded
    choices at lag j (and 0 on unrewarded ones, which it learns only toward 0)."""
    rng = np.random.default_rng(seed)
    choices, rewards = np.zeros((n_episodes, n_trials), int), np.zeros((n_episodes, n_trials))
    for e in range(n_episodes):
        p_left = rng.random()
        p = np.array([p_left, 1 - p_left])
        q = np.zeros(2)
        for t in range(n_trials):
            c = int(rng.random() < 1 / (1 + np.exp(-beta * (q[1] - q[0]))))
            r = float(rng.random() < p[c])
            q[c] += alpha * (r - q[c])
            choices[e, t], rewards[e, t] = c, r
    return _table(choices, rewards)


def test_history_kernels_of_a_q_learner_decay_with_lag():
    kernels = analysis.history_kernels(_q_learner(), lags=4)
    rewarded = [row["coef"] for row in kernels["rewarded_choice"]]
    assert rewarded[0] > 0.5 and rewarded[0] > rewarded[1] > rewarded[2] > rewarded[3]
    assert analysis.kernel_decays(kernels["rewarded_choice"])
    assert kernels["n"] == 300 * (100 - 4)
    assert abs(kernels["bias"]["coef"]) < 4 * kernels["bias"]["sem"] + 0.05
    # a kernel that grows with lag does not decay
    assert not analysis.kernel_decays([{"coef": 0.1, "sem": 0.01}, {"coef": 1.0, "sem": 0.01}])


def _two_step_agent(rule, n_episodes=20, n_trials=200, seed=0):
    """Choices of an agent that stays with its last first-stage choice exactly when ``rule(rewarded,
    common)`` says so, on random rewards and transitions (common with 0.8)."""
    rng = np.random.default_rng(seed)
    rewards = (rng.random((n_episodes, n_trials)) < 0.5).astype(float)
    common = rng.random((n_episodes, n_trials)) < 0.8
    choices = np.zeros((n_episodes, n_trials), int)
    for e in range(n_episodes):
        for t in range(1, n_trials):
            stay = rule(rewards[e, t - 1] > 0, common[e, t - 1])
            choices[e, t] = choices[e, t - 1] if stay else 1 - choices[e, t - 1]
    return _table(choices, rewards, common=common)


def test_two_step_indices_of_pure_model_based_and_model_free_agents():
    based = analysis.two_step_stay(_two_step_agent(lambda rewarded, common: rewarded == common))
    assert based["stay"]["rewarded_common"]["p"] == 1 and based["stay"]["rewarded_rare"]["p"] == 0
    assert based["stay"]["unrewarded_common"]["p"] == 0 and based["stay"]["unrewarded_rare"]["p"] == 1
    assert based["model_based_index"]["value"] == 1 and based["model_free_index"]["value"] == 0
    free = analysis.two_step_stay(_two_step_agent(lambda rewarded, common: rewarded))
    assert free["model_free_index"]["value"] == 1 and free["model_based_index"]["value"] == 0
    assert free["n"] == 20 * 199


def test_two_step_regression_finds_the_interaction_of_a_noisy_model_based_agent():
    rng = np.random.default_rng(1)
    noisy = analysis.two_step_stay(_two_step_agent(lambda r, c: (r == c) if rng.random() < 0.8 else not (r == c)))
    interaction = noisy["regression"]["reward_x_transition"]
    assert interaction["coef"] > 1.0 and interaction["coef"] > 5 * interaction["sem"]
    assert abs(noisy["regression"]["reward"]["coef"]) < 4 * noisy["regression"]["reward"]["sem"]
    assert noisy["model_based_index"]["value"] == pytest.approx(0.6, abs=0.05)


def test_a_table_without_a_needed_column_or_with_bad_choices_is_refused():
    table = _table([[0, 1]], [[1, 0]])
    with pytest.raises(ConfigError, match="lacks the column.s. common"):
        analysis.two_step_stay(table)
    with pytest.raises(ConfigError, match="choice must be 0 or 1 on every trial; got 2"):
        analysis.win_stay_lose_shift(table.assign(choice=[0, 2]))
    with pytest.raises(ConfigError, match="lags must be a whole number >= 1, got 0"):
        analysis.history_kernels(table, lags=0)


def test_behaviour_table_from_played_episodes():
    task = episodes.reversal(n_trials=4, first=2, last=3)
    latents = {"p": jnp.asarray([[[0.8, 0.2], [0.8, 0.2], [0.2, 0.8], [0.2, 0.8]]]),
               "u": jnp.full((1, 4, 2), 0.5), "reversal_trial": jnp.asarray([2])}
    table = episodes.behaviour_table(task, latents, episodes.play(task, latents, jnp.asarray([[0], [0], [0], [1]])))
    assert list(table["trial"]) == [1, 2, 3, 4] and list(table["choice"]) == [0, 0, 0, 1]
    assert list(table["reward"]) == [1, 1, 0, 1] and list(table["better"]) == [0, 0, 1, 1]
    assert list(table["reversal_trial"]) == [3, 3, 3, 3]
    np.testing.assert_allclose(table["p_left"], [0.8, 0.8, 0.2, 0.2])
    two = episodes.two_step(n_trials=2)
    latents = {"p_2a": jnp.asarray([[0.9, 0.9]]), "move": jnp.asarray([[0.5, 0.9]]), "u": jnp.asarray([[0.3, 0.3]])}
    table = episodes.behaviour_table(two, latents, episodes.play(two, latents, jnp.asarray([[0], [1], [0], [0]])))
    assert list(table["choice"]) == [0, 0] and list(table["reward"]) == [1, 0]
    assert list(table["common"]) == [True, False] and list(table["state2"]) == [1, 2]


def test_decoding_a_planted_latent_from_states_recovers_its_r2():
    # 200 episodes of 20 trials; the latent p ~ U(0, 1) per episode; 10 units of which one carries
    # p with noise whose variance equals p's (1/12): R² = 1/2; a second latent nobody carries: R² ~ 0
    rng = np.random.default_rng(0)
    episode = np.repeat(np.arange(200), 20)
    trial = np.tile(np.arange(1, 21), 200)
    p = rng.random(200)[episode]
    states = rng.normal(size=(4000, 10))
    states[:, 3] = p + rng.normal(scale=np.sqrt(1 / 12), size=4000)
    carried = analysis.decode_latent(states, p, episode, trial)
    assert carried["r2"] == pytest.approx(0.5, abs=0.05)
    assert len(carried["r2_by_trial"]) == 20 and all(abs(r["r2"] - 0.5) < 0.15 for r in carried["r2_by_trial"])
    absent = analysis.decode_latent(states, rng.random(200)[episode], episode, trial)
    assert abs(absent["r2"]) < 0.03
    with pytest.raises(ConfigError, match="n_folds must be a whole number in .2, 200."):
        analysis.decode_latent(states, p, episode, trial, n_folds=1)
