"""The fixed-duration random-dots task (spec §5.1) and the engine's time-index convention (§1.3)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rewardrnn.errors import ConfigError, UnknownNameError
from rewardrnn.tasks import TaskEnv, Trials, get_task
from rewardrnn.tasks.rdm import CHOOSE_LEFT, CHOOSE_RIGHT, FIXATE

RDM = get_task("rdm-fixed")


def one_trial(env, direction=1.0, coherence=25.6, stimulus_ms=300.0):
    """A hand-made trial: fixation [0, 750), stimulus [750, 750+stim), decision 500 ms."""
    cond = int(np.flatnonzero((env.condition_grid[:, 0] == direction)
                              & np.isclose(env.condition_grid[:, 1], coherence))[0])
    ends = np.cumsum([750.0, stimulus_ms, 500.0])
    starts = np.concatenate([[0.0], ends[:-1]])
    return Trials(jnp.asarray([cond]), jnp.asarray([starts], jnp.float32), jnp.asarray([ends], jnp.float32),
                  jnp.zeros((1, 0)))


def judge(env, trials, step, action):
    reward, ends, decision, correct = env.judge(trials, jnp.asarray(step), jnp.asarray([action]))
    return float(reward[0]), bool(ends[0]), bool(decision[0]), bool(correct[0])


def test_protocol_numbers():
    env = TaskEnv(RDM, 10.0)
    assert env.n_conditions == 10 and RDM.n_conditions == 10
    assert env.n_steps == 276  # int(2750 / 10) + 1
    assert (env.n_inputs, env.n_actions) == (3, 3)
    assert RDM.n_validation == 1000
    assert env.input_noise_std == pytest.approx(np.sqrt(2 * 100 * 0.01 / 10))


@pytest.mark.parametrize("dt,n_steps", [(1.0, 2751), (10.0, 276), (20.0, 138)])
def test_time_steps(dt, n_steps):
    assert TaskEnv(RDM, dt).n_steps == n_steps


@pytest.mark.parametrize("dt", [0.0, -10.0, float("nan"), 100.0])
def test_bad_dt_is_rejected(dt):
    with pytest.raises(ConfigError, match="dt"):
        TaskEnv(RDM, dt)


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="rdm-fixed"):
        get_task("rdm-fixd")


# Reward of every (epoch, action) pair. Steps at dt=10: fixation 0-74, stimulus 75-104,
# decision 105-154, after the decision epoch 155-274, forced last step 275.
EPOCH_STEPS = {"fixation": 10, "stimulus": 80, "decision": 120, "after": 200, "last": 275}
EXPECTED = {  # (reward, ends, decision, correct); the trial's direction is right
    ("fixation", FIXATE): (0.0, False, False, False),
    ("fixation", CHOOSE_LEFT): (-1.0, True, False, False),
    ("fixation", CHOOSE_RIGHT): (-1.0, True, False, False),
    ("stimulus", FIXATE): (0.0, False, False, False),
    ("stimulus", CHOOSE_LEFT): (-1.0, True, False, False),
    ("stimulus", CHOOSE_RIGHT): (-1.0, True, False, False),
    ("decision", FIXATE): (0.0, False, False, False),
    ("decision", CHOOSE_LEFT): (0.0, True, True, False),
    ("decision", CHOOSE_RIGHT): (1.0, True, True, True),
    ("after", FIXATE): (0.0, False, False, False),
    ("after", CHOOSE_LEFT): (-1.0, True, False, False),
    ("after", CHOOSE_RIGHT): (-1.0, True, False, False),
    ("last", FIXATE): (-1.0, True, False, False),
    ("last", CHOOSE_LEFT): (-1.0, True, False, False),
    ("last", CHOOSE_RIGHT): (-1.0, True, False, False),
}


@pytest.mark.parametrize("epoch,action", list(EXPECTED))
def test_reward_table(epoch, action):
    env = TaskEnv(RDM, 10.0)
    trials = one_trial(env, direction=1.0)
    assert judge(env, trials, EPOCH_STEPS[epoch], action) == EXPECTED[(epoch, action)]


def test_left_trials_reward_left_and_zero_coherence_uses_drawn_direction():
    env = TaskEnv(RDM, 10.0)
    trials = one_trial(env, direction=-1.0, coherence=0.0)
    assert judge(env, trials, 120, CHOOSE_LEFT) == (1.0, True, True, True)
    assert judge(env, trials, 120, CHOOSE_RIGHT) == (0.0, True, True, False)


def test_time_index_convention():
    """U[k] is the input of index k+1; action a_k is judged by the epoch of index k."""
    env = TaskEnv(RDM, 10.0)
    trials = one_trial(env, direction=1.0, coherence=51.2, stimulus_ms=300.0)
    mean, noise_on = env.mean_inputs(trials, jnp.arange(1, env.n_steps + 1)[:, None])
    u = np.asarray(env.inputs(jax.random.PRNGKey(0), trials))[:, 0]
    # stimulus starts at index 75: U[74] already carries it, U[73] does not
    assert u[73, 1] == 0 and u[73, 2] == 0 and u[73, 0] == 1
    assert np.asarray(noise_on)[74, 0, 1] == 1 and np.asarray(noise_on)[73, 0, 1] == 0
    np.testing.assert_allclose(np.asarray(mean)[74, 0], [1.0, (1 - 0.512) / 2, (1 + 0.512) / 2], rtol=1e-6)
    # the fixation cue goes off at the decision epoch, index 105: U[104] is the first without it
    assert u[103, 0] == 1 and u[104, 0] == 0
    assert u[104, 1] == 0  # no evidence after the stimulus
    assert (u[-1] == 0).all()
    # a choice at step 104 (stimulus) aborts; at step 105 (decision) it is a decision
    assert judge(env, trials, 104, CHOOSE_RIGHT)[0] == -1.0
    assert judge(env, trials, 105, CHOOSE_RIGHT) == (1.0, True, True, True)


def test_outcomes_mask_and_return():
    env = TaskEnv(RDM, 10.0)
    trials = one_trial(env)
    actions = jnp.zeros((env.n_steps, 1), jnp.int32).at[110, 0].set(CHOOSE_RIGHT)
    out = env.outcomes(trials, actions)
    assert int(out.end_step[0]) == 110
    assert np.asarray(out.mask)[:, 0].sum() == 111  # executed steps 0..110
    assert np.asarray(out.reward)[:, 0].sum() == 1.0 and np.asarray(out.reward)[110, 0] == 1.0
    assert bool(out.decision[0]) and bool(out.correct[0]) and int(out.choice[0]) == CHOOSE_RIGHT
    # only fixating: the forced last step ends the trial with -1 and no decision
    out = env.outcomes(trials, jnp.zeros((env.n_steps, 1), jnp.int32))
    assert int(out.end_step[0]) == env.n_steps - 1
    assert np.asarray(out.reward)[:, 0].sum() == -1.0 and not bool(out.decision[0])
    assert int(out.choice[0]) == -1


def test_step_api_agrees_with_trial_tensors():
    env = TaskEnv(RDM, 10.0)
    key = jax.random.PRNGKey(4)
    obs, state = env.reset(key, condition=jnp.asarray(7))
    assert (np.asarray(obs) == 0).all()  # no input at k = 0
    actions = np.zeros(env.n_steps, np.int32)
    end = int(state.trials.epoch_start_ms[0, 2] / 10) + 3
    actions[end] = CHOOSE_RIGHT
    total, done, k = 0.0, False, 0
    while not done:
        obs, state, reward, done, info = env.step(jax.random.fold_in(key, k), state, jnp.asarray(actions[k]))
        total += float(reward)
        k += 1
    out = env.outcomes(state.trials, jnp.asarray(actions)[:, None])
    assert k - 1 == int(out.end_step[0]) == end
    assert total == pytest.approx(float(np.asarray(out.reward).sum()))
    assert bool(info["decision"]) == bool(out.decision[0])


def test_stimulus_duration_distribution():
    env = TaskEnv(RDM, 10.0)
    trials = env.sample_trials(jax.random.PRNGKey(0), 10_000)
    stim = np.asarray(trials.epoch_end_ms[:, 1] - trials.epoch_start_ms[:, 1])
    assert stim.min() >= 80 and stim.max() < 1500
    np.testing.assert_array_equal(stim % 10, 0)  # floored to dt
    # truncated-exponential mean 330 in [80, 1500), minus ~dt/2 from flooring
    expected = RDM.epochs[1].duration.mean_ms - 5
    assert stim.mean() == pytest.approx(expected, abs=8)
    assert np.median(stim) == pytest.approx(80 + 330 * np.log(2), abs=15)
    fixation = np.asarray(trials.epoch_end_ms[:, 0])
    assert (fixation == 750).all()
    decision = np.asarray(trials.epoch_end_ms[:, 2] - trials.epoch_start_ms[:, 2])
    assert (decision == 500).all()
    counts = np.bincount(np.asarray(trials.condition), minlength=10)
    assert counts.min() > 900  # conditions drawn uniformly


@pytest.mark.parametrize("dt", [10.0, 20.0])
def test_input_means_and_noise_per_channel(dt):
    env = TaskEnv(RDM, dt)
    n = 4000
    cond = jnp.full((n,), 3)  # direction -1, coherence 25.6 (grid order: direction, coherence)
    assert tuple(env.condition_grid[3]) == (-1.0, pytest.approx(25.6))
    trials = env.sample_trials(jax.random.PRNGKey(1), n, cond)
    u = np.asarray(env.inputs(jax.random.PRNGKey(2), trials))
    k = int(760 / dt)  # an index inside every stimulus epoch (stimulus >= 80 ms from 750 ms)
    left, right = u[k - 1, :, 1], u[k - 1, :, 2]
    std = np.sqrt(2 * 100 * 0.01 / dt)
    assert left.mean() == pytest.approx((1 + 0.256) / 2, abs=4 * std / np.sqrt(n))
    assert right.mean() == pytest.approx((1 - 0.256) / 2, abs=4 * std / np.sqrt(n))
    assert left.std() == pytest.approx(std, rel=0.05) and right.std() == pytest.approx(std, rel=0.05)
    assert (u[k - 1, :, 0] == 1).all()  # fixation: noise-free
    assert (u[int(500 / dt), :, 1:] == 0).all()  # no evidence during fixation


def test_stop_criterion_on_hand_made_numbers():
    met = RDM.criterion.met
    assert bool(met({"p_decision": 0.99, "p_correct": 0.80}))
    assert not bool(met({"p_decision": 0.989, "p_correct": 0.95}))
    assert not bool(met({"p_decision": 1.0, "p_correct": 0.799}))
    np.testing.assert_array_equal(met({"p_decision": np.array([1.0, 0.5]), "p_correct": np.array([0.9, 0.9])}),
                                  [True, False])
