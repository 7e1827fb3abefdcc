"""Miconi's rule acting in Song et al.'s tasks: the read-out rule, the fresh network, the reward
from the task's table, the update against a hand computation, learning to hold fixation and
respond, the config and the records."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rewardrnn.errors import ConfigError
from rewardrnn.learners.perturbation import PerturbationConfig
from rewardrnn.learners.perturbation_native import NativePerturbationLearner, network_for
from rewardrnn.tasks.engine import TaskEnv
from rewardrnn.tasks.registry import get_task
from rewardrnn.training.kinds import kind_for
from rewardrnn.training.perturbation_config import PerturbationTrainConfig

RDM = TaskEnv(get_task("rdm-fixed"), 10.0)


def _learner(n_units: int = 20, threshold: float = 0.3, **rule) -> NativePerturbationLearner:
    config = PerturbationConfig(dt_ms=10.0, warmup_trials=0, **rule)
    return NativePerturbationLearner(RDM, config, network_for(RDM, n_units, 100.0), threshold)


def test_the_read_out_fixates_below_threshold_and_takes_the_highest_choice_unit_above():
    learner = _learner(threshold=0.3)
    rates = np.zeros((5, 20), np.float32)
    rates[1, :2] = (0.2, 0.29)  # both below: fixate
    rates[2, :2] = (0.31, 0.1)  # unit 0 crosses: CHOOSE-LEFT (action 1)
    rates[3, :2] = (0.5, 0.9)  # both above: the higher, unit 1: CHOOSE-RIGHT (action 2)
    rates[4, 2:] = 0.99  # other units never choose
    np.testing.assert_array_equal(np.asarray(learner.actions(jnp.asarray(rates))), [0, 0, 1, 2, 0])


def test_a_fresh_network_has_silent_choice_units_and_the_bias_units_after_them():
    learner = _learner()
    state = learner.init(jax.random.PRNGKey(0))
    assert learner.network.bias_units == (2, 3, 4)
    assert np.all(np.asarray(state.params["J"])[:2] == 0) and np.all(np.asarray(state.params["W_in"])[:2] == 0)
    assert np.all(np.asarray(state.params["J"])[5:] != 0)


def _planted(learner, j_rows: dict, w_in_rows: dict):
    """A state whose choice units have the given rows (no kicks: amplitude ~0)."""
    state = learner.init(jax.random.PRNGKey(1))
    j, w_in = np.asarray(state.params["J"]).copy(), np.asarray(state.params["W_in"]).copy()
    j[:2], w_in[:2] = 0.0, 0.0
    for unit, (column, value) in j_rows.items():
        j[unit, column] = value
    for unit, (column, value) in w_in_rows.items():
        w_in[unit, column] = value
    return state._replace(params={"J": jnp.asarray(j), "W_in": jnp.asarray(w_in)})


@pytest.mark.parametrize("direction, reward", [(1.0, 1.0), (-1.0, 0.0)])
def test_the_trial_earns_the_task_reward_table(direction, reward):
    """CHOOSE-RIGHT's unit is held down by the fixation cue and driven up by a bias unit: it
    crosses the threshold after the go cue and chooses RIGHT, +1 when the dots moved right, 0
    otherwise; an always-on unit breaks fixation (-1); silent units never choose (-1 at tmax)."""
    learner = _learner(kick_amplitude=1e-9)
    condition = int(np.flatnonzero((RDM.condition_grid[:, 0] == direction) & (RDM.condition_grid[:, 1] == 51.2))[0])
    right = _planted(learner, {1: (2, 4.0)}, {1: (0, -8.0)})  # bias unit 2 (rate 0.76), FIXATION input 0
    trials = RDM.sample_trials(jax.random.PRNGKey(2), 1, jnp.asarray([condition]))
    *_, actions = learner.act(right.params, right.xbar, jax.random.PRNGKey(3), trials)
    out = RDM.outcomes(trials, actions[:, None])
    onset = int(np.asarray(trials.epoch_start_ms)[0, 2] / 10)
    assert int(out.end_step[0]) >= onset and int(out.choice[0]) == 2
    assert float(out.reward.sum()) == reward
    state = right._replace(trial=jnp.asarray(condition, jnp.int32))  # cycled: this trial has this condition
    _, record = learner.trial(state)
    assert int(record.trial_type) == condition and float(record.error) in (-1.0, 0.0)
    eager = _planted(learner, {0: (2, 4.0)}, {})  # crosses during fixation: an abort
    _, record = learner.trial(eager._replace(trial=jnp.asarray(condition, jnp.int32)))
    assert float(record.error) == 1.0 and int(np.argmax(np.asarray(record.actions) > 0)) < 75
    silent = _planted(learner, {}, {})
    _, record = learner.trial(silent._replace(trial=jnp.asarray(condition, jnp.int32)))
    assert float(record.error) == 1.0 and np.all(np.asarray(record.actions) == 0)


def test_the_update_counts_only_steps_before_the_trial_ended():
    """Delta J = -eta |Ebar_c| (E - Ebar_c) sum_{3 <= t < end} S(dx_t) S(r_{t-1}), recomputed from
    the learner's own draws."""
    learner = _learner(eta=0.05)
    state = learner.init(jax.random.PRNGKey(4))
    planted = jnp.linspace(-0.9, 0.9, RDM.n_conditions).astype(jnp.float32)
    state = state._replace(baselines=planted, trial=jnp.asarray(13, jnp.int32))  # condition 3
    key, k_trial, k_run, _ = jax.random.split(state.key, 4)
    trials = RDM.sample_trials(k_trial, 1, jnp.asarray([3]))
    _, kicks, _, _, r_prev, dx, actions = learner.act(state.params, state.xbar, k_run, trials)
    out = RDM.outcomes(trials, actions[:, None])
    error, end = -float(out.reward.sum()), int(out.end_step[0])
    b = float(planted[3])
    dx, r_prev = np.asarray(dx, np.float64), np.asarray(r_prev, np.float64)
    e = sum(np.outer(dx[t] ** 3, r_prev[t] ** 3) for t in range(3, end))
    c = learner.config
    expected = np.clip(-c.eta * abs(b) * (error - b) * e, -c.max_dw, c.max_dw)
    new, record = learner.trial(state)
    assert float(record.error) == error
    got = np.asarray(new.params["J"] - state.params["J"], np.float64)
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=1e-3 * max(np.abs(expected).max(), 1e-12))
    assert np.abs(expected).max() > 0
    assert float(new.baselines[3]) == pytest.approx(0.75 * b + 0.25 * error)


def test_the_rule_learns_to_hold_fixation_and_respond():
    """From a fresh network that rarely answers, 2,000 trials of the rule make P(decision) on
    validation trials rise above 0.6 (seed fixed; the choice itself stays near chance: see
    docs/unified-model.md)."""
    learner = _learner(n_units=100)
    state = learner.init(jax.random.PRNGKey(1))
    before = learner.evaluate(state, jax.random.PRNGKey(7), 500)
    state, errors = jax.jit(lambda s: learner.train(s, 2000))(state)
    after = learner.evaluate(state, jax.random.PRNGKey(7), 500)
    assert float(before["p_decision"]) < 0.3
    assert float(after["p_decision"]) > 0.6
    assert float(np.mean(np.asarray(errors)[-500:])) < float(np.mean(np.asarray(errors)[:500]))


def test_the_config_resolves_native_defaults_and_refuses_native_options_on_miconi_tasks():
    config = PerturbationTrainConfig(task="rdm-fixed").resolved()
    assert (config.dt_ms, config.tau_ms, config.choice_threshold, config.n_validation) == (10.0, 100.0, 0.3, 1000)
    assert (config.eta, config.max_dw, config.kick_amplitude, config.chunk_trials) == (0.1, 3e-4, 5.0, 1000)
    assert PerturbationTrainConfig(task="dnms").chunk_trials == 250
    assert kind_for("rdm-fixed", "perturbation").name == "perturbation/native"
    assert kind_for("rdm-fixed").name == "actor-critic"
    with pytest.raises(ConfigError, match="--tau.*Miconi"):
        PerturbationTrainConfig(task="dnms", tau_ms=50.0)
    with pytest.raises(ConfigError, match="dt_ms must be a positive"):
        PerturbationTrainConfig(task="rdm-fixed", dt_ms=-1.0)
    with pytest.raises(ConfigError, match="choice threshold"):
        PerturbationTrainConfig(task="rdm-fixed", choice_threshold=1.5).build_learner()
    learner = PerturbationTrainConfig(task="wager", n_units=30, tau_ms=50.0, dt_ms=5.0).build_learner()
    assert learner.n_choices == 3 and learner.network.tau_ms == 50.0 and learner.env.dt_ms == 5.0
    assert learner.kick_prob_per_step == pytest.approx(1 - 0.997 ** 5)


def test_records_have_the_actor_critic_layout(tmp_path):
    from rewardrnn.analysis.neural import trial_table
    from rewardrnn.records import perturbation_native
    from rewardrnn.records.activity import open_activity

    learner = _learner(reward_baseline="trial-type")
    state = learner.init(jax.random.PRNGKey(0))._replace(baselines=jnp.arange(10, dtype=jnp.float32) / 10)
    table = perturbation_native.record(learner, state, jax.random.PRNGKey(1), 3, tmp_path / "activity.nc")
    assert len(table) == 30 and list(table["condition"][:10]) == list(range(10))
    ds = open_activity(tmp_path / "activity.nc")
    assert ds["rates"].shape == (30, RDM.n_steps, 20) and ds.attrs["dt_ms"] == 10.0
    valid = ds["valid"].values.astype(bool)
    assert np.array_equal(valid.sum(1) - 1, (table["choice_time_ms"].to_numpy() / 10).astype(int))
    assert np.isnan(ds["rates"].values[~valid]).all() and np.isfinite(ds["rates"].values[valid]).all()
    value = ds["value"].values[:, 0]
    np.testing.assert_allclose(value, -table["condition"].to_numpy() / 10, rtol=1e-6)  # minus Ebar_c
    assert len(trial_table(ds)) == 30
