"""The supervised learner: its targets against the protocol by hand, its loss against a hand
computation, and learning rdm-fixed to the paper's criterion."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app
from rewardrnn.errors import ConfigError
from rewardrnn.networks import gru
from rewardrnn.training.config import SupervisedTrainConfig

runner = CliRunner()
SMALL = dict(N=20, baseline_N=20, p0=0.25)


def test_targets_fixate_then_the_correct_choice_then_nothing():
    learner = SupervisedTrainConfig(task="rdm-fixed", **SMALL).resolved().build_learner()
    env = learner.env
    trials = env.sample_trials(jax.random.PRNGKey(0), 16)
    steps = env.n_steps
    target, counted = (np.asarray(a) for a in learner.targets(trials, steps))
    start = np.asarray(trials.epoch_start_ms)[:, env.epoch_names.index("decision")] / env.dt_ms
    end = np.asarray(trials.epoch_end_ms)[:, env.epoch_names.index("decision")] / env.dt_ms
    variables = {k: np.asarray(v) for k, v in env.variables(trials).items()}
    correct = np.where(variables["direction"] > 0, env.protocol.actions.index("CHOOSE-RIGHT"),
                       env.protocol.actions.index("CHOOSE-LEFT"))
    for b in range(16):
        k = np.arange(steps)
        np.testing.assert_array_equal(target[k < start[b], b], 0)  # FIXATE
        np.testing.assert_array_equal(target[(k >= start[b]) & (k < end[b]), b], correct[b])
        np.testing.assert_array_equal(counted[:, b], (k < end[b]).astype(float))


def test_economic_targets_the_more_valuable_offer_and_wager_never_the_sure_target():
    """Economic (juice ratio 2.2): the target is the side whose offer is worth more, n x (2.2 for
    A, 1 for B); wager: the sure target pays less than a correct choice, so it is never one."""
    learner = SupervisedTrainConfig(task="economic", **SMALL).resolved().build_learner()
    env = learner.env
    trials = env.sample_trials(jax.random.PRNGKey(1), 64)
    target, counted = learner.targets(trials, env.n_steps)
    last = np.asarray(target)[np.asarray(counted).sum(0).astype(int) - 1, np.arange(64)]
    v = {k: np.asarray(x) for k, x in env.variables(trials).items()}
    a_left = v["A_left"] > 0
    value_left = v["n_left"] * np.where(a_left, 2.2, 1.0)
    value_right = v["n_right"] * np.where(a_left, 1.0, 2.2)
    clear = np.abs(value_left - value_right) > 1e-6
    expected = np.where(value_left > value_right, "CHOOSE-LEFT", "CHOOSE-RIGHT")
    chosen = np.asarray(env.protocol.actions)[last]
    assert clear.sum() > 40 and (chosen[clear] == expected[clear]).all()
    wager = SupervisedTrainConfig(task="wager", **SMALL).resolved().build_learner()
    trials = wager.env.sample_trials(jax.random.PRNGKey(2), 64)
    target, _ = wager.targets(trials, wager.env.n_steps)
    assert "CHOOSE-SURE" not in {wager.env.protocol.actions[a] for a in np.unique(np.asarray(target))}


def test_the_loss_is_the_mean_cross_entropy_over_counted_steps():
    learner = SupervisedTrainConfig(task="rdm-fixed", **SMALL).resolved().build_learner()
    state = learner.init(jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(5)
    loss, metrics = learner.losses(state.policy, state.value, state, key)
    batch = learner.draw_batch(key, learner.config.n_gradient)
    xs = gru.run_keyed(state.policy, state.policy_masks, batch.inputs, batch.noise_keys, learner.policy_noise,
                       learner.alpha)
    target, counted = learner.targets(batch.trials, batch.inputs.shape[0])
    log_pi = jax.nn.log_softmax(gru.readout(state.policy, xs))
    by_hand = -jnp.sum(counted * jnp.take_along_axis(log_pi, target[..., None], -1)[..., 0]) / jnp.sum(counted)
    np.testing.assert_allclose(loss, by_hand, rtol=1e-6)
    # at the paper's initialisation (zero readout) every action has probability 1/3
    np.testing.assert_allclose(loss, np.log(3), rtol=1e-5)
    g_value = jax.grad(lambda v: learner.losses(state.policy, v, state, key)[0])(state.value)
    assert all(float(jnp.abs(g).max()) == 0 for g in jax.tree_util.tree_leaves(g_value))  # the value net is untouched


def test_the_mse_loss_is_psychrnns_mean_squared_error_on_one_hot_outputs():
    """loss="mse": the mean over counted steps of mean_a (z[a] - onehot(target)[a])², by hand; at
    the zero-readout initialisation z = 0, so every counted step costs exactly 1/3 (one of three
    outputs is 1)."""
    learner = SupervisedTrainConfig(task="rdm-fixed", loss="mse", **SMALL).resolved().build_learner()
    state = learner.init(jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(5)
    loss, _ = learner.losses(state.policy, state.value, state, key)
    np.testing.assert_allclose(loss, 1 / 3, rtol=1e-5)
    policy = dict(state.policy, W_out=jax.random.normal(jax.random.PRNGKey(1), state.policy["W_out"].shape))
    loss, _ = learner.losses(policy, state.value, state, key)
    batch = learner.draw_batch(key, learner.config.n_gradient)
    xs = gru.run_keyed(policy, state.policy_masks, batch.inputs, batch.noise_keys, learner.policy_noise, learner.alpha)
    target, counted = learner.targets(batch.trials, batch.inputs.shape[0])
    z = np.asarray(gru.readout(policy, xs), np.float64)
    one_hot = np.eye(z.shape[-1])[np.asarray(target)]
    by_hand = np.sum(np.asarray(counted) * ((z - one_hot) ** 2).mean(-1)) / np.sum(np.asarray(counted))
    np.testing.assert_allclose(loss, by_hand, rtol=1e-5)
    assert learner.describe().startswith("supervised learning (BPTT, mse")


def test_bad_act_and_loss_are_refused():
    with pytest.raises(ConfigError, match="act must be one of greedy, sample"):
        SupervisedTrainConfig(act="maybe")
    with pytest.raises(ConfigError, match="loss must be one of cross-entropy, mse"):
        SupervisedTrainConfig(loss="l1")


@pytest.mark.slow
def test_supervised_learns_rdm_fixed_to_the_papers_criterion(tmp_path):
    out = tmp_path / "sup"
    result = runner.invoke(app, ["train", "rdm-fixed", "--learner", "supervised", "-o", str(out), "-q",
                                 "--max-updates", "1000"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    seed = summary["seeds"][0]
    assert seed["reached_criterion"] and seed["trials_to_criterion"] <= 10_000, result.output
    assert json.loads((out / "config.json").read_text())["learner"] == "supervised"
    result = runner.invoke(app, ["perturb", str(out), "-n", "20", "--silence", "readout:10"])
    assert result.exit_code == 0, result.output


# ---- Miconi's tasks: his rate network by BPTT on his targets --------------------------------------
def test_rate_supervised_update_cycles_trial_types_and_counts_trials_for_miconis_criterion():
    from rewardrnn.training.perturbation_config import SupervisedMiconiTrainConfig

    learner = SupervisedMiconiTrainConfig(task="dnms", n_units=20).build_learner()
    assert learner.batch == learner.trials_per_update == 4  # one of each trial type (AA, AB, BA, BB)
    state = learner.init(jax.random.PRNGKey(0))
    new, metrics = jax.jit(learner.update)(state)
    assert int(new.trial) == 4 and int(learner.updates(new)) == 1
    recent = np.asarray(new.recent_errors)
    assert np.isfinite(recent[:4]).all() and np.isinf(recent[4:]).all()
    assert float(metrics["error"]) == pytest.approx(recent[:4].mean(), rel=1e-6)
    assert not np.array_equal(np.asarray(new.params["J"]), np.asarray(state.params["J"]))
    assert np.array_equal(np.asarray(new.params["W_in"]), np.asarray(state.params["W_in"]))  # J only, as his rule
    assert not np.asarray(learner.kicks(jax.random.PRNGKey(1))).any()  # no perturbations
    # his criterion, met at trial 198 of a batch of 4 trials 197-200, is reported at update 50
    met = new._replace(criterion_trial=jnp.asarray(198, jnp.int32))
    assert int(learner.evaluate(met, met.key, 0)["criterion_update"]) == 50


def test_rate_supervised_options_are_checked():
    from rewardrnn.training.perturbation_config import SupervisedMiconiTrainConfig

    for options, message in (({"task": "rdm-fixed"}, "trains Song et al.'s gated network"),
                             ({"loss": "cross-entropy"}, "loss on Miconi's tasks must be one of mse, abs"),
                             ({"lr": 0}, "lr must be a positive"), ({"batch": 0}, "batch"),
                             ({"reward_baseline": "running"}, "no reward baseline")):
        with pytest.raises(ConfigError, match=message):
            SupervisedMiconiTrainConfig(**options)


@pytest.mark.slow
def test_supervised_learns_dnms_on_miconis_network_and_every_verb_reads_it(tmp_path):
    """Not the silent-output shortcut (an output of 0 has error 0.98, below Miconi's threshold
    of 1): the error of the last 100 trials is far below it."""
    out = tmp_path / "dnms"
    result = runner.invoke(app, ["train", "dnms", "--learner", "supervised", "--trials", "1000", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "supervised/miconi" and summary["seeds"][0]["reached_criterion"]
    assert summary["seeds"][0]["trials_to_criterion"] <= 1000 and summary["seeds"][0]["trials_to_criterion"] % 4 == 0
    assert -summary["seeds"][0]["best_score"] < 0.1  # mean error of the last 100 trials
    for args in (["evaluate", str(out), "-n", "20"], ["record", str(out), "-n", "5"],
                 ["fixedpoints", str(out), "--candidates", "64"], ["perturb", str(out), "-n", "20", "--silence", "readout:5"],
                 ["analyze", str(out)], ["plot", str(out)], ["report", str(out)], ["export", str(out), "--format", "npz"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
