"""The actor-critic learner (spec §4)."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rewardrnn.learners.actor_critic import returns_to_go
from rewardrnn.training.config import TrainConfig

SMALL = dict(N=20, baseline_N=20, p0=0.25)


def test_returns_to_go():
    r = jnp.asarray([[0.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    np.testing.assert_array_equal(returns_to_go(r), [[-1.0, 1.0], [-1.0, 1.0], [-1.0, 0.0]])


def grads_at_init(t0_return):
    learner = TrainConfig(t0_return=t0_return, **SMALL).resolved().build_learner()
    state = learner.init(jax.random.PRNGKey(0))
    grad = jax.grad(learner.losses, argnums=(0, 1), has_aux=True)
    (g_policy, g_value), _ = grad(state.policy, state.value, state, jax.random.PRNGKey(1))
    return g_policy, g_value


def test_paper_returns_give_exactly_zero_gradient_at_initialisation():
    """Every trial earns -1 at initialisation (the uniform policy breaks fixation within a few
    steps) and the value network predicts -1: G - V = 0 everywhere, so with the paper's G_0 the
    gradient vanishes. pyrl's t = 0 term (R[0] - V_0 = +1 when fixating at k = 0) is what starts
    learning; that is why it is the default."""
    g_policy, g_value = grads_at_init("paper")
    assert all(float(jnp.abs(g).max()) == 0 for g in jax.tree_util.tree_leaves((g_policy, g_value)))
    g_policy, _ = grads_at_init("pyrl")
    assert float(jnp.abs(g_policy["b_out"]).max()) > 0
    # the t = 0 term favours FIXATE (index 0): descending the loss raises its bias
    assert float(g_policy["b_out"][0]) < 0


def test_update_changes_parameters_and_counts():
    learner = TrainConfig(**SMALL).resolved().build_learner()
    state = learner.init(jax.random.PRNGKey(0))
    new, metrics = jax.jit(learner.update)(state)
    assert int(new.updates) == 1 and int(new.skipped) == 0
    assert not np.array_equal(new.policy["b_out"], state.policy["b_out"])
    assert set(metrics) >= {"value_loss", "policy_grad_norm", "value_grad_norm", "train_reward"}


def test_non_finite_gradient_skips_the_update():
    learner = TrainConfig(**SMALL).resolved().build_learner()
    state = learner.init(jax.random.PRNGKey(0))
    bad = state._replace(policy=dict(state.policy, W_out=state.policy["W_out"].at[0, 0].set(jnp.nan)))
    new, metrics = jax.jit(learner.update)(bad)
    assert int(new.skipped) == 1 and int(new.updates) == 1
    assert not np.isfinite(float(metrics["policy_grad_norm"]))
    # the policy's parameters and Adam moments are untouched (pyrl would still move the moments)
    for a, b in zip(jax.tree_util.tree_leaves((new.policy, new.policy_opt)),
                    jax.tree_util.tree_leaves((bad.policy, bad.policy_opt))):
        np.testing.assert_array_equal(a, b)


def test_gradients_are_clipped_to_global_norm_one():
    """Adam's first step ignores the gradient's scale, so compare second steps: after a huge
    gradient, the learner's update must equal clipped Adam's and differ from plain Adam's."""
    import optax

    from rewardrnn.learners.actor_critic import _apply

    learner = TrainConfig(**SMALL).resolved().build_learner()
    params = {"w": jnp.zeros(3)}
    big, small = {"w": jnp.asarray([100.0, 0.0, 0.0])}, {"w": jnp.asarray([-0.5, 0.5, 0.0])}

    def two_steps(apply):
        opt_state, p = None, params
        for g in (big, small):
            p, opt_state = apply(p, opt_state, g)
        return np.asarray(p["w"])

    def ours(p, opt_state, g):
        opt_state = learner.policy_optimizer.init(p) if opt_state is None else opt_state
        p, opt_state, norm, ok = _apply(learner.policy_optimizer, p, opt_state, g)
        assert bool(ok)
        return p, opt_state

    def reference(transform):
        def apply(p, opt_state, g):
            opt_state = transform.init(p) if opt_state is None else opt_state
            updates, opt_state = transform.update(g, opt_state, p)
            return optax.apply_updates(p, updates), opt_state
        return apply

    adam = optax.adam(0.004, b1=0.9, b2=0.999, eps=1e-8)
    got = two_steps(ours)
    np.testing.assert_allclose(got, two_steps(reference(optax.chain(optax.clip_by_global_norm(1.0), adam))), rtol=1e-6)
    assert not np.allclose(got, two_steps(reference(adam)), rtol=1e-3)


def test_validation_matches_the_task_performance_measure():
    learner = TrainConfig(**SMALL).resolved().build_learner()
    state = learner.init(jax.random.PRNGKey(0))
    perf = learner.validate(state.policy, state.policy_masks, jax.random.PRNGKey(2), 200)
    # the uniform initial policy breaks fixation: every trial is an abort worth -1
    assert float(perf["reward"]) == pytest.approx(-1.0)
    assert float(perf["p_decision"]) == 0.0


def test_acting_samples_from_the_policy_and_stops_when_all_trials_end():
    """simulate: the actions are argmax(logits + Gumbel noise of step k), the recorded states are
    those of gru.run with the same per-step recurrent noise, and nothing runs after the last
    trial's end."""
    from rewardrnn.networks import gru

    learner = TrainConfig(**SMALL).resolved().build_learner()
    state = learner.init(jax.random.PRNGKey(0))
    policy = dict(state.policy, W_out=0.3 * jax.random.normal(jax.random.PRNGKey(5), state.policy["W_out"].shape),
                  b_out=jnp.asarray([4.0, 0.0, 0.0]))  # mostly fixate, so trials last a while
    batch = learner.draw_batch(jax.random.PRNGKey(2), 16)
    inputs = batch.inputs
    actions, trace = learner.simulate(policy, state.policy_masks, batch, record=True)
    out = learner.env.outcomes(batch.trials, actions)
    blocks = range(gru.padded_steps(learner.env.n_steps) // gru.NOISE_BLOCK)
    steps = learner.env.n_steps
    noise = jnp.concatenate([gru.block_noise(batch.noise_keys, j, (learner.policy_config.n_units,),
                                             learner.policy_noise) for j in blocks])[:steps]
    gumbel = jnp.concatenate([gru.block_noise(batch.action_keys, j, (learner.env.n_actions,), sampler=jax.random.gumbel)
                              for j in blocks])[:steps]
    length = int(out.end_step.max()) + 1
    states = gru.run(policy, state.policy_masks, inputs, noise, learner.alpha, length)
    np.testing.assert_allclose(np.asarray(trace.xs[:length]), np.asarray(states[:length]), rtol=1e-5, atol=1e-5)
    block_end = gru.padded_steps(length) + 1  # no block after the one in which every trial has ended
    assert not np.asarray(trace.xs[block_end:]).any()
    expected = np.asarray(jnp.argmax(gru.readout(policy, states) + gumbel, axis=-1))
    mask = np.asarray(out.mask, bool)
    np.testing.assert_array_equal(np.asarray(actions)[mask], expected[mask])
    assert (np.asarray(actions)[~mask] == 0).all()  # FIXATE after each trial's end
    assert 5 < int(out.end_step.max()) < learner.env.n_steps - 1
    # the gradient through the recorded loop equals the gradient of running the network again
    loss = lambda xs: jnp.sum(jnp.sin(xs[:length]) * jnp.arange(1.0, length + 1)[:, None, None])  # noqa: E731
    g_replay = jax.grad(lambda p: loss(gru.replay(p, state.policy_masks, inputs, trace, learner.alpha, length)))(policy)
    g_run = jax.grad(lambda p: loss(gru.run(p, state.policy_masks, inputs, noise, learner.alpha, length)))(policy)
    for name in g_run:
        scale = float(np.abs(np.asarray(g_run[name])).max())
        np.testing.assert_allclose(np.asarray(g_replay[name]), np.asarray(g_run[name]), rtol=2e-4, atol=1e-6 * scale)


def test_the_entropy_bonus_subtracts_beta_times_the_mean_trial_entropy():
    """With beta > 0 the loss is the paper's minus beta * sum over the counted executed steps of
    H(pi) / trials (hand computation on planted logits; every executed step, or those of a mask);
    beta = 0 is the paper's loss exactly."""
    import dataclasses

    import jax.numpy as jnp
    import numpy as np

    from rewardrnn.training import TrainConfig

    config = TrainConfig(task="rdm-fixed", N=16, entropy_bonus=0.5)
    learner = config.build_learner()
    plain = dataclasses.replace(config, entropy_bonus=0.0).build_learner()
    logits = jnp.asarray([[[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]], [[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]]])  # (T=2, B=2, A=3)
    actions = jnp.asarray([[0, 1], [2, 0]])
    v = jnp.zeros((2, 2))
    reward = jnp.asarray([[0.0, 0.0], [1.0, -1.0]])
    mask = jnp.asarray([[1.0, 1.0], [1.0, 0.0]])
    with_bonus, metrics = learner.objective(logits, actions, v, reward, mask)
    without, _ = plain.objective(logits, actions, v, reward, mask)

    def entropy(row):
        p = np.exp(row) / np.exp(row).sum()
        return -(p * np.log(p)).sum()

    expected = -0.5 * (entropy([0, 0, 0]) + entropy([2, 0, 0]) + entropy([1, 0, -1])) / 2
    assert float(with_bonus - without) == pytest.approx(expected, rel=1e-5)
    assert float(metrics["policy_entropy"]) == pytest.approx(-2 * expected / 0.5 / 3, rel=1e-5)
    choosing = jnp.asarray([[0.0, 1.0], [1.0, 1.0]])  # the response epoch; step (1, 1) was not executed
    with_bonus, metrics = learner.objective(logits, actions, v, reward, mask, choosing)
    expected = -0.5 * (entropy([2, 0, 0]) + entropy([1, 0, -1])) / 2
    assert float(with_bonus - without) == pytest.approx(expected, rel=1e-5)
    assert float(metrics["policy_entropy"]) == pytest.approx(-2 * expected / 0.5 / 2, rel=1e-5)


def test_the_entropy_bonus_counts_the_steps_of_the_response_epoch():
    """In training the bonus counts the steps of the decision epoch (rdm-fixed: 500 ms after
    fixation, 750 ms, and the stimulus, at least 80 ms; dt 10 ms), so that it does not pull the
    policy off fixation."""
    import jax
    import numpy as np

    from rewardrnn.training import TrainConfig

    learner = TrainConfig(task="rdm-fixed", N=16, entropy_bonus=0.01).build_learner()
    trials = learner.env.sample_trials(jax.random.PRNGKey(0), 4)
    steps = np.asarray(learner.response_steps(trials, learner.env.n_steps))
    decision = learner.env.epoch_names.index("decision")
    start, end = np.asarray(trials.epoch_start_ms)[:, decision], np.asarray(trials.epoch_end_ms)[:, decision]
    t_ms = np.arange(learner.env.n_steps)[:, None] * 10.0
    assert (steps == ((t_ms >= start) & (t_ms < end)) * 1.0).all()
    assert (steps.argmax(axis=0) * 10.0 == start).all() and (start >= 830).all() and (steps.sum(axis=0) == 50).all()


def test_a_negative_entropy_bonus_is_refused():
    from rewardrnn.errors import ConfigError
    from rewardrnn.training import TrainConfig

    for bad in (-0.1, "lots", float("nan")):
        with pytest.raises(ConfigError, match="entropy_bonus must be a number >= 0"):
            TrainConfig(task="rdm-fixed", entropy_bonus=bad)


def test_an_update_split_over_two_devices_is_the_update_on_one():
    """with_trial_axis: each device simulates half of the update's trials (each trial with its
    own noise keys) and the gradients are summed, so two devices make the update one device
    makes, up to float rounding; validation gathers the halves into the same performance."""
    from jax.sharding import Mesh, PartitionSpec

    learner = TrainConfig(**SMALL).resolved().build_learner()  # rdm-fixed: 10 trials per update
    state = learner.init(jax.random.PRNGKey(0))
    policy = dict(state.policy, W_out=0.3 * jax.random.normal(jax.random.PRNGKey(5), state.policy["W_out"].shape),
                  b_out=jnp.asarray([3.0, 0.0, 0.0]))  # trials of different lengths
    state = state._replace(policy=policy)
    split = learner.with_trial_axis("device", 2)
    assert learner.with_trial_axis("device", 3) is None  # 10 trials do not split in 3
    mesh = Mesh(np.asarray(jax.devices()[:2]), ("device",))
    on_two = lambda fn: jax.jit(jax.shard_map(fn, mesh=mesh, in_specs=PartitionSpec(),  # noqa: E731
                                              out_specs=PartitionSpec(), check_vma=False))
    one, metrics_one = jax.jit(learner.update)(state)
    two, metrics_two = on_two(split.update)(state)
    for a, b in zip(jax.tree_util.tree_leaves((one.policy, one.value)), jax.tree_util.tree_leaves((two.policy, two.value))):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-6)
    for name in metrics_one:
        np.testing.assert_allclose(float(metrics_two[name]), float(metrics_one[name]), rtol=1e-4, atol=1e-6)
    assert float(metrics_one["policy_grad_norm"]) > 0
    key = jax.random.PRNGKey(7)
    perf_one = jax.jit(lambda p: learner.validate(p, state.policy_masks, key, 200))(policy)
    perf_two = on_two(lambda p: split.validate(p, state.policy_masks, key, 200))(policy)
    for name in perf_one:
        assert float(perf_two[name]) == pytest.approx(float(perf_one[name]), abs=0.011), name
