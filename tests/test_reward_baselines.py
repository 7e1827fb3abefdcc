"""The unified model's reward baselines for Miconi's rule (trial-type, running, value, none):
each update against a hand computation, and the value network learning planted answers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rewardrnn.errors import ConfigError
from rewardrnn.learners.perturbation import (
    PerturbationConfig,
    PerturbationLearner,
    ValueBaseline,
)
from rewardrnn.networks import rate
from rewardrnn.tasks.miconi import DNMS

SMALL = rate.RateConfig(n_inputs=3, n_units=20)


def _learner(baseline: str, **options) -> PerturbationLearner:
    return PerturbationLearner(DNMS, PerturbationConfig(warmup_trials=0, reward_baseline=baseline, **options), SMALL)


def _hand_delta(learner: PerturbationLearner, state, baseline, scale) -> np.ndarray:
    """The rule's Delta J for this trial, recomputed outside the learner from the same draws, with
    a baseline and |Ebar| factor per trial (scalars) or per 1-ms step (arrays)."""
    _, k_in, k_x0, k_kick, _ = jax.random.split(state.key, 5)
    trial_type = int(state.trial) % 4
    kicks = learner.kicks(k_kick)
    x0 = rate.initial_state(k_x0, learner.network)
    _, r, r_prev, dx = learner.run(state.params, state.xbar, x0, DNMS.inputs(k_in, trial_type), kicks)
    out = np.asarray(r[:, 0], np.float64)
    error = np.abs(out[800:] - DNMS.targets[trial_type]).mean()
    r_prev, dx = np.asarray(r_prev, np.float64), np.asarray(dx, np.float64)
    weight = np.broadcast_to(np.abs(scale) * (error - np.asarray(baseline, np.float64)), (1000,))
    e = sum(weight[t] * np.outer(dx[t] ** 3, r_prev[t] ** 3) for t in range(3, 1000))  # cube, from t >= 3
    c = learner.config
    return np.clip(-c.eta * e, -c.max_dw, c.max_dw), error


@pytest.mark.parametrize("kind", ["trial-type", "running", "none"])
def test_each_running_baseline_update_equals_a_hand_computation(kind):
    learner = _learner(kind, eta=0.05)
    state = learner.init(jax.random.PRNGKey(3))
    planted = jnp.asarray([0.3, 0.9, 1.2, 0.6][:learner.n_baselines], jnp.float32)
    state = state._replace(baselines=planted, trial=jnp.asarray(5, jnp.int32))  # type 1 (AB)
    expected_b = {"trial-type": 0.9, "running": 0.3, "none": 0.0}[kind]
    scale = {"trial-type": 0.9, "running": 0.3, "none": 0.3}[kind]  # none: |running average| as the rate
    delta, error = _hand_delta(learner, state, expected_b, scale)
    new, record = learner.trial(state)
    assert float(record.baseline) == pytest.approx(expected_b)
    assert float(record.error) == pytest.approx(error, rel=1e-5)
    got = np.asarray(new.params["J"] - state.params["J"], np.float64)
    np.testing.assert_allclose(got, delta, rtol=2e-3, atol=1e-3 * np.abs(delta).max())
    assert np.abs(delta).max() > 0
    slot = 1 if kind == "trial-type" else 0
    averages = np.asarray(planted).copy()
    averages[slot] = 0.75 * averages[slot] + 0.25 * error  # alpha_R = 0.75, only the trial's slot
    np.testing.assert_allclose(np.asarray(new.baselines), averages, rtol=1e-5)


@pytest.mark.parametrize("readout_ms,reads", [(None, "rates"), (800.0, "rates"), (1000.0, "stimuli")])
def test_value_baseline_update_uses_the_pre_update_predictions(readout_ms, reads):
    """Time-resolved (the default): the trace of each 10-ms bin k is weighed by |V_k| (E - V_k);
    with a read-out time, V at that time serves the whole trial. The value network reads the
    decision network's rates or the task's inputs."""
    learner = _learner("value", eta=0.05, value_readout_ms=readout_ms, value_input=reads)
    state = learner.init(jax.random.PRNGKey(3))
    value = state.value  # a value network that already predicts something (it starts at V = 0)
    planted = dict(value.params, b_out=jnp.full_like(value.params["b_out"], 0.5),
                   W_out=0.05 * jax.random.normal(jax.random.PRNGKey(9), value.params["W_out"].shape))
    state = state._replace(trial=jnp.asarray(5, jnp.int32), value=value._replace(params=planted))
    # the value network's predictions for this trial, computed outside the learner
    _, k_in, k_x0, k_kick, _ = jax.random.split(state.key, 5)
    x0 = rate.initial_state(k_x0, learner.network)
    inputs = DNMS.inputs(k_in, 1)
    _, r, _, _ = learner.run(state.params, state.xbar, x0, inputs, learner.kicks(k_kick))
    from rewardrnn.keys import VALUE_NETWORK_STREAM
    vb = learner.value_baseline
    v = np.asarray(vb.predictions(state.value.params, state.value.masks, r if reads == "rates" else inputs,
                                  jax.random.fold_in(state.key, VALUE_NETWORK_STREAM)), np.float64)
    if readout_ms is None:
        assert v.shape == (100,)  # V_0 .. V_99, one per 10-ms bin
        per_step = np.repeat(v, 10)
    else:
        assert v.shape == (readout_ms // 10 + 1,)  # V_0 .. V_K: read at K x 10 ms
        per_step = np.full(1000, v[-1])
    delta, error = _hand_delta(learner, state, per_step, per_step)
    new, record = learner.trial(state)
    assert float(record.baseline) == pytest.approx(per_step.mean(), rel=1e-4)
    assert float(record.value_loss) == pytest.approx(float(np.mean((v - error) ** 2)), rel=1e-4)
    got = np.asarray(new.params["J"] - state.params["J"], np.float64)
    np.testing.assert_allclose(got, delta, rtol=2e-3, atol=1e-3 * max(np.abs(delta).max(), 1e-12))
    assert np.abs(delta).max() > 0
    # the value network took its Adam step (its readout first: W_out starts at 0, Song's init)
    for name in ("W_out", "b_out"):
        assert bool(jnp.any(new.value.params[name] != state.value.params[name]))


def test_value_network_learns_planted_trial_type_errors():
    """Rates of two planted 'trial types' (a unit on or off during the trial) with errors 0.2 and
    1.4: the value network's loss falls on this fixed batch and its predictions separate the
    types."""
    vb = ValueBaseline(n_rates=20, n_steps=1000, dt_ms=1.0, readout_ms=None, n_units=30, lr=0.01)
    value = vb.init(jax.random.PRNGKey(0))
    base = 0.1 * jax.random.normal(jax.random.PRNGKey(1), (1000, 20))
    rates = [base.at[:, 5].set(0.8), base.at[:, 5].set(-0.8)]
    errors = [0.2, 1.4]
    step = jax.jit(vb.learn)
    losses = []
    for i in range(300):
        _, value, loss = step(value, rates[i % 2], jnp.float32(errors[i % 2]), jax.random.PRNGKey(100 + i))
        losses.append(float(loss))
    assert np.mean(losses[-20:]) < 0.05 * np.mean(losses[:20])
    for r, e in zip(rates, errors):
        v = vb.predictions(value.params, value.masks, r, jax.random.PRNGKey(7))
        assert float(v[-1]) == pytest.approx(e, abs=0.15)  # at the end of the trial
        assert float(v[50]) == pytest.approx(e, abs=0.3)  # and half-way through


def test_value_readout_times_and_refusals():
    assert _learner("value").value_baseline.readout_bin == 99 and _learner("value").value_baseline.time_resolved
    assert _learner("value", value_readout_ms=600).value_baseline.readout_bin == 60
    assert _learner("value", value_readout_ms=5000).value_baseline.readout_bin == 100  # capped at the end
    assert _learner("value", value_readout_ms=0).value_baseline.readout_bin == 0
    vb = _learner("value", value_readout_ms=0).value_baseline
    value = vb.init(jax.random.PRNGKey(0))
    v = vb.predictions(value.params, value.masks, jnp.zeros((1000, 20)), jax.random.PRNGKey(1))
    assert v.shape == (1,)  # read from the initial state alone: a learned constant
    assert _learner("trial-type").value_baseline is None and _learner("trial-type").init(
        jax.random.PRNGKey(0)).value is None
    for bad, match in ((dict(reward_baseline="per-type"), "reward_baseline must be one of"),
                       (dict(value_lr=0.0), "learning rate must be > 0"),
                       (dict(value_units=0), "units must be an integer"),
                       (dict(value_readout_ms=-1.0), "read-out time must be >= 0")):
        with pytest.raises(ConfigError, match=match):
            PerturbationConfig(**bad)


def test_the_other_streams_do_not_depend_on_the_baseline():
    """The decision network's initial weights and first trial are the same whatever the
    baseline: the value network draws from its own stream."""
    a, b = _learner("trial-type").init(jax.random.PRNGKey(4)), _learner("value").init(jax.random.PRNGKey(4))
    np.testing.assert_array_equal(np.asarray(a.params["J"]), np.asarray(b.params["J"]))
    np.testing.assert_array_equal(np.asarray(a.key), np.asarray(b.key))


@pytest.mark.parametrize("flags", [["--baseline-lr", "0.01"], ["--value-input", "stimuli"],
                                   ["--reward-baseline", "running", "--value-readout", "600"],
                                   ["--reward-baseline", "oracle"], ["--reward-baseline", "value", "--value-input", "eyes"]])
def test_value_network_options_need_the_value_baseline(tmp_path, flags):
    from typer.testing import CliRunner

    from rewardrnn.cli import app
    result = CliRunner().invoke(app, ["train", "dnms", "--out", str(tmp_path / "run"), *flags])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()
