"""Miconi 2017: the rate network (spec §2), the perturbation rule (§3) and its tasks (§4)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rewardrnn.errors import ConfigError, UnknownNameError
from rewardrnn.learners.perturbation import (NONLINEARITIES, PerturbationConfig, PerturbationLearner,
                                             trials_to_criterion)
from rewardrnn.networks import rate
from rewardrnn.tasks.miconi import DNMS, DNMS_VARIABLE_DELAY, SELECTIVE_INTEGRATION, get_continuous_task


# ---- network ----------------------------------------------------------------------------------
def test_one_step_against_a_hand_computation():
    cfg = rate.RateConfig(n_inputs=2, n_units=4, bias_units=(1,), bias_values=(1.0,))
    params = {"J": jnp.asarray([[0.1, -0.2, 0.0, 0.3], [0.5, 0.5, 0.5, 0.5], [0.0, 0.4, -0.1, 0.0],
                                [0.2, 0.0, 0.0, -0.3]]),
              "W_in": jnp.asarray([[0.0, 0.0], [1.0, 1.0], [0.5, -1.0], [0.25, 0.0]])}
    x = np.array([0.2, 1.0, -0.4, 0.1])
    u = np.array([1.0, 0.5])
    kick = np.array([0.0, 0.0, 16.0, 0.0])
    r = np.tanh(x)
    h = np.asarray(params["J"]) @ r + np.asarray(params["W_in"]) @ u + kick
    expected = x + (h - x) / 30
    expected[1] = 1.0  # clamped bias neuron
    got = rate.step(params, cfg, jnp.asarray(x, jnp.float32), jnp.asarray(u, jnp.float32),
                    jnp.asarray(kick, jnp.float32), 1 / 30)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6, atol=1e-7)


def test_initialisation_statistics():
    cfg = rate.RateConfig(n_inputs=3)
    params = rate.init(jax.random.PRNGKey(0), cfg)
    j, w = np.asarray(params["J"]), np.asarray(params["W_in"])
    assert j.shape == (200, 200) and w.shape == (200, 3)
    assert j.std() == pytest.approx(1.5 / np.sqrt(200), rel=0.02) and abs(j.mean()) < 0.003
    assert (w[0] == 0).all()  # the output neuron gets no direct input
    assert w[1:].min() >= -1 and w[1:].max() <= 1 and w[1:].std() == pytest.approx(1 / np.sqrt(3), rel=0.1)
    x0 = np.asarray(rate.initial_state(jax.random.PRNGKey(1), cfg, (500,)))
    np.testing.assert_array_equal(x0[:, [1, 10, 11]], np.tile([1.0, 1.0, -1.0], (500, 1)))
    rest = np.delete(x0, [1, 10, 11], axis=1)
    assert rest.min() >= -0.1 and rest.max() <= 0.1 and rest.std() == pytest.approx(0.2 / np.sqrt(12), rel=0.02)
    with pytest.raises(ConfigError, match="distinct neurons"):
        rate.RateConfig(n_inputs=3, n_units=5, bias_units=(1, 10, 11))


# ---- rule -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(NONLINEARITIES))
def test_separable_eligibility_equals_the_per_step_accumulation(name):
    """S(a b) = S(a) S(b) for every S offered, so sum_t S(dx_i r_j) = (S(dx)^T S(r))_ij."""
    learner = PerturbationLearner(DNMS, PerturbationConfig(nonlinearity=name),
                                  rate.RateConfig(n_inputs=3, n_units=20))
    state = learner.init(jax.random.PRNGKey(0))
    kicks = learner.kicks(jax.random.PRNGKey(1))
    x0 = rate.initial_state(jax.random.PRNGKey(2), learner.network)
    _, _, r_prev, dx = learner.run(state.params, state.xbar, x0, DNMS.inputs(jax.random.PRNGKey(3), 1), kicks)
    fast = np.asarray(learner.eligibility(r_prev, dx, kicks), np.float64)
    s = {"cube": lambda z: z ** 3, "signed-square": lambda z: z * np.abs(z), "identity": lambda z: z,
         "signed-sqrt": lambda z: np.sign(z) * np.sqrt(np.abs(z))}[name]
    naive = np.zeros((20, 20))
    r_prev, dx = np.asarray(r_prev, np.float64), np.asarray(dx, np.float64)
    for t in range(3, DNMS.n_steps):  # Hebbian accumulation from t >= 3
        naive += s(np.outer(dx[t], r_prev[t]))
    np.testing.assert_allclose(fast, naive, rtol=2e-4, atol=1e-6 * np.abs(naive).max())


def test_kicks_rate_amplitude_and_onset():
    learner = PerturbationLearner(DNMS)
    kicks = np.asarray(jax.vmap(learner.kicks)(jax.random.split(jax.random.PRNGKey(0), 10))).reshape(-1, 200)
    kicks = kicks.reshape(10, 1000, 200).transpose(1, 0, 2).reshape(1000, -1)  # (time, trials x neurons)
    assert (kicks[:4] == 0).all()  # kicks from t >= 4
    kicked = kicks != 0
    assert kicked.mean() == pytest.approx(0.003 * 996 / 1000, rel=0.05)  # 3 Hz per neuron
    assert np.abs(kicks).max() <= 16 and np.abs(kicks[kicked]).mean() == pytest.approx(8, rel=0.05)
    from scipy import stats  # the size is A U(-1, 1), whatever decided the kick (the same uniform)

    assert stats.kstest(kicks[kicked], "uniform", args=(-16.0, 32.0)).pvalue > 0.01


def test_baselines_are_kept_per_trial_type_and_updates_are_clipped():
    learner = PerturbationLearner(DNMS, PerturbationConfig(warmup_trials=0, eta=1e3),
                                  rate.RateConfig(n_inputs=3, n_units=30))
    state = learner.init(jax.random.PRNGKey(0))
    trial = jax.jit(learner.trial)
    errors = []
    for n in range(8):
        before = state
        state, record = trial(state)
        errors.append(float(record.error))
        k = n % 4
        assert int(record.trial_type) == k  # types cycled AA, AB, BA, BB
        expected = 0.75 * float(before.baselines[k]) + 0.25 * errors[-1]
        assert float(state.baselines[k]) == pytest.approx(expected, rel=1e-6)
        others = [i for i in range(4) if i != k]
        np.testing.assert_array_equal(np.asarray(state.baselines)[others], np.asarray(before.baselines)[others])
        delta = np.abs(np.asarray(state.params["J"] - before.params["J"]))
        assert delta.max() <= 3e-4 + 1e-7  # eta huge: every update hits the clip (+ float32 rounding of J)
        if n >= 4:  # from the second cycle the baselines are non-zero, so the code form moves J
            assert delta.max() == pytest.approx(3e-4, rel=1e-3)


def test_no_learning_during_warm_up_and_the_paper_form():
    learner = PerturbationLearner(DNMS, network=rate.RateConfig(n_inputs=3, n_units=20))
    state = learner.init(jax.random.PRNGKey(0))
    new, _ = jax.jit(lambda s: learner.train(s, 20))(state)
    np.testing.assert_array_equal(np.asarray(new.params["J"]), np.asarray(state.params["J"]))
    paper = PerturbationLearner(DNMS, PerturbationConfig(update="paper")).config
    assert (paper.eta, paper.alpha_baseline, paper.max_dw) == (0.5, 0.33, 1e-4)
    code = PerturbationLearner(SELECTIVE_INTEGRATION).config
    assert (code.eta, code.max_dw, code.kick_amplitude, code.alpha_baseline) == (0.01, 2e-4, 30.0, 0.75)
    with pytest.raises(ConfigError, match="nonlinearity must be one of"):
        PerturbationConfig(nonlinearity="square")


# ---- tasks ------------------------------------------------------------------------------------
def test_dnms_inputs_and_targets():
    names = {0: ("A", "A", -0.98), 1: ("A", "B", 0.98), 2: ("B", "A", 0.98), 3: ("B", "B", -0.98)}
    for k, (first, second, target) in names.items():
        u = np.asarray(DNMS.inputs(jax.random.PRNGKey(0), k))
        ch1 = 1 if first == "A" else 2
        ch2 = 1 if second == "A" else 2
        assert (u[1:201, ch1] == 1).all() and (u[[0, 201], ch1] == 0).all()
        assert (u[400:600, ch2] == 1).all() and (u[[399, 600], ch2] == 0).all()
        assert u.sum() == 400 and (u[:, 0] == 0).all()
        assert DNMS.targets[k] == target
    assert np.asarray(DNMS.response_mask()).sum() == 200


def test_dnms_error_of_each_trial_type():
    """A silent network (J = 0, no kicks) decays to r_out = 0 before the response window, so its
    error is |0 - target| = 0.98 on every trial type; one whose output neuron is driven to x = 1
    by a bias neuron errs by |tanh(1) - target|: 1.742 on AA / BB, 0.218 on AB / BA."""
    learner = PerturbationLearner(DNMS, PerturbationConfig(kick_prob=0.0), rate.RateConfig(n_inputs=3, n_units=20))
    state = learner.init(jax.random.PRNGKey(0))
    state = state._replace(params={"J": jnp.zeros((20, 20)), "W_in": jnp.zeros((20, 3))})
    for k in range(4):
        state, record = learner.trial(state, learn=False)
        assert int(record.trial_type) == k and float(record.error) == pytest.approx(0.98, abs=1e-6)
    # output neuron 0 driven by bias neuron 1 (r = tanh 1) through J[0, 1] = 1 / tanh(1): x_out -> 1
    j = jnp.zeros((20, 20)).at[0, 1].set(1 / np.tanh(1.0))
    state = state._replace(params={"J": j, "W_in": jnp.zeros((20, 3))})
    for k in range(4):
        state, record = learner.trial(state, learn=False)
        assert float(record.error) == pytest.approx(abs(np.tanh(1.0) - DNMS.targets[k]), abs=1e-5)


def test_selective_integration_input_statistics():
    keys = jax.random.split(jax.random.PRNGKey(0), 400)
    for k in range(4):
        u = np.asarray(jax.vmap(lambda key: SELECTIVE_INTEGRATION.inputs(key, k))(keys))  # (400, 700, 5)
        attend = k % 2  # 0: modality 1, 1: modality 2
        relevant = 1 + attend
        sign = 1 if k < 2 else -1
        window = u[:, 1:501, relevant]
        assert window.mean() == pytest.approx(0.25 * sign, abs=0.01)  # 0.5 (N(0,1) + b), b = +-0.5
        assert window.std() == pytest.approx(0.5, rel=0.02)
        irrelevant = u[:, 1:501, 3 - relevant].mean(axis=1)
        assert set(np.round(np.sign(irrelevant))) == {-1.0, 1.0}  # random sign per trial
        assert (u[:, [0] + list(range(501, 700)), 1:3] == 0).all()
        assert (u[:, :, 3 + attend] == 1).all() and (u[:, :, 4 - attend] == 0).all()
        assert SELECTIVE_INTEGRATION.targets[k] == sign


def test_variable_delay_onsets_and_registry():
    onsets = [int(np.flatnonzero(np.asarray(DNMS_VARIABLE_DELAY.inputs(jax.random.PRNGKey(i), 1))[:, 2])[0])
              for i in range(300)]
    assert min(onsets) >= 601 and max(onsets) <= 1099 and np.std(onsets) > 100
    assert get_continuous_task("dnms") is DNMS
    with pytest.raises(UnknownNameError, match="dnms"):
        get_continuous_task("dmns")


def test_trials_to_criterion():
    errors = np.full((2, 300), 2.0)
    errors[0, 50:] = 0.5  # from trial 50 every trial is good: the 96th good one is trial 145
    np.testing.assert_array_equal(trials_to_criterion(errors), [146, -1])
    errors[1, 10:110] = 0.1
    errors[1, 10:14] = 2.0  # only 96 good in 10..109: window ending at trial 110 has 96
    assert trials_to_criterion(errors[1]) == 110


@pytest.mark.slow
def test_dnms_learns_with_the_cube_and_vectorised_seeds():
    """Two seeds trained together reach Miconi's criterion within 3,000 trials."""
    learner = PerturbationLearner(DNMS)
    states = jax.vmap(learner.init)(jax.random.split(jax.random.PRNGKey(0), 2))
    train = jax.jit(jax.vmap(lambda s: learner.train(s, 500)))
    errors = []
    for _ in range(6):
        states, e = train(states)
        errors.append(np.asarray(e))
    reached = trials_to_criterion(np.concatenate(errors, axis=1))
    assert (reached > 0).all(), reached
    # Miconi's analyses of the trained network (Fig. 2, 3): what was shown first is decodable
    # through the delay, the response code is there at the end; MDS separates by stimulus 1 at 200 ms
    import tempfile

    import xarray as xr

    from rewardrnn.analysis import miconi_suite
    from rewardrnn.records import perturbation as records
    params = jax.tree_util.tree_map(lambda a: a[0], states.params)
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/activity.nc"
        table = records.record(learner, params, jax.random.PRNGKey(3), 10, path)
        assert len(table) == 40 and (table.groupby("trial_type")["error"].mean() < 1).all()
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            assert ds["rates"].shape == (40, 100, 200) and list(ds["time"].values[[0, -1]]) == [9.0, 999.0]
            result = miconi_suite.analyze("dnms", ds.load(), n_splits=10)
    decoding = result.numbers["cross_temporal_decoding"]
    assert decoding["stimulus 1"]["diagonal_0_200ms"] > 0.9 and decoding["stimulus 1"]["diagonal_200_400ms"] > 0.8
    assert decoding["response"]["diagonal_800_1000ms"] > 0.8 and decoding["response"]["diagonal_0_200ms"] < 0.7
    mds = result.numbers["mds_cluster_separation"]["200ms"]
    assert mds["stimulus_1_separation"] > 3 * mds["response_separation"]
    assert {"decoding_stimulus_1", "decoding_response", "mds", "output_by_trial_type"} <= set(result.figures)


# ---- E/I network, trial order, gradient alignment, CLI ----------------------------------------
def test_ei_network_keeps_dales_law_and_its_rates():
    from rewardrnn.tasks.miconi import DNMS_EI

    learner = PerturbationLearner(DNMS_EI, PerturbationConfig(warmup_trials=0, eta=10.0))
    assert learner.network.kind == "ei" and learner.config.max_dw == 1e-4
    state = learner.init(jax.random.PRNGKey(0))
    j = np.asarray(state.params["J"])
    assert ((j[:, :100] > 0).sum(1) == 50).all() and ((j[:, 100:] < 0).sum(1) == 50).all()
    assert set(np.unique(j)) == {0.0, np.float32(0.15), np.float32(-0.18)}
    x = rate.initial_state(jax.random.PRNGKey(1), learner.network)
    np.testing.assert_allclose(np.asarray(rate.rates(x, learner.network))[[1, 10, 11]], [3.0, 3.0, 1.0])
    np.testing.assert_array_equal(np.asarray(rate.rates(jnp.asarray([-3.0, 0.0, 30.0]), learner.network)),
                                  [0.0, 2.0, 20.0])
    trial = jax.jit(learner.trial)
    for _ in range(8):
        state, _ = trial(state)
    j = np.asarray(state.params["J"])
    assert (j[:, :100] >= 0).all() and (j[:, 100:] <= 0).all()
    assert DNMS_EI.targets == (0.02, 5.98, 5.98, 0.02) and DNMS_EI.error_threshold == 2.5


def test_random_trial_order_draws_every_type():
    learner = PerturbationLearner(DNMS, PerturbationConfig(trial_order="random", warmup_trials=10_000),
                                  rate.RateConfig(n_inputs=3, n_units=20))
    state = learner.init(jax.random.PRNGKey(0))
    trial = jax.jit(learner.trial)
    types = []
    for _ in range(40):
        state, record = trial(state)
        types.append(int(record.trial_type))
    counts = np.bincount(types, minlength=4)
    assert counts.min() >= 3 and types[:8] != [0, 1, 2, 3, 0, 1, 2, 3]


def test_gradient_alignment_reproduces_the_papers_ordering():
    """Miconi Fig. 9: the cube and x|x| traces follow node perturbation, identity and sqrt do not."""
    from rewardrnn.experiments.gradient_alignment import run_episodes

    rho = run_episodes(jax.random.PRNGKey(0), n_episodes=300)["spearman_vs_node_perturbation"]
    assert rho["cube"] > 0.9 and rho["signed-square"] > 0.9
    assert abs(rho["identity"]) < 0.3 and rho["signed-sqrt"] < 0.3


def test_perturbation_training_from_the_cli_and_resume(tmp_path):
    from typer.testing import CliRunner

    from rewardrnn.cli import app

    runner = CliRunner()
    out = tmp_path / "dnms"
    args = ["train", "dnms", "--seeds", "2", "--N", "30", "--trial-order", "random", "-q", "--out", str(out)]
    result = runner.invoke(app, args + ["--trials", "250"])
    assert result.exit_code == 0, result.output
    assert np.load(out / "errors.npy").shape == (2, 250)
    result = runner.invoke(app, args + ["--trials", "500", "--resume"])
    assert result.exit_code == 0, result.output
    errors = np.load(out / "errors.npy")
    assert errors.shape == (2, 500) and np.isfinite(errors).all()
    import json
    summary = json.loads((out / "summary.json").read_text())
    assert [seed["updates"] for seed in summary["seeds"]] == [500, 500] and summary["learner"] == "perturbation"
    assert summary["resolved_config"]["eta"] == 0.1 and summary["resolved_config"]["max_dw"] == 3e-4
    assert summary["resolved_config"]["trial_order"] == "random"
    import pandas as pd
    metrics = pd.read_csv(out / "metrics.csv")  # the gap to "more than 95 of the last 100 good"
    expected = np.where(metrics["criterion_met"], 0.0, np.maximum(0.0, (96 - metrics["good_of_last_100"]) / 100))
    assert metrics["criterion_gap"].to_numpy() == pytest.approx(expected)
    plotted = runner.invoke(app, ["plot", str(out)])
    assert plotted.exit_code == 0 and (out / "figures" / "error_curve.png").is_file()
    recorded = runner.invoke(app, ["record", str(out), "-n", "4", "--seed", "2"])
    assert recorded.exit_code == 0 and "16 trials recorded" in recorded.output, recorded.output
    analysed = runner.invoke(app, ["analyze", str(out), "--seed", "2"])
    assert analysed.exit_code == 0, analysed.output
    assert (out / "analysis" / "seed2" / "decoding_response.svg").is_file()
    reported = runner.invoke(app, ["report", str(out), "--seed", "2"])
    assert reported.exit_code == 0 and reported.output.strip().endswith("report.html")
    assert "median 843" in (out / "report.html").read_text()
    refused = runner.invoke(app, ["record", str(out), "--seed", "7"])
    assert refused.exit_code == 2 and "its seeds are [1, 2]" in refused.output
    evaluated = runner.invoke(app, ["evaluate", str(out), "-n", "5"])  # test trials per type, no learning
    assert evaluated.exit_code == 0 and "trial_type" in evaluated.output and "(20 trials)" in evaluated.output, \
        evaluated.output
    refused = runner.invoke(app, ["evaluate", str(out), "--dt", "5"])
    assert refused.exit_code == 2 and "--dt does not apply" in refused.output
    refused = runner.invoke(app, ["train", "rdm-fixed", "--resume", "--out", str(out)])
    assert refused.exit_code == 2 and "holds a run of kind perturbation (dnms), not actor-critic" in refused.output
    bad = runner.invoke(app, ["train", "dnms", "--learner", "actor-critic", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "does not train with the actor-critic learner" in bad.output
    bad = runner.invoke(app, ["train", "dnms", "--dt", "5", "--out", str(tmp_path / "z")])
    assert bad.exit_code == 2 and "--dt does not apply to the perturbation rule" in bad.output
    assert not (tmp_path / "z").exists()  # refused before any work
    bad = runner.invoke(app, ["train", "dnms", "--nonlinearity", "square", "--out", str(tmp_path / "y")])
    assert bad.exit_code == 2 and "nonlinearity must be one of" in bad.output


def test_python_api_trains_miconi_tasks(tmp_path):
    import rewardrnn

    summary = rewardrnn.train("dnms", out=tmp_path / "d", progress=False, n_units=20, n_trials=10, n_seeds=2).summary
    assert summary["learner"] == "perturbation" and len(summary["seeds"]) == 2
    assert [s["updates"] for s in summary["seeds"]] == [250, 250]  # the budget rounded up to a whole chunk
    with pytest.raises(ConfigError, match="do not apply to the perturbation rule"):
        rewardrnn.train("dnms", out=tmp_path / "e", lr=0.1)
