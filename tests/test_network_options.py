"""Task-specific network defaults (spec §5.9), the linear value network (§3.4) and Dale's
principle (Song, Yang & Wang 2016 / PsychRNN's dale_ratio)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rewardrnn.errors import ConfigError
from rewardrnn.networks import gru, linear
from rewardrnn.training import TrainConfig


# ---- task defaults --------------------------------------------------------------------------------
def test_task_defaults_fill_unset_fields_and_explicit_values_win():
    assert TrainConfig(task="multisensory").resolved().N == 150
    assert TrainConfig(task="multisensory", N=60).resolved().N == 60
    romo = TrainConfig(task="romo").resolved()
    assert (romo.lr, romo.baseline_lr) == (0.002, 0.002)
    assert TrainConfig(task="romo", lr=0.01).resolved().lr == 0.01
    assert TrainConfig(task="economic").resolved().baseline_input_scale == 10.0
    rdm = TrainConfig().resolved()
    assert (rdm.N, rdm.lr, rdm.baseline_lr, rdm.baseline_input_scale) == (100, 0.004, 0.004, 1.0)
    cfg = TrainConfig(task="economic", task_options={"juice_ratio": 4.1}, dale=True, baseline="linear")
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.resolved().to_dict()))) == cfg.resolved()


def test_value_input_scale_of_the_economic_task():
    """pyrl: scale = baseline_Win * sqrt(baseline_p0 * N_policy) / (N_policy + N_actions) (spec §3.5):
    0.097 with baseline_Win = 1 and 0.97 with 10."""
    for task, expected in (("rdm-fixed", 10 / 103), ("economic", 100 / 103)):
        learner = TrainConfig(task=task).resolved().build_learner()
        w = np.asarray(learner.init(jax.random.PRNGKey(0)).value["W_in"])
        assert w.std() == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize("task,blocks", [
    # (input row, units that receive it at initialisation) for N = 100 / 150
    ("wager", {0: range(0, 100), 1: range(0, 50), 2: range(0, 50), 3: range(50, 100)}),
    ("multisensory", {0: range(0, 150), 1: range(0, 50), 2: range(0, 50), 3: range(100, 150), 4: range(100, 150)}),
])
def test_input_weight_blocks(task, blocks):
    learner = TrainConfig(task=task).resolved().build_learner()
    w = np.asarray(learner.init(jax.random.PRNGKey(0)).policy["W_in"])
    n = learner.policy_config.n_units
    n_in = learner.env.n_inputs
    assert w.shape == (n_in, 3 * n)
    for row, units in blocks.items():
        for gate in range(3):  # the same blocks for the state, update-gate and reset-gate columns
            cols = w[row, gate * n:(gate + 1) * n]
            inside = np.zeros(n, bool)
            inside[list(units)] = True
            assert (cols[~inside] == 0).all() and (cols[inside] != 0).all()
    # scale sqrt(p0 * N) / n_in (spec §5.3: 0.79; §5.5: 0.775), over all non-zero entries
    assert w[w != 0].std() == pytest.approx(np.sqrt(0.1 * n) / n_in, rel=0.1)


# ---- linear value network ---------------------------------------------------------------------
def test_linear_value_network_reads_the_current_input():
    cfg = linear.LinearConfig(n_inputs=3, out_bias=-1.0)
    params, masks = linear.init(jax.random.PRNGKey(0), cfg)
    assert masks == {} and (np.asarray(params["W_out"]) == 0).all()
    params = dict(params, W_out=jnp.asarray([[1.0], [2.0], [-1.0]]))
    inputs = jnp.asarray(np.arange(12, dtype=np.float32).reshape(2, 2, 3))  # (T=2, B=2, 3)
    x = linear.run(params, masks, inputs, None, 0.1)
    np.testing.assert_array_equal(np.asarray(x[0]), 0.5)  # x0
    np.testing.assert_array_equal(np.asarray(x[1]), np.asarray(inputs[0]))
    v = np.asarray(linear.readout(params, x))[..., 0]
    np.testing.assert_allclose(v[1], [0 + 2 - 2 - 1, 3 + 8 - 5 - 1])
    np.testing.assert_allclose(v[0], [0.5 * 2 - 1] * 2)


def test_linear_baseline_learner_updates_its_readout():
    learner = TrainConfig(baseline="linear", N=20, p0=0.25).resolved().build_learner()
    state = learner.init(jax.random.PRNGKey(0))
    assert set(state.value) == {"W_out", "b_out", "x0"} and state.value["W_out"].shape == (23, 1)
    # At initialisation V = -1 = every return, so nothing moves; start the bias at 0 instead:
    # the update must pull it toward the returns (-1).
    state = state._replace(value=dict(state.value, b_out=jnp.zeros(1)))
    new, metrics = jax.jit(learner.update)(state)
    assert float(metrics["value_loss"]) > 0.5
    assert float(new.value["b_out"][0]) < 0


# ---- Dale's principle --------------------------------------------------------------------------
def test_dale_initialisation():
    cfg = gru.GRUConfig(n_inputs=3, n_outputs=3, dale_ratio=0.8)
    params, masks = gru.init(jax.random.PRNGKey(1), cfg)
    np.testing.assert_array_equal(np.asarray(masks["dale_sign"]), [1.0] * 80 + [-1.0] * 20)
    assert (np.asarray(params["W_rec"]) >= 0).all() and (np.asarray(params["W_rec_gates"]) >= 0).all()
    w_rec, w_gates = (np.asarray(w) for w in gru.recurrent_weights(params, masks))
    for block in (w_rec, w_gates[:, :100], w_gates[:, 100:]):
        assert (block[:80] >= 0).all() and (block[80:] <= 0).all()  # rows = presynaptic units
        assert gru.spectral_radius(block) == pytest.approx(2.0, rel=1e-5)
        # inhibitory magnitudes x n_E/n_I: excitation and inhibition balance on average
        assert abs(block.sum()) < 0.25 * np.abs(block).sum()
    assert ((np.asarray(masks["W_rec"]) * (w_rec != 0)) == (w_rec != 0)).all()  # sparsity kept


def test_dale_signs_survive_training_and_bad_ratios_are_refused():
    config = TrainConfig(dale=True, N=20, baseline_N=20, p0=0.25).resolved()
    learner = config.build_learner()
    state = learner.init(jax.random.PRNGKey(0))
    update = jax.jit(learner.update)
    for _ in range(20):
        state, _ = update(state)
    w_rec, w_gates = (np.asarray(w) for w in gru.recurrent_weights(state.policy, state.policy_masks))
    assert (w_rec[:16] >= 0).all() and (w_rec[16:] <= 0).all()
    assert (w_gates[:16] >= 0).all() and (w_gates[16:] <= 0).all()
    assert np.abs(w_rec).sum() > 0
    with pytest.raises(ConfigError, match="excitatory and one inhibitory"):
        gru.GRUConfig(n_inputs=3, n_outputs=3, n_units=2, p0=0.5, dale_ratio=0.99)


def test_dale_gradient_matches_autodiff():
    """The hand-written BPTT sees the effective (signed, rectified) weights; the chain rule to
    the magnitudes goes through autodiff and must agree with a plain scan."""
    cfg = gru.GRUConfig(n_inputs=2, n_outputs=2, n_units=10, p0=0.5, dale_ratio=0.8)
    params, masks = gru.init(jax.random.PRNGKey(2), cfg)
    rng = np.random.default_rng(0)
    inputs = jnp.asarray(rng.normal(size=(15, 3, 2)), jnp.float32)
    noise = jnp.asarray(rng.normal(size=(15, 3, 10)) * 0.1, jnp.float32)

    def loss(run_fn, p):
        return jnp.sum(jnp.tanh(run_fn(p)) ** 2)

    def scan_run(p):
        x0 = jnp.broadcast_to(p["x0"], (3, 10))
        _, xs = jax.lax.scan(lambda x, un: (gru.step(p, masks, x, *un, 0.1),) * 2, x0, (inputs, noise))
        return jnp.concatenate([x0[None], xs[:-1]])

    g_fast = jax.grad(lambda p: loss(lambda q: gru.run(q, masks, inputs, noise, 0.1), p))(params)
    g_ref = jax.grad(lambda p: loss(scan_run, p))(params)
    for name in ("W_rec", "W_rec_gates", "W_in"):
        np.testing.assert_allclose(np.asarray(g_fast[name]), np.asarray(g_ref[name]), rtol=2e-4, atol=1e-5)


def test_config_refuses_bad_network_options():
    with pytest.raises(ConfigError, match="baseline must be one of gru, linear"):
        TrainConfig(baseline="lstm")
    with pytest.raises(ConfigError, match="dale must be true or false"):
        TrainConfig(dale="yes")
    with pytest.raises(ConfigError, match="task_options"):
        TrainConfig(task_options=[("juice_ratio", 2)])
