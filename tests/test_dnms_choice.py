"""Miconi's delayed non-match-to-sample as a native task with discrete choices (dnms-choice):
its inputs, reward table and criterion, and the actor-critic learning it."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
from test_song_tasks import ABORT, HOLD, judge, make_trial
from typer.testing import CliRunner

from rewardrnn.cli import app
from rewardrnn.tasks import TaskEnv, get_task
from rewardrnn.tasks.dnms import MATCH, NON_MATCH

DT = 10.0
EPOCHS = (200, 200, 200, 200)  # sample, delay1, test, delay2 (Miconi's timing); decision to tmax


@pytest.mark.parametrize("sample,test,correct", [(0, 0, MATCH), (0, 1, NON_MATCH), (1, 0, NON_MATCH),
                                                  (1, 1, MATCH)])
def test_reward_table(sample, test, correct):
    env = TaskEnv(get_task("dnms-choice"), DT)
    assert (env.n_steps, env.n_inputs, env.n_actions, env.n_conditions) == (101, 3, 3, 4)
    trials = make_trial(env, EPOCHS, sample=float(sample), test=float(test))
    for t in (0, 100, 300, 500, 700):  # sample, delay 1, test, delay 2: breaking fixation aborts
        assert [judge(env, trials, t, a) for a in range(3)] == [HOLD, ABORT, ABORT]
    assert judge(env, trials, 850, correct) == (1.0, True, True, True)
    assert judge(env, trials, 990, 3 - correct) == (0.0, True, True, False)
    assert judge(env, trials, 900, 0) == HOLD
    assert judge(env, trials, None, 0) == ABORT  # no choice by tmax: R_TERMINAL = -1


def test_inputs_follow_miconis_timing():
    env = TaskEnv(get_task("dnms-choice"), DT)
    for sample in (0, 1):
        for test in (0, 1):
            trials = make_trial(env, EPOCHS, sample=float(sample), test=float(test))
            mean, noise = env.mean_inputs(trials, jnp.arange(100)[:, None])  # the last index has no epoch
            u = np.asarray(mean[:, 0])  # (time index, channel): FIXATION, A, B
            t = np.arange(100) * DT
            np.testing.assert_array_equal(u[:, 0], (t < 800).astype(float))  # its offset is the go cue
            shown = {0: 1, 1: 2}
            np.testing.assert_array_equal(u[:, shown[sample]] * (t < 200), (t < 200).astype(float))
            np.testing.assert_array_equal(u[:, shown[test]] * ((t >= 400) & (t < 600)),
                                          ((t >= 400) & (t < 600)).astype(float))
            assert u[:, 1:].sum() == 40  # 20 steps of each stimulus, nothing else
            assert float(np.asarray(noise).sum()) == 0  # no input noise, as Miconi's DNMS
    criterion = get_task("dnms-choice").criterion
    assert criterion.met({"p_decision": 0.995, "p_correct": 0.96})
    assert not criterion.met({"p_decision": 0.995, "p_correct": 0.95})


@pytest.mark.slow
def test_actor_critic_learns_dnms_choice(tmp_path):
    """Song et al.'s actor-critic reaches the criterion on Miconi's DNMS (seed 1: 1,800 trials)."""
    out = tmp_path / "dnms-choice"
    result = CliRunner().invoke(app, ["train", "dnms-choice", "--seed", "1", "--max-updates", "1500", "-q",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"][0]["reached_criterion"], summary["seeds"]
