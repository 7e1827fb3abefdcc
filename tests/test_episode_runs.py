"""Runs over episodes of trials (`rewardrnn train bandit`...): the run kind's options and
refusals, the records of episodes against the play they come from, manipulations on the very
same episodes. (Every verb on a bandit run: test_runs.py's tiny runs.)"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from refusals import assert_refused
from rewardrnn.cli import app
from rewardrnn.learners import episodic
from rewardrnn.manipulation.applied import Applied
from rewardrnn.records import episodes as records
from rewardrnn.tasks import episodes
from rewardrnn.training.episodes_config import EpisodeTrainConfig

runner = CliRunner()


@pytest.mark.parametrize("args,message", [
    (["bandit", "--learner", "supervised"], "train with the actor-critic only (the supervised learner has no target"),
    (["bandit", "--set", "arms=both"], "arms must be one of independent, correlated; got 'both'"),
    (["bandit", "--set", "p_high=0.9"], "task 'bandit' takes the options n_trials, arms; got ['p_high']"),
    (["reversal", "--set", "first=80"], "the reversal trial range must satisfy 2 <= first <= last <= n_trials=100"),
    (["bandit", "--discount", "1.5"], "discount must be a number in [0, 1] (per trial; 1: none), got 1.5"),
    (["bandit", "--rho", "0"], "rho must be a positive number, got 0.0"),
    (["bandit", "--dt", "10"], "--dt does not apply to the actor-critic over episodes of trials"),
    (["rdm-fixed", "--rho", "1"], "--rho does not apply to the actor-critic (Song et al. 2017) (task rdm-fixed)"),
])
def test_bad_options_of_an_episode_run_are_refused_in_one_line(tmp_path, args, message):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", *args, "-q", "--out", str(out)])
    assert_refused(result.exit_code, result.output, message)
    assert not out.exists()


def test_the_config_takes_the_tasks_values_and_its_options():
    config = EpisodeTrainConfig(task="two-step", task_options={"n_trials": 30, "p_switch": 0.05}).resolved()
    assert (config.N, config.n_gradient, config.n_validation, config.discount, config.rho) == (48, 20, 200, 0.9, 1.0)
    learner = config.build_learner()
    assert learner.task.n_trials == 30 and learner.task.n_steps == 60 and "0.05 per trial" in learner.task.summary
    assert learner.trials_per_update == 20 * 30
    assert EpisodeTrainConfig.from_dict(config.to_dict()) == config


def test_tasks_lists_the_episode_tasks_and_their_options():
    listing = runner.invoke(app, ["tasks"])
    assert listing.exit_code == 0 and "two-step" in listing.output and "episodes of 100 trials" in listing.output
    options = runner.invoke(app, ["tasks", "reversal"])
    assert options.exit_code == 0
    assert [line.split()[0] for line in options.output.splitlines()[2:]] == ["n_trials", "p_high", "first", "last"]


@pytest.fixture(scope="module")
def bandit():
    task = episodes.bandit(n_trials=12)
    learner = episodic.build(task, N=16, n_gradient=4)
    state = learner.init(jax.random.PRNGKey(3))
    # a readout that is not zero, so that manipulations show in the choices
    policy = dict(state.policy, W_out=jax.random.normal(jax.random.PRNGKey(4), state.policy["W_out"].shape))
    return learner, policy, state.policy_masks


def test_the_records_of_episodes_are_the_play_they_come_from(bandit, tmp_path):
    learner, policy, masks = bandit
    played = records.record(learner, policy, masks, jax.random.PRNGKey(0), 6, tmp_path / "activity.nc")
    from rewardrnn.records.activity import open_activity
    with open_activity(tmp_path / "activity.nc") as ds:
        assert ds.sizes == {"trial": 6, "time": 12, "unit": 16, "input": 4}
        states = np.asarray(played.played["states"]).transpose(1, 0, 2)
        np.testing.assert_array_equal(ds["states"].values, states)
        np.testing.assert_array_equal(ds["rates"].values, np.maximum(states, 0))
        inputs = np.asarray(played.played["inputs"]).transpose(1, 0, 2)
        np.testing.assert_array_equal(ds["inputs"].values[:, 1:], inputs[:, :-1])  # received by step k: after k-1
        assert not ds["inputs"].values[:, 0].any()
        assert list(ds["input"].values) == list(episodes.BANDIT_INPUTS)
        np.testing.assert_array_equal(ds["action_taken"].values.ravel(), played.table["choice"].to_numpy())
    # the table's performance is validation's own numbers on the same episodes
    batch = learner.draw_episodes(jax.random.PRNGKey(0), 6)
    validation = episodes.performance(learner.task, batch.latents, played.played)
    assert played.performance["p_better"] == pytest.approx(float(validation["p_better"]), abs=1e-6)
    assert played.performance["reward"] == pytest.approx(float(validation["reward"]), abs=1e-6)
    np.testing.assert_array_equal(played.decision_states, states.reshape(-1, 16))


def _applied(learner, **parts) -> Applied:
    n = learner.policy_config.n_units
    return Applied.build(n, learner.env.n_inputs, learner.env.n_actions, 0, **parts)


def test_an_empty_manipulation_plays_the_intact_episodes_and_silencing_all_leaves_the_bias(bandit):
    learner, policy, masks = bandit
    key = jax.random.PRNGKey(1)
    intact = records.play(learner, policy, masks, key, 8)
    empty = records.play(learner, policy, masks, key, 8, _applied(learner))
    np.testing.assert_array_equal(intact.table["choice"], empty.table["choice"])
    np.testing.assert_array_equal(intact.played["states"], empty.played["states"])
    # every unit silenced: the action is read from rates of 0, argmax(b_out + gumbel) on the same draws
    silenced = records.play(learner, policy, masks, key, 8, _applied(learner, silenced=np.arange(16)))
    batch = learner.draw_episodes(key, 8)
    expected = np.argmax(np.asarray(policy["b_out"]) + np.asarray(batch.gumbel), axis=-1)  # (T, n)
    np.testing.assert_array_equal(silenced.played["actions"], expected)
    assert not np.array_equal(silenced.table["choice"], intact.table["choice"])
    # cutting every readout weight is the same policy as silencing every unit
    cut = records.play(learner, policy, masks, key, 8, _applied(learner, keep_out=np.zeros((16, 2), np.float32)))
    np.testing.assert_array_equal(cut.played["actions"], expected)


def test_a_stimulation_current_moves_the_state_by_its_drive(bandit):
    """A current c added to every unit's drive: the first step from x0 moves by a * lam * c
    more than the intact one (the gate lam is the intact one's at step 0: same state, input)."""
    learner, policy, masks = bandit
    key = jax.random.PRNGKey(2)
    intact = records.play(learner, policy, masks, key, 4)
    stimulated = records.play(learner, policy, masks, key, 4, _applied(learner, current=np.full(16, 0.5, np.float32)))
    x0 = np.asarray(intact.played["states"][0])
    np.testing.assert_array_equal(x0, np.asarray(stimulated.played["states"][0]))
    from rewardrnn.networks import gru
    w_in, b_in, w_rec, w_gates = gru.effective_weights(policy, masks)
    u = jnp.asarray(intact.played["inputs"][0])
    lam = gru.cell(jnp.asarray(x0), gru.drive(u, w_in, b_in), 0.0, w_rec, w_gates, learner.alpha)[1][0]
    moved = np.asarray(stimulated.played["states"][1]) - np.asarray(intact.played["states"][1])
    np.testing.assert_allclose(moved, learner.alpha * np.asarray(lam) * 0.5, rtol=1e-4, atol=1e-6)


def test_a_sweep_over_an_episode_task_builds_its_runs(tmp_path):
    from rewardrnn.sweeps.spec import read

    path = tmp_path / "sweep.toml"
    path.write_text("[base]\ntask = 'two-step'\nmax_updates = 100\n[base.task_options]\nn_trials = 40\n"
                    "[grid]\nrho = [1.0, 2.0]\nseed = [1, 2]\n")
    sweep = read(path, seeds_per_job=2)
    assert [(job.varied["rho"], job.seeds) for job in sweep.jobs] == [(1.0, (1, 2)), (2.0, (1, 2))]
    config = sweep.jobs[1].config
    assert isinstance(config, EpisodeTrainConfig) and config.rho == 2.0 and config.n_seeds == 2
    assert config.build_learner().task.n_trials == 40


def test_an_episode_task_from_a_users_file_trains_and_is_read_back(tmp_path):
    source = tmp_path / "lab_tasks.py"
    source.write_text("import dataclasses\nfrom rewardrnn.tasks import episodes\n\n"
                      "SHORT = dataclasses.replace(episodes.bandit(n_trials=10), name='short-bandit', discount=0.5)\n")
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", f"{source}:SHORT", "-q", "--N", "16", "--max-updates", "2",
                                 "--checkfreq", "1", "--n-validation", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    from rewardrnn.training.run_folder import RunFolder
    folder = RunFolder(out)
    assert folder.kind.name == "actor-critic/episodes" and folder.task == f"{source.resolve()}:SHORT"
    assert folder.resolved.discount == 0.5 and folder.learner.task.n_trials == 10
    evaluated = runner.invoke(app, ["evaluate", str(out), "-n", "3"])
    assert evaluated.exit_code == 0 and "(30 trials)" in evaluated.output, evaluated.output
    refused = runner.invoke(app, ["train", f"{source}:SHORT", "--set", "n_trials=4", "-q", "--out", str(tmp_path / "b")])
    assert_refused(refused.exit_code, refused.output, "is an EpisodeTask from a file: it takes no --set options")
