"""Behavioural analyses on synthetic data with a known answer."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rewardrnn.analysis.behaviour import fit_psychometric, performance_by, psychometric_points, wilson_interval


def test_psychometric_fit_recovers_mu_and_sigma():
    rng = np.random.default_rng(0)
    x = np.array([-51.2, -25.6, -12.8, -6.4, 0, 6.4, 12.8, 25.6, 51.2])
    n = np.full(x.size, 400)
    k = rng.binomial(n, stats.norm.cdf((x - 3.0) / 12.0))
    fit = fit_psychometric(x, k, n)
    assert fit.mu == pytest.approx(3.0, abs=3 * fit.mu_se)
    assert fit.sigma == pytest.approx(12.0, abs=3 * fit.sigma_se)
    assert 0 < fit.mu_se < 2 and 0 < fit.sigma_se < 2
    assert fit.lapse == 0.0


def test_psychometric_fit_with_lapse():
    rng = np.random.default_rng(1)
    x = np.linspace(-50, 50, 11)
    n = np.full(x.size, 2000)
    p = 0.1 / 2 + 0.9 * stats.norm.cdf(x / 10.0)
    fit = fit_psychometric(x, rng.binomial(n, p), n, lapse=True)
    assert fit.lapse == pytest.approx(0.1, abs=0.03)
    assert fit.sigma == pytest.approx(10.0, rel=0.15)


def test_wilson_interval_contains_the_proportion():
    lo, hi = wilson_interval(np.array([0, 50, 100]), np.array([100, 100, 100]))
    assert lo[0] == pytest.approx(0.0, abs=1e-12) and 0 < hi[0] < 0.05
    assert lo[1] < 0.5 < hi[1]
    assert hi[2] == pytest.approx(1.0)


def test_points_and_performance_tables():
    table = pd.DataFrame({
        "direction": [1, 1, -1, -1, 1], "coherence": [10, 10, 10, 10, 0],
        "decision": [True, True, True, False, True],
        "choice": ["R", "L", "L", "", "R"], "correct": [True, False, True, False, True],
    })
    pts = psychometric_points(table, lambda d: d["direction"] * d["coherence"], "R")
    assert list(pts["stimulus"]) == [-10, 0, 10]
    assert list(pts["n_decision"]) == [1, 1, 2] and list(pts["p_positive"]) == [0.0, 1.0, 0.5]
    perf = performance_by(table, "coherence").set_index("coherence")
    assert perf.loc[10, "p_decision"] == 0.75 and perf.loc[10, "p_correct"] == pytest.approx(2 / 3)
