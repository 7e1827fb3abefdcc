"""The economic task at any juice ratio: offers built from the ratio hold the indifference point
with a near-tie on each side; the per-condition criterion refuses a network that chooses one
offer at chance; analyze warns when the fitted indifference point is more than 10 % off."""

import math

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from rewardrnn.analysis import song_suite
from rewardrnn.errors import ConfigError
from rewardrnn.tasks import TaskEnv, get_task
from rewardrnn.tasks.economic import OFFERS, OFFERS_WIDE, ratio_offers
from rewardrnn.tasks.engine import Outcomes, Trials


@pytest.mark.parametrize("ratio", [0.5, 1.0, 1.5, 2.2, 3.0, 4.1, 6.0])
def test_ratio_offers_hold_the_indifference_point_between_two_near_ties(ratio):
    offers = ratio_offers(ratio)
    assert offers[0] == (0, 1) and offers[-1][1] == 0 and len(set(offers)) == len(offers)
    mixed = [n_b / (n_a * ratio) for n_b, n_a in offers if n_a and n_b]  # value of B's side over A's
    assert mixed == sorted(mixed) and 1.0 not in mixed
    below, above = max(q for q in mixed if q < 1), min(q for q in mixed if q > 1)
    assert 0.85 <= below < 1 < above <= 1.18  # a near-tie on each side, about 10 % away
    assert max(n for offer in offers for n in offer) <= 12


def test_the_paper_ratios_keep_the_paper_offers_and_criterion():
    for ratio, offers in ((2.2, OFFERS), (4.1, OFFERS_WIDE)):
        task = get_task("economic", juice_ratio=ratio)
        assert task.n_conditions == 2 * len(offers)
        assert task.criterion.min_p_correct_per_condition is None
    other = get_task("economic", juice_ratio=3.0)
    assert other.n_conditions == 2 * len(ratio_offers(3.0))
    assert other.criterion.min_p_correct_per_condition == 0.6
    assert "in every condition" in other.criterion.describe()
    assert get_task("economic", juice_ratio=4.1, offers="ratio").criterion.min_p_correct_per_condition == 0.6
    with pytest.raises(ConfigError, match="offers must be one of paper, ratio"):
        get_task("economic", juice_ratio=3.0, offers="wide")


def test_the_per_condition_criterion_refuses_a_condition_at_chance():
    """Planted choices: 3 conditions, one answered at chance; overall P(correct) 0.83 passes the
    overall threshold 0.8 but not the per-condition one."""
    task = get_task("rdm-fixed")
    import dataclasses

    from rewardrnn.tasks.protocol import Criterion
    strict = dataclasses.replace(task, criterion=Criterion(0.99, 0.80, min_p_correct_per_condition=0.6))
    env = TaskEnv(strict, 10.0)
    condition = jnp.asarray([0] * 10 + [1] * 10 + [2] * 10)
    correct = jnp.asarray([True] * 10 + [True] * 10 + [True, False] * 5)
    trials = Trials(condition, jnp.zeros((30, 3)), jnp.zeros((30, 3)), jnp.zeros((30, 0)))
    outcomes = Outcomes(jnp.zeros((2, 30)), jnp.ones((2, 30)), jnp.zeros(30, jnp.int32), jnp.ones(30, bool), correct,
                        jnp.ones(30, jnp.int32))
    assert float(env.worst_condition(trials, outcomes)) == pytest.approx(0.5)
    perf = {"p_decision": 1.0, "p_correct": float(correct.mean()), "p_correct_worst_condition": 0.5}
    assert perf["p_correct"] > 0.8 and not strict.criterion.met(perf)
    assert strict.criterion.met({**perf, "p_correct_worst_condition": 0.7})
    assert task.criterion.met(perf)  # the paper's criterion alone is met


def _planted_table(ratio_trained: float, ratio_behaved: float) -> pd.DataFrame:
    """Choices of a noiseless chooser that values A at ``ratio_behaved`` B, on the offers of
    ``ratio_trained``, 40 trials per offer, with a little lapse so the fit is finite."""
    rows = []
    rng = np.random.default_rng(0)
    for n_b, n_a in ratio_offers(ratio_trained):
        value = n_b - n_a * ratio_behaved
        p_b = 1 / (1 + math.exp(-4 * value / max(n_a, 1)))
        for _ in range(40):
            rows.append({"n_A": n_a, "n_B": n_b, "decision": True,
                         "chosen_juice": "B" if rng.random() < p_b else "A", "juice_ratio": ratio_trained})
    return pd.DataFrame(rows)


def test_analyze_warns_when_the_indifference_point_is_off_the_trained_ratio():
    task = get_task("economic", juice_ratio=3.0)
    import xarray as xr

    good, bad = song_suite.Analysis(), song_suite.Analysis()
    song_suite._economic(task, _planted_table(3.0, 3.0), xr.Dataset(), good)
    song_suite._economic(task, _planted_table(3.0, 2.0), xr.Dataset(), bad)
    assert abs(good.numbers["indifference_point"]["relative_error"]) < 0.1 and not good.warnings
    assert bad.numbers["indifference_point"]["relative_error"] < -0.2
    assert len(bad.warnings) == 1 and "off the ratio the network was trained with (1 A = 3 B)" in bad.warnings[0]
