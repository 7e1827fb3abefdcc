"""Dimensionality and dynamical similarity of recorded activity (rewardrnn.analysis.similarity):
hand computations and planted linear dynamics."""

import numpy as np
import pytest

from rewardrnn.analysis.similarity import dmd_spectrum, participation_ratio, spectral_distance, step_pairs


def planted(A, trials=30, steps=50, units=20, noise=0.0, seed=0, end=None):
    """Trials of x_{t+1} = A x_t (+ noise) from random starts, embedded in ``units`` dimensions by
    a random orthonormal map; trials in ``end`` stop early (NaN after)."""
    rng = np.random.default_rng(seed)
    k = A.shape[0]
    embed = np.linalg.qr(rng.normal(size=(units, units)))[0][:, :k]
    z = np.zeros((trials, steps, k))
    z[:, 0] = rng.normal(size=(trials, k))
    for t in range(steps - 1):
        z[:, t + 1] = z[:, t] @ A.T + noise * rng.normal(size=(trials, k))
    x = z @ embed.T
    for trial, last in (end or {}).items():
        x[trial, last:] = np.nan
    return x


def rotation(r, theta):
    return r * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def test_participation_ratio_by_hand():
    # two orthogonal directions with variances 2:1 -> (2 + 1)^2 / (4 + 1) = 1.8; NaN rows dropped
    a, b = np.sqrt(2.0), 1.0
    x = np.array([[a, b, 0], [-a, b, 0], [a, -b, 0], [-a, -b, 0], [np.nan, 5, 5]])
    assert participation_ratio(x) == pytest.approx(1.8)
    iso = planted(np.eye(3), trials=2000, steps=1, units=10)
    assert participation_ratio(iso) == pytest.approx(3.0, abs=0.1)  # isotropic in 3 of 10 dimensions


def test_step_pairs_stay_within_trials():
    x = np.arange(2 * 4 * 1, dtype=float).reshape(2, 4, 1)
    x[1, 2:] = np.nan
    before, after = step_pairs(x)
    assert before[:, 0].tolist() == [0, 1, 2, 4] and after[:, 0].tolist() == [1, 2, 3, 5]


def test_dmd_recovers_planted_eigenvalues_whatever_the_embedding():
    A = np.zeros((3, 3))
    A[:2, :2] = rotation(0.95, 0.2)
    A[2, 2] = 0.8
    truth = np.sort_complex(np.array([0.95 * np.exp(0.2j), 0.95 * np.exp(-0.2j), 0.8]))
    # trials of unequal length: a pair across a trial's end would spoil the exact fit
    for seed in (0, 1):
        found = dmd_spectrum(planted(A, seed=seed, end={0: 10, 3: 25}), dt_ms=10.0, n_components=3)
        assert np.allclose(np.sort_complex(found), truth, atol=1e-6)
        assert np.all(np.diff(np.abs(found)) <= 1e-12)  # slowest first
    # the same activity at dt = 20 ms: per 10-ms step, lambda ** (10 / 20)
    coarse = dmd_spectrum(planted(A, seed=0), dt_ms=20.0, n_components=3)
    assert np.allclose(np.sort_complex(coarse), np.sort_complex(np.sqrt(truth)), atol=1e-6)


def test_spectral_distance_by_hand_and_on_planted_networks():
    assert spectral_distance([1.0, 0.5], [0.5 + 0.1j, 1.0]) == pytest.approx(0.05)  # matched 1-1, 0.5-(0.5+0.1i)
    assert spectral_distance([0.9, 0.1], [0.9, 0.1, 0.5]) == pytest.approx(0.0)  # shorter matched into longer
    A = np.diag([0.97, 0.9, 0.6])
    B = np.zeros((3, 3))
    B[:2, :2] = rotation(0.97, 0.3)
    B[2, 2] = 0.6
    same = spectral_distance(dmd_spectrum(planted(A, noise=0.01, seed=0), 10.0, 3),
                             dmd_spectrum(planted(A, noise=0.01, seed=5, units=30), 10.0, 3))
    other = spectral_distance(dmd_spectrum(planted(A, noise=0.01, seed=0), 10.0, 3),
                              dmd_spectrum(planted(B, noise=0.01, seed=5), 10.0, 3))
    assert same < 0.01 < 0.1 < other
    with pytest.raises(ValueError):
        spectral_distance([], [1.0])
