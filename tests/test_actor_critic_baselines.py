"""The actor-critic's baselines beyond the value network (none, constant, running) and the
value-network lesion during learning: the equations against hand computations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rewardrnn.errors import ConfigError
from rewardrnn.learners.actor_critic import returns_to_go
from rewardrnn.tasks.engine import Trials
from rewardrnn.training.config import TrainConfig

SMALL = dict(N=20, baseline_N=20, p0=0.25)


def learner_for(**options):
    return TrainConfig(**SMALL, **options).resolved().build_learner()


def test_scalar_baselines_hold_their_values_and_no_value_network():
    none = learner_for(baseline="none")
    constant = learner_for(baseline="constant", baseline_constant=0.25)
    running = learner_for(baseline="running", baseline_per_condition=True)
    assert none.value_net is None and constant.value_net is None
    np.testing.assert_array_equal(none.init(jax.random.PRNGKey(0)).value["b"], [0.0])
    np.testing.assert_array_equal(constant.init(jax.random.PRNGKey(0)).value["b"], [0.25])
    assert running.init(jax.random.PRNGKey(0)).value["b"].shape == (running.env.n_conditions,)


def test_running_baseline_is_a_running_average_of_the_return():
    """One update at rate r from b = 0 leaves b = r * mean(G_0) of the update's trials, which is
    the update's train_reward (total reward per trial); a constant baseline does not move."""
    learner = learner_for(baseline="running", baseline_rate=0.3)
    state = learner.init(jax.random.PRNGKey(0))
    new, metrics = jax.jit(learner.update)(state)
    np.testing.assert_allclose(new.value["b"], [0.3 * float(metrics["train_reward"])], rtol=1e-5)
    constant = learner_for(baseline="constant", baseline_constant=0.5)
    state = constant.init(jax.random.PRNGKey(0))
    new, _ = jax.jit(constant.update)(state)
    np.testing.assert_array_equal(new.value["b"], [0.5])


def test_per_condition_running_loss_gradient_is_b_minus_each_conditions_mean_return():
    learner = learner_for(baseline="running", baseline_per_condition=True)
    n = learner.env.n_conditions
    b = jnp.arange(n, dtype=jnp.float32) / 10
    # three trials: two of condition 1 (returns 1 and 0), one of condition 3 (return -1)
    condition = jnp.asarray([1, 1, 3])
    trials = jax.tree_util.tree_map(lambda a: a, learner.env.sample_trials(jax.random.PRNGKey(0), 3, condition))
    assert isinstance(trials, Trials)
    reward = jnp.asarray([[0.0, 0.0, 0.0], [1.0, 0.0, -1.0]])  # (T, B)
    grad = jax.grad(lambda v: learner.running_baseline_loss(v, trials, reward))({"b": b})["b"]
    expected = np.zeros(n)
    expected[1] = float(b[1]) - 0.5
    expected[3] = float(b[3]) - (-1.0)
    np.testing.assert_allclose(grad, expected, atol=1e-6)


@pytest.mark.parametrize("baseline", ["none", "constant"])
def test_policy_gradient_with_a_scalar_baseline_is_reinforce_on_the_return_minus_b(baseline):
    """The objective's policy term with V = b everywhere equals -(1/B) sum M log pi(a) (G - b),
    computed by hand."""
    learner = learner_for(baseline=baseline, t0_return="paper")
    b = 0.0 if baseline == "none" else 0.5
    key = jax.random.PRNGKey(3)
    logits = jax.random.normal(key, (4, 2, 3))
    actions = jnp.asarray([[0, 0], [0, 1], [2, 0], [0, 0]])
    reward = jnp.asarray([[0.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, 0.0]])
    mask = jnp.asarray([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    v = jnp.full((4, 2), b)

    def policy_term(logits):
        return learner.objective(logits, actions, v, reward, mask)[0]

    g = returns_to_go(reward)
    by_hand = lambda lg: -jnp.sum(mask * jnp.take_along_axis(jax.nn.log_softmax(lg), actions[..., None], -1)[..., 0]  # noqa: E731
                                  * (g - b)) / 2
    np.testing.assert_allclose(jax.grad(policy_term)(logits), jax.grad(by_hand)(logits), atol=1e-6)


def test_lesion_removes_the_baseline_and_stops_training_the_value_network():
    learner = learner_for(lesion_value_at=1)
    state = learner.init(jax.random.PRNGKey(0))
    state = state._replace(value=dict(state.value, b_out=jnp.zeros(1)))  # V = 0, not the -1 every trial earns
    update = jax.jit(learner.update)
    after_one, _ = update(state)  # update 0: before the lesion, the value network learns
    assert not np.array_equal(after_one.value["b_out"], state.value["b_out"])
    after_two, metrics = update(after_one)  # update 1: lesioned
    for new, old in zip(jax.tree_util.tree_leaves(after_two.value), jax.tree_util.tree_leaves(after_one.value)):
        np.testing.assert_array_equal(new, old)
    assert float(metrics["value_grad_norm"]) == 0.0
    # the advantage is the raw return: the policy gradient equals the no-baseline learner's
    none = learner_for(baseline="none")
    logits = jax.random.normal(jax.random.PRNGKey(1), (3, 2, 3))
    actions = jnp.asarray([[0, 1], [1, 0], [0, 0]])
    reward = jnp.asarray([[0.0, -1.0], [1.0, 0.0], [0.0, 0.0]])
    mask = jnp.asarray([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    v = jnp.full((3, 2), -0.7)
    lesioned = jax.grad(lambda lg: learner.objective(lg, actions, v, reward, mask, lesioned=True)[0])(logits)
    raw = jax.grad(lambda lg: none.objective(lg, actions, jnp.zeros_like(v), reward, mask)[0])(logits)
    np.testing.assert_allclose(lesioned, raw, atol=1e-6)


@pytest.mark.parametrize("options, words", [
    (dict(baseline="average"), "baseline must be one of"),
    (dict(baseline="running", baseline_rate=1.5), "baseline_rate must be a number in (0, 1]"),
    (dict(baseline="constant", baseline_constant=float("nan")), "baseline_constant must be a finite number"),
    (dict(baseline="gru", baseline_per_condition=True), "applies to the running baseline"),
    (dict(lesion_value_at=-1), "lesion_value_at must be an integer >= 0"),
])
def test_bad_baseline_options_are_refused(options, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(**options)
