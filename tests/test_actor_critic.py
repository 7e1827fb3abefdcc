"""The actor-critic learner (spec §4)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rewardrnn.learners.actor_critic import returns_to_go
from rewardrnn.training.config import TrainConfig
from rewardrnn.training.loop import build_learner

SMALL = dict(N=20, baseline_N=20, p0=0.25)


def test_returns_to_go():
    r = jnp.asarray([[0.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    np.testing.assert_array_equal(returns_to_go(r), [[-1.0, 1.0], [-1.0, 1.0], [-1.0, 0.0]])


def grads_at_init(t0_return):
    learner = build_learner(TrainConfig(t0_return=t0_return, **SMALL).resolved())
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
    learner = build_learner(TrainConfig(**SMALL).resolved())
    state = learner.init(jax.random.PRNGKey(0))
    new, metrics = jax.jit(learner.update)(state)
    assert int(new.updates) == 1 and int(new.skipped) == 0
    assert not np.array_equal(new.policy["b_out"], state.policy["b_out"])
    assert set(metrics) >= {"value_loss", "policy_grad_norm", "value_grad_norm", "train_reward"}


def test_non_finite_gradient_skips_the_update():
    learner = build_learner(TrainConfig(**SMALL).resolved())
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
    learner = build_learner(dataclasses.replace(TrainConfig(**SMALL), lr=1.0, baseline_lr=1.0).resolved())
    state = learner.init(jax.random.PRNGKey(0))
    new, metrics = jax.jit(learner.update)(state)
    # first Adam step moves each parameter by at most lr (times ~1): bounded whatever the norm
    delta = max(float(jnp.abs(a - b).max()) for a, b in zip(jax.tree_util.tree_leaves(new.policy),
                                                           jax.tree_util.tree_leaves(state.policy)))
    assert delta <= 1.0 + 1e-5


def test_validation_matches_the_task_performance_measure():
    learner = build_learner(TrainConfig(**SMALL).resolved())
    state = learner.init(jax.random.PRNGKey(0))
    perf = learner.validate(state.policy, state.policy_masks, jax.random.PRNGKey(2), 200)
    # the uniform initial policy breaks fixation: every trial is an abort worth -1
    assert float(perf["reward"]) == pytest.approx(-1.0)
    assert float(perf["p_decision"]) == 0.0


def test_acting_samples_from_the_policy_and_stops_when_all_trials_end():
    from rewardrnn.networks import gru

    learner = build_learner(TrainConfig(**SMALL).resolved())
    state = learner.init(jax.random.PRNGKey(0))
    policy = dict(state.policy, W_out=0.3 * jax.random.normal(jax.random.PRNGKey(5), state.policy["W_out"].shape),
                  b_out=jnp.asarray([4.0, 0.0, 0.0]))  # mostly fixate, so trials last a while
    trials = learner.env.sample_trials(jax.random.PRNGKey(1), 16)
    inputs, noise, gumbel = learner.noise(jax.random.PRNGKey(2), trials)
    actions = learner.act(policy, state.policy_masks, trials, inputs, noise, gumbel)
    out = learner.env.outcomes(trials, actions)
    logits = gru.readout(policy, gru.run(policy, state.policy_masks, inputs, noise, learner.alpha))
    expected = np.asarray(jnp.argmax(logits + gumbel, axis=-1))
    mask = np.asarray(out.mask, bool)
    np.testing.assert_array_equal(np.asarray(actions)[mask], expected[mask])
    assert (np.asarray(actions)[~mask] == 0).all()  # FIXATE after each trial's end
    assert 5 < int(out.end_step.max()) < learner.env.n_steps - 1
