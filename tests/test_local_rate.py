"""The local rule on Miconi's rate network acting in Song's tasks
(:mod:`rewardrnn.learners.local_rate`): the eligibility against a hand computation on 3 units,
the update equal to the true gradient where the rule is exact, the policy's most probable
action the threshold read-out's, the refusals, and a short run read by every verb."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app
from rewardrnn.errors import ConfigError
from rewardrnn.learners import local_rate
from rewardrnn.learners.local import cosine
from rewardrnn.training.perturbation_config import LocalRateTrainConfig

runner = CliRunner()


def _learner(**options) -> local_rate.LocalRateLearner:
    return LocalRateTrainConfig(task="rdm-fixed", n_units=12, **options).build_learner()


def _run(rng, learner, steps=4, batch=2) -> local_rate.PolicyRun:
    """A recorded run of ``learner``'s network on random drives (the actions drawn at random)."""
    n, actions = learner.network.n_units, learner.env.n_actions
    x0 = jnp.asarray(rng.normal(0, 0.5, (batch, n)), jnp.float32)
    drive = jnp.asarray(rng.normal(0, 1, (steps, batch, n)), jnp.float32)
    j = jnp.asarray(rng.normal(0, 0.5, (n, n)), jnp.float32)
    run = local_rate.PolicyRun(None, None, jnp.asarray(rng.integers(0, actions, (steps, batch)), jnp.int32),
                               None, x0, drive)
    r = learner.replay_rates(j, run)
    pi = jax.nn.softmax(learner.logits(r))
    return run._replace(r=r, pi=pi), j


def test_eligibility_against_a_hand_computation_on_three_units():
    """e_ji[k+1] = (1 - alpha) e_ji[k] + alpha r_i[k], e[0] = 0; the update sum_k l_j[k] e_ji[k]
    with l_j = f'(x_j) (F dz)_j, computed step by step in numpy."""
    learner = _learner()
    a = learner.a
    rng = np.random.default_rng(0)
    steps, n = 4, 3
    r = rng.uniform(-0.9, 0.9, (steps, 1, n))
    dz_units = rng.normal(0, 1, (steps, 1, n))  # F dz given directly: feedback = identity
    run = local_rate.PolicyRun(jnp.asarray(r, jnp.float32), None, None, None, None, None)
    learner.trained_rows = jnp.ones((n, 1))
    got = np.asarray(learner.local_update(jnp.eye(n), run, jnp.asarray(dz_units, jnp.float32)))
    e = np.zeros((n, n))
    want = np.zeros((n, n))
    for k in range(steps):
        l_k = dz_units[k, 0] * (1 - r[k, 0] ** 2)
        want += l_k[:, None] * e  # [post j, pre i]
        e = (1 - a) * e + a * r[k, 0][None, :]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    # by hand, two steps: only l[1] counts, against e[1] = alpha r[0]
    two = np.asarray(learner.local_update(jnp.eye(n), run._replace(r=run.r[:2]), jnp.asarray(dz_units[:2], jnp.float32)))
    np.testing.assert_allclose(two, np.outer(dz_units[1, 0] * (1 - r[1, 0] ** 2), a * r[0, 0]), rtol=1e-5)


def test_with_the_choice_units_own_error_and_one_judged_step_the_update_is_the_gradient():
    """At step 1 only x_1 of the choice units reaches the logits, through J's rows of those
    units and the rates r_0: the rule misses nothing, so its update equals BPTT's."""
    learner = _learner(feedback="readout")
    run, j = _run(np.random.default_rng(1), learner)
    dz = jnp.zeros(run.pi.shape).at[1].set(jnp.asarray(np.random.default_rng(2).normal(0, 1, run.pi.shape[1:])))
    params = {"J": j}
    local = learner.local_update(learner.exact_feedback, run, dz)
    true = learner.bptt_gradient(params, run, dz)
    assert float(jnp.abs(true).max()) > 1e-3
    np.testing.assert_allclose(np.asarray(local), np.asarray(true), rtol=1e-4, atol=1e-6)
    # a later judged step: paths through other units count, the rule is an approximation
    dz_late = jnp.zeros(run.pi.shape).at[3].set(dz[1])
    later = float(cosine(learner.local_update(learner.exact_feedback, run, dz_late),
                         learner.bptt_gradient(params, run, dz_late)))
    assert 0.0 < later < 0.9999


def test_the_policys_most_probable_action_is_the_threshold_read_out():
    learner = _learner()
    rates = jnp.asarray(np.random.default_rng(3).uniform(-1, 1, (500, 12)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(jnp.argmax(learner.logits(rates), -1)), np.asarray(learner.actions(rates)))
    state = learner.init(jax.random.PRNGKey(0))
    assert np.all(np.asarray(state.params["J"])[:learner.n_choices] == 0)  # the choice units start silent
    f = np.asarray(learner.feedback(state))
    np.testing.assert_array_equal(f[:learner.n_choices], np.asarray(learner.exact_feedback)[:learner.n_choices])
    assert np.all(f[list(learner.network.bias_units)] == 0) and np.abs(f[learner.n_choices + 3:]).sum() > 0


def test_refusals_name_the_bad_value():
    with pytest.raises(ConfigError, match="feedback must be one of random, readout"):
        LocalRateTrainConfig(task="rdm-fixed", feedback="symmetric")
    with pytest.raises(ConfigError, match="Miconi's tasks"):
        LocalRateTrainConfig(task="dnms")
    with pytest.raises(ConfigError, match="belong"):
        LocalRateTrainConfig(task="rdm-fixed", nonlinearity="identity")
    for args, message in ((["train", "dnms", "--learner", "local", "--network", "rate"], "does not train with the local"),
                          (["train", "rdm-fixed", "--network", "spiking"], "network must be one of gated, rate"),
                          (["train", "rdm-fixed", "--learner", "supervised", "--network", "rate"], "--network rate is not offered"),
                          (["train", "rdm-fixed", "--learner", "local", "--network", "rate", "--rule", "rflo"],
                           "--rule does not apply"),
                          (["train", "rdm-fixed", "--learner", "local", "--network", "rate", "--batch", "0"], "batch")):
        result = runner.invoke(app, args + ["-o", "/nonexistent/never"])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output


@pytest.mark.slow
def test_a_short_run_learns_to_decide_and_every_verb_reads_it(tmp_path):
    """Seeded: a fresh network with silent choice units decides on few trials (it breaks
    fixation at random, P(decision) about 0.1); within 2,000 trials it holds fixation and decides
    on most validation trials, the update aligned with BPTT's gradient."""
    out = tmp_path / "rate"
    result = runner.invoke(app, ["train", "rdm-fixed", "--learner", "local", "--network", "rate", "--N", "60",
                                 "--trials", "2000", "--checkfreq", "1000", "--track-alignment", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    import pandas as pd

    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics["p_decision"].iloc[0] < 0.2 and metrics["p_decision"].iloc[-1] > 0.5, metrics["p_decision"].tolist()
    assert metrics["bptt_cosine"].iloc[-1] > 0.1, metrics["bptt_cosine"].tolist()
    assert json.loads((out / "summary.json").read_text())["kind"] == "local/rate"
    config = json.loads((out / "config.json").read_text())
    assert config["network"] == "rate" and config["learner"] == "local"
    for args in (["evaluate", str(out), "-n", "20"], ["record", str(out), "-n", "5"],
                 ["fixedpoints", str(out), "--candidates", "64"], ["perturb", str(out), "-n", "20", "--silence", "0"],
                 ["analyze", str(out)], ["report", str(out)], ["export", str(out), "--format", "npz"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    result = runner.invoke(app, ["config", str(out)])
    assert result.exit_code == 0, result.output
    (tmp_path / "run.toml").write_text(result.output)
    import xarray as xr

    ds = xr.open_dataset(next(out.glob("**/activity*.nc")))
    assert ds.attrs["learner"] == "local"
    result = runner.invoke(app, ["train", "--config", str(tmp_path / "run.toml"), "--trials", "1000",
                                 "-o", str(tmp_path / "again"), "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "again" / "summary.json").read_text())["kind"] == "local/rate"
