"""The local learner (:mod:`rewardrnn.learners.local`): its eligibility recursion against a hand
computation on a 3-unit network, its update against the true gradient where the rule is exact,
its alignment with BPTT under random feedback, and every verb on what it trains."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app
from rewardrnn.errors import ConfigError
from rewardrnn.learners import local
from rewardrnn.networks import gru
from rewardrnn.training.config import LocalTrainConfig

runner = CliRunner()
ALPHA = 0.1


def _hand_run(rng, n=3, n_in=2, steps=4, batch=1):
    """A 3-unit gated network run by hand in numpy (the module docstring of gru, row-vector
    convention): weights, inputs and the recorded x, lam, gam, h - x of every step."""
    w_in = rng.normal(0, 0.8, (n_in, 3 * n))
    b_in = rng.normal(0, 0.3, 3 * n)
    w_rec = rng.normal(0, 0.8, (n, n))
    w_gates = rng.normal(0, 0.8, (n, 2 * n))
    u = rng.normal(0, 1, (steps, batch, n_in))
    xs, lams, gams, hxs = [np.full((batch, n), 0.5)], [], [], []
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for k in range(steps):
        x = xs[-1]
        r = np.maximum(x, 0)
        d = u[k] @ w_in + b_in
        lam = sig(r @ w_gates[:, :n] + d[:, n:2 * n])
        gam = sig(r @ w_gates[:, n:] + d[:, 2 * n:])
        h = (gam * r) @ w_rec + d[:, :n]
        lams.append(lam), gams.append(gam), hxs.append(h - x)
        xs.append(x + ALPHA * lam * (h - x))
    trace = gru.Trace(*(jnp.asarray(np.stack(a), jnp.float32) for a in (xs[:steps], lams, gams, hxs)))
    weights = tuple(jnp.asarray(a, jnp.float32) for a in (w_in, b_in, w_rec, w_gates))
    return trace, jnp.asarray(u, jnp.float32), weights, np.stack(xs)


def test_the_hand_run_is_the_networks_own():
    trace, u, (w_in, b_in, w_rec, w_gates), xs = _hand_run(np.random.default_rng(0))
    x = trace.xs[0]
    for k in range(u.shape[0]):
        x, (lam, gam, hx) = gru.cell(x, gru.drive(u[k], w_in, b_in), 0.0, w_rec, w_gates, ALPHA)
        np.testing.assert_allclose(np.asarray(lam), np.asarray(trace.lam[k]), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(x), xs[k + 1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rule", local.RULES)
def test_eligibility_recursion_against_a_hand_computation_on_three_units(rule):
    trace, u, _, xs = _hand_run(np.random.default_rng(1))
    lam, gam, hx = (np.asarray(a, np.float64) for a in (trace.lam, trace.gam, trace.h_minus_x))
    steps, n = lam.shape[0], 3
    rates = np.maximum(xs[:steps], 0)[:, 0]
    expected_rec, expected_gate = np.zeros((steps, n, n)), np.zeros((steps, n, n))
    e_rec, e_gate = np.zeros((n, n)), np.zeros((n, n))
    for k in range(steps):  # e[k] is written before step k's increment: e[0] = 0
        expected_rec[k], expected_gate[k] = e_rec, e_gate
        for i in range(n):
            for j in range(n):
                if rule == "eprop":
                    decay = 1 - ALPHA * lam[k, 0, j]
                    e_rec[i, j] = decay * e_rec[i, j] + ALPHA * lam[k, 0, j] * gam[k, 0, i] * rates[k, i]
                    e_gate[i, j] = decay * e_gate[i, j] + ALPHA * hx[k, 0, j] * lam[k, 0, j] * (1 - lam[k, 0, j]) * rates[k, i]
                else:
                    e_rec[i, j] = (1 - ALPHA) * e_rec[i, j] + ALPHA * rates[k, i]
    traces = local.online_traces(local.factors(rule, trace, u, ALPHA))
    np.testing.assert_allclose(np.asarray(traces["rec"][:, 0]), expected_rec, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(traces["gate"][:, 0]), expected_gate, rtol=1e-5, atol=1e-7)
    assert np.abs(expected_rec[1:]).max() > 1e-3  # the traces are not trivially zero


@pytest.mark.parametrize("rule", local.RULES)
def test_the_factorised_update_is_the_online_traces_times_the_signal(rule):
    trace, u, _, _ = _hand_run(np.random.default_rng(2), steps=6, batch=2)
    f = local.factors(rule, trace, u, ALPHA)
    signal = jnp.asarray(np.random.default_rng(3).normal(size=trace.xs.shape), jnp.float32)
    g_in, g_b, g_rec, g_gates = local.eligibility_update(f, signal)
    traces = local.online_traces(f)
    np.testing.assert_allclose(np.asarray(g_rec), np.einsum("tbj,tbij->ij", signal, traces["rec"]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(g_gates[:, :3]), np.einsum("tbj,tbij->ij", signal, traces["gate"]),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(g_in[:, :3]), np.einsum("tbj,tbij->ij", signal, traces["in"]), rtol=1e-4,
                               atol=1e-6)
    assert not np.asarray(g_gates[:, 3:]).any() and not np.asarray(g_in[:, 6:]).any()  # the reset gate: none
    assert not np.asarray(g_b[6:]).any()


def _small_learner(**options):
    return LocalTrainConfig(task="rdm-fixed", N=12, baseline_N=8, p0=0.3, **options).build_learner()


@pytest.mark.parametrize("dale", [False, True])
def test_with_the_readout_as_feedback_and_one_step_the_update_is_the_true_gradient(dale):
    """x1 = F(x0, u0) with x0 fixed: the eligibility misses nothing, so with F = W_out the update
    is dL/dW for every weight the rule trains (masks and Dale's signs mapped as the gradient's)."""
    learner = _small_learner(feedback="readout", dale=dale)
    state = learner.init(jax.random.PRNGKey(0))
    rng = np.random.default_rng(4)
    policy = dict(state.policy, W_out=jnp.asarray(rng.normal(0, 1, state.policy["W_out"].shape), jnp.float32))
    masks = state.policy_masks
    batch, n = 3, learner.policy_config.n_units
    inputs = jnp.asarray(rng.normal(0, 1, (2, batch, learner.env.n_inputs)), jnp.float32)
    xs = gru.run(policy, masks, inputs, jnp.zeros((2, batch, n)), learner.alpha)
    weights = gru.effective_weights(policy, masks)
    _, (lam, gam, hx) = gru.cell(xs[0], gru.drive(inputs[0], *weights[:2]), 0.0, *weights[2:], learner.alpha)
    zero = jnp.zeros_like(lam)
    trace = gru.Trace(xs, jnp.stack([lam, zero]), jnp.stack([gam, zero]), jnp.stack([hx, zero]))
    dz = jnp.zeros((2, batch, learner.env.n_actions)).at[1].set(jnp.asarray(rng.normal(size=(batch, 3)), jnp.float32))

    rule = learner.local_gradient(policy, masks, policy["W_out"], trace, inputs, dz)
    true = jax.grad(lambda p: jnp.sum(dz * gru.readout(p, gru.run(p, masks, inputs, jnp.zeros_like(xs),
                                                                   learner.alpha))))(policy)
    for name in ("W_in", "b_in", "W_rec", "W_out", "b_out"):
        columns = slice(0, 2 * n) if name in ("W_in", "b_in") else slice(None)  # state + update gate
        np.testing.assert_allclose(np.asarray(rule[name])[..., columns], np.asarray(true[name])[..., columns],
                                   rtol=2e-4, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(np.asarray(rule["W_rec_gates"][:, :n]), np.asarray(true["W_rec_gates"][:, :n]),
                               rtol=2e-4, atol=1e-6)
    assert np.abs(np.asarray(true["W_rec"])).max() > 1e-3
    # the reset gate has no local eligibility: the rule leaves it, the gradient does not
    assert not np.asarray(rule["W_rec_gates"][:, n:]).any() and np.abs(np.asarray(true["W_rec_gates"][:, n:])).max() > 0


def test_the_feedback_weights_are_fixed_per_seed_and_the_networks_are_the_actor_critics():
    from rewardrnn.training.config import TrainConfig

    learner = _small_learner()
    a, b = learner.init(jax.random.PRNGKey(3)), learner.init(jax.random.PRNGKey(3))
    np.testing.assert_array_equal(np.asarray(a.policy_masks["feedback"]), np.asarray(b.policy_masks["feedback"]))
    other = learner.init(jax.random.PRNGKey(4)).policy_masks["feedback"]
    assert not np.allclose(np.asarray(other), np.asarray(a.policy_masks["feedback"]))
    ac = TrainConfig(task="rdm-fixed", N=12, baseline_N=8, p0=0.3).build_learner().init(jax.random.PRNGKey(3))
    np.testing.assert_array_equal(np.asarray(ac.policy["W_rec"]), np.asarray(a.policy["W_rec"]))
    new, metrics = jax.jit(learner.update)(a)
    assert int(new.updates) == 1 and np.isfinite(float(metrics["policy_grad_norm"]))
    np.testing.assert_array_equal(np.asarray(new.policy["W_rec_gates"][:, 12:]), np.asarray(a.policy["W_rec_gates"][:, 12:]))
    np.testing.assert_array_equal(np.asarray(new.policy_masks["feedback"]), np.asarray(a.policy_masks["feedback"]))


def test_bad_rule_and_feedback_are_refused():
    with pytest.raises(ConfigError, match="rule must be one of eprop, rflo"):
        LocalTrainConfig(rule="bptt")
    with pytest.raises(ConfigError, match="feedback must be one of random, readout"):
        LocalTrainConfig(feedback="symmetric")
    for args, message in ((["train", "dnms", "--learner", "local"], "does not train with the local learner"),
                          (["train", "rdm-fixed", "--rule", "rflo"], "--rule does not apply to the actor-critic")):
        result = runner.invoke(app, args + ["-o", "/nonexistent/never"])
        assert result.exit_code == 2 and message in result.output, result.output
        assert "Traceback" not in result.output


@pytest.mark.slow
def test_random_feedback_aligns_with_bptt_and_every_verb_reads_the_network(tmp_path):
    """Feedback alignment: at initialisation W_out = 0 and the rule's direction is unrelated to
    the gradient; after 150 updates on rdm-fixed its cosine with BPTT's gradient of the same
    batches is positive (0.41 measured on this seed) and the network decides."""
    out = tmp_path / "local"
    result = runner.invoke(app, ["train", "rdm-fixed", "--learner", "local", "--max-updates", "150", "--track-alignment",
                                 "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    import pandas as pd

    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics["bptt_cosine"].iloc[-1] > 0.1, metrics["bptt_cosine"].tolist()
    assert metrics["p_decision"].iloc[-1] > 0.9
    assert json.loads((out / "summary.json").read_text())["kind"] == "local"
    assert "local" in runner.invoke(app, ["tasks"]).output.split("rdm-fixed", 1)[1].splitlines()[0]
    for args in (["evaluate", str(out), "-n", "20"], ["record", str(out), "-n", "5"],
                 ["fixedpoints", str(out), "--candidates", "64"], ["perturb", str(out), "-n", "20", "--silence", "readout:5"],
                 ["analyze", str(out)], ["report", str(out)], ["export", str(out), "--format", "npz"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)


def test_the_experiments_train_the_local_rule_with_the_actor_critics_baselines():
    from rewardrnn.experiments.baselines import BaselinesExperiment
    from rewardrnn.experiments.learners import LearnersExperiment

    cells = BaselinesExperiment(learner="local", tasks=("rdm-fixed",), baselines=("gru", "none"), seeds=2,
                                max_updates=100).cells()
    assert [(name, type(config).__name__, config.baseline) for _, name, config in cells] == [
        ("gru", "LocalTrainConfig", "gru"), ("none", "LocalTrainConfig", "none")]
    (task, learner, config), = LearnersExperiment(tasks=("rdm-fixed",), learners=("local",), seeds=2,
                                                  trials=1000).cells()
    assert learner == "local" and config.track_alignment and config.max_updates == 100


@pytest.mark.slow
def test_the_local_rule_learns_a_neurogym_task_to_its_criterion(tmp_path):
    pytest.importorskip("neurogym")
    out = tmp_path / "ngym"
    result = runner.invoke(app, ["train", "ngym:PerceptualDecisionMaking-v0", "--learner", "local", "--max-updates",
                                 "200", "--track-alignment", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "local/ngym" and summary["seeds"][0]["reached_criterion"], result.output  # 3,000 trials measured
    result = runner.invoke(app, ["evaluate", str(out), "-n", "20"])
    assert result.exit_code == 0, result.output


def test_an_update_split_over_two_devices_is_the_update_on_one():
    """with_trial_axis: each device records and learns from half of the update's trials; the
    rule's estimates (and the alignment metric) are those of one device."""
    from jax.sharding import Mesh, PartitionSpec

    learner = _small_learner(track_alignment=True)  # rdm-fixed: 10 trials per update
    state = learner.init(jax.random.PRNGKey(0))
    # a readout that breaks fixation at different steps: trials of different lengths and rewards
    policy = dict(state.policy, W_out=jax.random.normal(jax.random.PRNGKey(5), state.policy["W_out"].shape),
                  b_out=jnp.asarray([2.0, 0.0, 0.0]))
    value = dict(state.value, b_out=jnp.zeros_like(state.value["b_out"]))  # V = 0: the aborts' advantage is -1
    state = state._replace(policy=policy, value=value)
    split = learner.with_trial_axis("device", 2)
    mesh = Mesh(np.asarray(jax.devices()[:2]), ("device",))
    on_two = jax.jit(jax.shard_map(split.update, mesh=mesh, in_specs=PartitionSpec(), out_specs=PartitionSpec(),
                                   check_vma=False))
    one, metrics_one = jax.jit(learner.update)(state)
    two, metrics_two = on_two(state)
    for a, b in zip(jax.tree_util.tree_leaves((one.policy, one.value)), jax.tree_util.tree_leaves((two.policy, two.value))):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-6)
    for name in metrics_one:
        np.testing.assert_allclose(float(metrics_two[name]), float(metrics_one[name]), rtol=1e-4, atol=1e-6, err_msg=name)
    assert 0 < abs(float(metrics_one["bptt_cosine"])) <= 1
