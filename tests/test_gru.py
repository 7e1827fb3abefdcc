"""The gated unit of Song et al. 2017 §3.1 and its initialisation §3.5."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rewardrnn.errors import ConfigError
from rewardrnn.networks import gru


def numpy_step(p, m, x, u, q, a):
    """The §3.1 equations written out in numpy, row-vector convention."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    n = x.shape[-1]
    r = np.maximum(x, 0)
    v = u @ p["W_in"] + p["b_in"]
    wg = p["W_rec_gates"] * m["W_rec_gates"]
    lam = sig(r @ wg[:, :n] + v[n:2 * n])
    gam = sig(r @ wg[:, n:] + v[2 * n:])
    return (1 - a * lam) * x + a * lam * ((gam * r) @ (p["W_rec"] * m["W_rec"]) + v[:n] + q)


@pytest.fixture
def small():
    cfg = gru.GRUConfig(n_inputs=2, n_outputs=3, n_units=5, p0=0.4)
    params, masks = gru.init(jax.random.PRNGKey(3), cfg)
    params = {k: jnp.asarray(np.random.default_rng(0).normal(size=v.shape), jnp.float32) * 0.5
              for k, v in params.items()}
    return cfg, params, masks


def test_one_step_matches_numpy_equations(small):
    _, params, masks = small
    rng = np.random.default_rng(1)
    x, u, q = rng.normal(size=5), rng.normal(size=2), rng.normal(size=5)
    expected = numpy_step({k: np.asarray(v, np.float64) for k, v in params.items()},
                          {k: np.asarray(v) for k, v in masks.items()}, x, u, q, 0.1)
    got = gru.step(params, masks, jnp.asarray(x, jnp.float32), jnp.asarray(u, jnp.float32),
                   jnp.asarray(q, jnp.float32), 0.1)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-6)


def test_masked_weights_do_not_act(small):
    _, params, masks = small
    x = jnp.ones(5)
    u = jnp.zeros(2)
    base = gru.step(params, masks, x, u, jnp.zeros(5), 0.1)
    off = np.argwhere(np.asarray(masks["W_rec"]) == 0)[0]
    changed = dict(params, W_rec=params["W_rec"].at[tuple(off)].add(100.0))
    np.testing.assert_array_equal(np.asarray(gru.step(changed, masks, x, u, jnp.zeros(5), 0.1)), np.asarray(base))


def reference_run(params, masks, inputs, noise, a):
    x0 = jnp.broadcast_to(params["x0"], inputs.shape[1:2] + params["x0"].shape)

    def body(x, un):
        x = gru.step(params, masks, x, un[0], un[1], a)
        return x, x

    _, xs = jax.lax.scan(body, x0, (inputs[:-1], noise[:-1]))
    return jnp.concatenate([x0[None], xs])


def test_run_and_hand_written_bptt_match_autodiff(small):
    _, params, masks = small
    key = jax.random.PRNGKey(0)
    inputs = jax.random.normal(key, (30, 4, 2))
    noise = 0.3 * jax.random.normal(jax.random.fold_in(key, 1), (30, 4, 5))
    np.testing.assert_allclose(gru.run(params, masks, inputs, noise, 0.1),
                               reference_run(params, masks, inputs, noise, 0.1), rtol=1e-5, atol=1e-6)

    def loss(run):
        return lambda p, u: jnp.sum(jnp.tanh(gru.readout(p, run(p, masks, u, noise, 0.1))) ** 2)

    g_new = jax.grad(loss(gru.run), argnums=(0, 1))(params, inputs)
    g_ref = jax.grad(loss(reference_run), argnums=(0, 1))(params, inputs)
    for got, want in zip(jax.tree_util.tree_leaves(g_new), jax.tree_util.tree_leaves(g_ref)):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-5)


def test_run_with_a_length_computes_only_those_steps(small):
    _, params, masks = small
    inputs = jax.random.normal(jax.random.PRNGKey(0), (12, 3, 2))
    noise = 0.2 * jax.random.normal(jax.random.PRNGKey(1), (12, 3, 5))
    full = gru.run(params, masks, inputs, noise, 0.2)
    part = gru.run(params, masks, inputs, noise, 0.2, length=jnp.asarray(7))
    np.testing.assert_allclose(part[:7], full[:7], rtol=1e-6)
    assert (np.asarray(part[7:]) == 0).all()

    def loss(length):
        return lambda p: jnp.sum(jnp.tanh(gru.readout(p, gru.run(p, masks, inputs, noise, 0.2, length)[:7])) ** 2)

    for got, want in zip(jax.tree_util.tree_leaves(jax.grad(loss(7))(params)),
                         jax.tree_util.tree_leaves(jax.grad(loss(None))(params))):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_initialisation_statistics():
    cfg = gru.GRUConfig(n_inputs=3, n_outputs=3, n_units=200, p0=0.1, rho=2.0)
    params, masks = gru.init(jax.random.PRNGKey(0), cfg)
    n, k = 200, 20
    blocks = {"W_rec": (params["W_rec"], masks["W_rec"]),
              "W_rec_lam": (params["W_rec_gates"][:, :n], masks["W_rec_gates"][:, :n]),
              "W_rec_gam": (params["W_rec_gates"][:, n:], masks["W_rec_gates"][:, n:])}
    magnitudes = []
    for name, (w, m) in blocks.items():
        w, m = np.asarray(w), np.asarray(m)
        assert (m.sum(axis=0) == k).all(), f"{name}: in-degree is not K = p0*N"
        assert (w[m == 0] == 0).all()
        assert gru.spectral_radius(w * m) == pytest.approx(2.0, rel=1e-4), name
        nz = w[m == 1]
        assert 0.45 < (nz > 0).mean() < 0.55  # random signs
        magnitudes.append(np.abs(nz))
    mags = np.concatenate(magnitudes)
    # Gamma(shape 4): squared coefficient of variation 1/4, whatever the rescaling.
    assert mags.var() / mags.mean() ** 2 == pytest.approx(0.25, abs=0.03)
    assert not np.array_equal(masks["W_rec"], masks["W_rec_gates"][:, :n])  # independent masks
    assert np.std(np.asarray(params["W_in"])) == pytest.approx(np.sqrt(k) / 3, rel=0.05)
    assert (np.asarray(params["W_out"]) == 0).all() and (np.asarray(params["b_out"]) == 0).all()
    assert (np.asarray(params["b_in"]) == 0).all() and (np.asarray(params["x0"]) == 0.5).all()


def test_value_network_initial_output_is_minus_one():
    cfg = gru.GRUConfig(n_inputs=103, n_outputs=1, p0=1.0, out_bias=-1.0, input_scale_units=100)
    params, masks = gru.init(jax.random.PRNGKey(1), cfg)
    assert (np.asarray(masks["W_rec"]) == 1).all()
    x = jax.random.normal(jax.random.PRNGKey(2), (7, 100))
    np.testing.assert_array_equal(gru.readout(params, x), -np.ones((7, 1)))
    # scale sqrt(p0 * N_policy) / n_in = 10 / 103 (spec §3.5: ~0.097)
    assert np.std(np.asarray(params["W_in"])) == pytest.approx(10 / 103, rel=0.05)


@pytest.mark.parametrize("kwargs", [{"n_units": 0}, {"p0": 0.0}, {"p0": 1.5}, {"p0": 0.001}, {"rho": -1.0}])
def test_bad_network_config_is_rejected(kwargs):
    with pytest.raises(ConfigError):
        gru.GRUConfig(n_inputs=3, n_outputs=3, **kwargs)
