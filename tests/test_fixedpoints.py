"""Fixed points on systems with known answers, the input conditions of a protocol, and the
`fixedpoints` command's refusals. (The command on trained runs of each kind: test_runs.py.)"""

import json

import jax
import numpy as np
import jax.numpy as jnp
import pytest
from typer.testing import CliRunner

from rewardrnn.analysis import fixedpoint_inputs as fpi
from rewardrnn.analysis import fixedpoints as fp
from rewardrnn.cli import app
from rewardrnn.errors import ConfigError
from rewardrnn.tasks.rdm import RDM_FIXED

A = 0.1  # dt / tau


def _dynamics(step, n_inputs=1, name="toy"):
    return fp.Dynamics(step=step, rates=jnp.tanh, states_from_rates=lambda r: r, dt_ms=10.0,
                       inputs=tuple(f"u{i}" for i in range(n_inputs)), name=name)


def _find(step, candidates, inputs=None, n_inputs=1, **options):
    inputs = np.zeros((len(candidates), n_inputs), np.float32) if inputs is None else inputs
    return fp.find(_dynamics(step, n_inputs), candidates, inputs, np.zeros(len(candidates), int), ["c"],
                   fp.FinderOptions(**options))


def test_a_linear_system_has_its_one_fixed_point_and_its_eigenvalues():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(4, 4)).astype(np.float32)
    w = 0.5 * m / np.max(np.abs(np.linalg.eigvals(m)))  # spectral radius 0.5
    b = rng.normal(size=(4, 2)).astype(np.float32)
    u = np.array([0.3, -0.7], np.float32)
    step = lambda x, u: x + A * (-x + x @ w.T + b @ u)  # noqa: E731
    ds = _find(step, rng.normal(size=(200, 4)).astype(np.float32), np.tile(u, (200, 1)), n_inputs=2)
    assert ds.sizes["point"] == 1
    expected = np.linalg.solve(np.eye(4) - w, b @ u)
    np.testing.assert_allclose(ds["state"].values[0], expected, atol=1e-4)
    jac = np.eye(4) + A * (w - np.eye(4))
    want = np.sort(np.abs(np.linalg.eigvals(jac)))[::-1]
    np.testing.assert_allclose(np.abs(fp.eigenvalues(ds)[0]), want, atol=1e-5)
    np.testing.assert_allclose(ds["input_jacobian"].values[0], A * b, atol=1e-6)
    assert ds["stability"].values[0] == "stable"
    tau = ds["timescale_ms"].values[0]
    np.testing.assert_allclose(tau, -10.0 / np.log(want), rtol=1e-4)


def test_independent_bistable_units_have_all_their_fixed_points_with_the_right_stability():
    """x' = x + a(-x + tanh(2x)) per unit: fixed points 0 (unstable, lambda = 1 + a) and
    +-0.9575 (stable, lambda = 1 + a(2(1 - 0.9575^2) - 1)); three units give 3^3 = 27 points:
    8 stable, 1 unstable (the origin), 18 saddles."""
    n = 3
    step = lambda x, u: x + A * (-x + jnp.tanh(2 * x))  # noqa: E731
    grid = np.stack(np.meshgrid(*[np.linspace(-1.4, 1.4, 9)] * n), -1).reshape(-1, n).astype(np.float32)
    ds = _find(step, grid)
    assert ds.sizes["point"] == 27
    star = 0.957504
    assert np.allclose(np.sort(np.unique(np.round(np.abs(ds["state"].values), 4))), [0.0, round(star, 4)])
    stability = ds["stability"].values
    assert (stability == "stable").sum() == 8 and (stability == "unstable").sum() == 1
    assert (stability == "saddle").sum() == 18
    assert (ds["q"].values < 1e-12).all()
    lam_out = 1 + A * (2 * (1 - star ** 2) - 1)
    stable = fp.eigenvalues(ds)[stability == "stable"]
    np.testing.assert_allclose(np.abs(stable), lam_out, atol=1e-4)
    origin = fp.eigenvalues(ds)[stability == "unstable"][0]
    np.testing.assert_allclose(np.abs(origin), 1 + A, atol=1e-5)
    assert (ds["n_unstable"].values == np.sum(np.abs(ds["state"].values) < 0.01, axis=1)).all()


def test_a_line_attractor_is_marginal_with_its_selection_vector():
    """W = v v^T + 0.5 (I - v v^T): every point on the line c v is fixed, with one eigenvalue 1
    (the line) and the others 1 - 0.5 a; the left eigenvector of the slow mode is v, so the
    selection vector of an input b is v . (a b)."""
    rng = np.random.default_rng(1)
    v = rng.normal(size=5)
    v /= np.linalg.norm(v)
    w = (np.outer(v, v) + 0.5 * (np.eye(5) - np.outer(v, v))).astype(np.float32)
    b = rng.normal(size=(5, 1)).astype(np.float32)
    step = lambda x, u: x + A * (-x + x @ w.T + b @ u)  # noqa: E731
    start = rng.normal(size=(300, 5)).astype(np.float32) * 2
    ds = _find(step, start, unique_tol=1e-3)
    x = ds["state"].values
    off_line = x - np.outer(x @ v, v)
    assert np.abs(off_line).max() < 1e-3 and ds.sizes["point"] > 10  # many distinct points, all on the line
    lam = np.abs(fp.eigenvalues(ds))
    np.testing.assert_allclose(lam[:, 0], 1.0, atol=1e-5)
    np.testing.assert_allclose(lam[:, 1:], 1 - 0.5 * A, atol=1e-5)
    assert set(ds["stability"].values) == {"marginal"}
    left = fp.left_vectors(ds)[:, :, 0].real
    right = fp.right_vectors(ds)[:, :, 0].real
    np.testing.assert_allclose(np.abs(right @ v), 1.0, atol=1e-4)
    np.testing.assert_allclose(np.sum(left * right, axis=1), 1.0, atol=1e-4)  # l^H r = 1
    np.testing.assert_allclose(fp.selection(ds)[:, 0, 0].real, A * (left @ b[:, 0]), atol=1e-5)
    np.testing.assert_allclose(np.abs(fp.selection(ds)[:, 0, 0]), A * abs(v @ b[:, 0]), atol=1e-4)


def test_float64_locates_a_fixed_point_beyond_float32_resolution():
    """A fixed point far from 0 (x* = 1000.6): in float32 F(x) - x rounds to 0 about 5e-4 away
    from it (q = 0 there, yet the point is off); float64 finds it to 1e-9."""
    step = lambda x, u: x + A * (-0.5 * x + 500.3)  # noqa: E731
    start = np.linspace(990, 1010, 8, dtype=np.float32)[:, None]
    ds32 = _find(step, start, tol_q=0.0, max_steps=300)
    ds64 = _find(step, start, tol_q=0.0, max_steps=300, float64=True)
    assert ds64["state"].dtype == np.float64 and ds32["state"].dtype == np.float32
    assert np.abs(ds32["state"].values[:, 0] - 1000.6).max() > 1e-5
    np.testing.assert_allclose(ds64["state"].values[:, 0], 1000.6, rtol=0, atol=1e-9)


def test_candidates_that_cannot_be_evaluated_leave_an_empty_result():
    from rewardrnn.figures import fixedpoints as figures
    step = lambda x, u: x + A * (-x + jnp.tanh(2 * x))  # noqa: E731
    ds = _find(step, np.full((4, 2), np.nan, np.float32))
    assert ds.sizes["point"] == 0 and fp.summary(ds)["points"] == 0
    figures.pca_plane(ds, np.zeros((1, 3, 2)), np.zeros(2), np.eye(2), fp.SLOW_Q)
    figures.spectra(ds, fp.SLOW_Q)
    figures.selection_vectors(fp.summary(ds))


def test_rdm_fixed_epochs_give_eleven_noise_free_input_conditions():
    conditions = fpi.protocol_conditions(RDM_FIXED)
    labels = [c[0] for c in conditions]
    assert len(conditions) == 11
    assert labels[0] == "fixation" and labels[-1] == "decision"
    assert "stimulus coherence=0" in labels and "stimulus direction=1 coherence=51.2" in labels
    values = dict(conditions)
    np.testing.assert_allclose(values["fixation"], [1, 0, 0])
    np.testing.assert_allclose(values["decision"], [0, 0, 0])
    np.testing.assert_allclose(values["stimulus direction=1 coherence=51.2"], [1, (1 - 0.512) / 2, (1 + 0.512) / 2],
                               rtol=1e-6)


def test_input_conditions_are_parsed_or_refused_by_name():
    channels = ["FIXATION", "LEFT", "RIGHT"]
    recorded = np.zeros((5, 3), np.float32)
    got = fpi.resolve(["FIXATION=1,RIGHT=0.6", "zero", "trajectory"], channels, RDM_FIXED, recorded)
    np.testing.assert_allclose(got.values[0], [1, 0, 0.6])
    assert got.labels == ["FIXATION=1,RIGHT=0.6", "zero", "trajectory"] and got.trajectory == 2
    with pytest.raises(ConfigError, match="unknown input condition 'stimulis'.*stimulus"):
        fpi.resolve(["stimulis"], channels, RDM_FIXED, recorded)
    with pytest.raises(ConfigError, match="unknown input channel 'UP'"):
        fpi.resolve(["UP=1"], channels, RDM_FIXED, recorded)
    with pytest.raises(ConfigError, match="--candidates must be an integer >= 1, got 0"):
        fpi.candidates(recorded, recorded, got, 0, lambda r: r, 0.0, 0)


def test_recorded_conditions_keep_cues_and_zero_noisy_channels():
    rng = np.random.default_rng(0)
    cue = np.repeat([[1.0, 0.0], [0.0, 1.0]], 50, axis=0)
    noisy = rng.normal(size=(100, 1))
    got = fpi.recorded_conditions(np.concatenate([cue, noisy], 1).astype(np.float32), ["a", "b", "evidence"])
    assert [c[0] for c in got] == ["b=1", "a=1"]
    assert all(c[1][2] == 0 for c in got)


def test_candidates_are_spread_over_conditions_and_keep_trajectory_inputs():
    rates = np.arange(40, dtype=np.float32).reshape(20, 2)
    inputs = np.arange(20, dtype=np.float32)[:, None]
    conditions = fpi.InputConditions(["zero", "trajectory"], np.zeros((2, 1), np.float32), trajectory=1)
    states, u, condition = fpi.candidates(rates, inputs, conditions, 9, lambda r: r, 0.0, 0)
    assert np.bincount(condition).tolist() == [5, 4]
    assert (u[condition == 0] == 0).all()
    rows = states[condition == 1, 0] / 2  # the recorded step each trajectory candidate came from
    np.testing.assert_allclose(u[condition == 1, 0], rows)


def test_fixedpoints_right_after_training_records_first_and_reads_tiers(tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    trained = runner.invoke(app, ["train", "rdm-fixed", "-q", "--out", str(out), "--N", "16", "--max-updates", "1",
                                  "--checkfreq", "1", "--n-validation", "10"])
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(app, ["fixedpoints", str(out), "--candidates", "64", "--max-steps", "50"])
    assert result.exit_code == 0, result.output
    assert (out / "records" / "seed1" / "activity.nc").is_file()
    summary = json.loads((out / "analysis" / "seed1" / "fixedpoints.json").read_text())
    tiers = summary["tiers"]
    assert tiers["fixed"] + tiers["slow"] + tiers["other"] == summary["points"]
    assert len(summary["conditions"]) == 11  # every input condition of the search, with or without points
    for name in ("fixedpoints_pca", "fixedpoints_spectra", "fixedpoints_selection"):
        assert (out / "analysis" / "seed1" / f"{name}.png").stat().st_size > 1000
    result = runner.invoke(app, ["fixedpoints", str(out), "--slow-q", "1e-12", "--fixed-q", "1e-10"])
    assert result.exit_code == 2 and "must not exceed --slow-q" in result.output

    # the value network, driven by the decision network's slowest point of each condition
    result = runner.invoke(app, ["fixedpoints", str(out), "--network", "value", "--candidates", "64",
                                 "--max-steps", "200"])
    assert result.exit_code == 0, result.output
    value = json.loads((out / "analysis" / "seed1" / "fixedpoints_value.json").read_text())
    decision = json.loads((out / "analysis" / "seed1" / "fixedpoints.json").read_text())
    assert value["decision_network"]["points"] >= 1 and set(value["conditions"]) <= set(decision["conditions"])
    import xarray as xr

    from rewardrnn.networks import gru
    from rewardrnn.training.run_folder import RunFolder

    folder = RunFolder(out)
    state, learner = folder.learner_state(1), folder.learner
    points = xr.load_dataset(out / "analysis" / "seed1" / "fixedpoints_value.nc")
    assert points.sizes["unit"] == learner.value_config.n_units
    assert points.sizes["input"] == learner.policy_config.n_units + learner.env.n_actions
    u = points["input_value"].values
    assert np.all(u[:, -3:] == [1, 0, 0])  # the action FIXATE
    x = points["state"].values
    moved = gru.stepper(state.value, state.value_masks, learner.value_alpha)(jnp.asarray(x), jnp.asarray(u), 0.0)
    q = 0.5 * np.sum((np.asarray(moved) - x) ** 2, axis=1)  # the reported speed is the value network's own
    np.testing.assert_allclose(q, points["q"].values, rtol=1e-3, atol=1e-9)
    assert points.sizes["input"] > fp.MAX_NAMED_CHANNELS  # 16 decision units and 3 actions
    for label, entry in value["conditions"].items():
        if entry["n_fixed"] + entry["n_slow"]:
            assert entry["value_output"] is not None
            assert len(entry["selection"]) == fp.LARGEST_CHANNELS + 1 and "norm" in entry["selection"]
    refused = runner.invoke(app, ["fixedpoints", str(out), "--network", "critic"])
    assert refused.exit_code == 2 and "allowed decision, value" in refused.output
    # the report shows the value network's points: a row per input condition, its counts as in the file
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0
    page = (out / "report.html").read_text()
    section = page[page.index("<h2>The value network's fixed points</h2>"):]
    section = section[:section.index("</div>")]
    assert f"{value['points']:,} distinct points" in section and section.count("<tr>") == len(value["conditions"]) + 1
    assert "Value network: fixed and slow points" in section and "<img" in section


def relu_line_attractor():
    """Two active ReLU units on a line attractor (W = v v^T + 0.5 (I - v v^T), v > 0), two units
    held silent by a negative bias whose own leak is slow (a = 0.002: eigenvalue 0.998, within
    0.01 of 1, slower than the network's second mode 0.95). Input u0 pushes along the line,
    u1 across it."""
    v = np.array([0.6, 0.8])
    w = np.zeros((4, 4), np.float32)
    w[:2, :2] = np.outer(v, v) + 0.5 * (np.eye(2) - np.outer(v, v))
    w[2, 0], w[0, 2] = 0.3, 5.0  # an active unit drives a silent one; the silent one would drive back
    bias = np.array([0.0, 0.0, -1.0, -1.0], np.float32)
    leak = np.array([A, A, 0.002, 0.002], np.float32)
    b_in = np.zeros((4, 2), np.float32)
    b_in[:2, 0], b_in[:2, 1] = v, [0.8, -0.6]
    step = lambda x, u: x + leak * (-x + jax.nn.relu(x) @ w.T + bias + b_in @ u)  # noqa: E731
    return v, step


def test_silent_units_leaks_are_trivial_modes_and_the_line_attractor_is_read_off():
    v, step = relu_line_attractor()
    rng = np.random.default_rng(3)
    c = rng.uniform(0.5, 3.0, 200)
    start = np.concatenate([np.outer(c, v) + 0.05 * rng.normal(size=(200, 2)),
                            -1 + 0.05 * rng.normal(size=(200, 2))], axis=1).astype(np.float32)
    dynamics = fp.Dynamics(step=step, rates=jax.nn.relu, states_from_rates=lambda r: r, dt_ms=10.0,
                           inputs=("u0", "u1"), name="relu")
    ds = fp.find(dynamics, start, np.zeros((200, 2), np.float32), np.zeros(200, int), ["line"],
                 fp.FinderOptions(unique_tol=1e-2))
    lam = np.abs(fp.eigenvalues(ds))
    trivial = ds["trivial"].values.astype(bool)
    assert (trivial == [False, False, True, True]).all()  # the network's modes first
    np.testing.assert_allclose(lam[:, 0], 1.0, atol=1e-4)
    np.testing.assert_allclose(lam[:, 1], 1 - 0.5 * A, atol=1e-4)
    np.testing.assert_allclose(lam[:, 2:], 0.998, atol=1e-5)
    assert (ds["n_trivial_modes"].values == 2).all() and set(ds["stability"].values) == {"marginal"}
    np.testing.assert_allclose(np.abs(fp.right_vectors(ds)[:, :2, 0].real @ v), 1.0, atol=1e-3)
    summary = fp.summary(ds)["conditions"]["line"]
    assert summary["n_modes_near_1"] == 1 and summary["line_attractor_fraction"] == 1.0
    assert summary["n_trivial_modes"] == 2
    assert summary["slowest_nontrivial_abs_eig"] == pytest.approx(1.0, abs=1e-4)
    assert summary["second_nontrivial_abs_eig"] == pytest.approx(0.95, abs=1e-4)
    # the selection vector picks the input along the line (|l . a b| = a |v . b0| = 0.1), not the one across it
    assert summary["selection"]["u0"] == pytest.approx(A, rel=1e-3)
    assert summary["selection"]["u1"] < 1e-4


def test_the_speed_tiers_count_fixed_slow_and_the_rest():
    v, step = relu_line_attractor()
    rng = np.random.default_rng(4)
    start = np.concatenate([np.outer(rng.uniform(0.5, 3.0, 50), v), -np.ones((50, 2))], axis=1).astype(np.float32)
    dynamics = fp.Dynamics(step=step, rates=jax.nn.relu, states_from_rates=lambda r: r, dt_ms=10.0,
                           inputs=("u0", "u1"), name="relu")
    ds = fp.find(dynamics, start, np.zeros((50, 2), np.float32), np.zeros(50, int), ["line"],
                 fp.FinderOptions(unique_tol=1e-2))
    q = ds["q"].values
    cut = np.sort(q)[len(q) // 2] + 1e-30
    summary = fp.summary(ds, fixed_q=cut, slow_q=max(q.max() * 2, cut))
    assert summary["tiers"]["fixed"] == (q < cut).sum() > 0
    assert summary["tiers"]["fixed"] + summary["tiers"]["slow"] == len(q) and summary["tiers"]["other"] == 0
    none_slow = fp.summary(ds, fixed_q=1e-40, slow_q=1e-40)["tiers"]
    assert none_slow["other"] == (q >= 1e-40).sum()
    with pytest.raises(ConfigError, match="0 < fixed q <= slow q"):
        fp.summary(ds, fixed_q=1e-3, slow_q=1e-6)
