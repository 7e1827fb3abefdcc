"""Comparing trained networks' dynamics from their recorded activity: the dimensionality of the
activity (participation ratio) and a dynamical similarity between two networks (the distance
between the spectra of their fitted linear dynamics). Pure functions of numpy arrays (trials x
time x units, NaN where a trial had ended), so they apply to activity from any source.

**Dynamical similarity.** Ostrow et al. 2023 (Dynamical Similarity Analysis, DSA) fit a linear
operator to each system's delay-embedded trajectories (HAVOK/DMD) and compare the two operators
up to an orthogonal change of basis. Its package (``dsa-metric`` 2.0.2) needs PyTorch, which this
project does not depend on. Here the first step is the same: a reduced-rank DMD operator
(:class:`pydmd.DMD`, fitted on consecutive steps *within* trials) of each network's activity
projected on its own first ``n_components`` principal components. The second is torch-free: the
two operators' eigenvalues (invariant under *any* change of basis, so two networks that compute
with rotated or rescaled versions of the same dynamics compare as equal) are matched one to one
(:func:`scipy.optimize.linear_sum_assignment`) and the distance is the mean |lambda - mu| of the
matched pairs, per step of :data:`REFERENCE_DT_MS` ms (dimensionless, 0 for equal spectra, at
most 2). This is weaker than DSA's Procrustes distance: operators with equal spectra but
different eigenvectors (non-normal structure) compare as equal.
"""

from __future__ import annotations

import numpy as np

#: The step (ms) at which spectra are compared: lambda at dt is mapped to lambda**(10 / dt).
REFERENCE_DT_MS = 10.0
#: Principal components (and DMD rank) of the operator fitted to each network's activity.
N_COMPONENTS = 10
#: Most consecutive-step pairs fitted (a seeded random subset beyond it).
MAX_PAIRS = 50_000


def participation_ratio(activity: np.ndarray) -> float:
    """(sum of eigenvalues)^2 / sum of squared eigenvalues of the units' covariance over every
    recorded step (``activity`` (..., units); rows with NaN dropped): the number of dimensions the
    activity spreads over, between 1 (one direction) and the number of units (isotropic)."""
    x = activity.reshape(-1, activity.shape[-1])
    x = x[np.all(np.isfinite(x), axis=1)]
    if len(x) < 2:
        raise ValueError("the participation ratio needs at least two recorded steps")
    eig = np.clip(np.linalg.eigvalsh(np.cov(x, rowvar=False)), 0.0, None)
    return float(eig.sum() ** 2 / (eig ** 2).sum()) if eig.sum() > 0 else 0.0


def step_pairs(activity: np.ndarray, max_pairs: int = MAX_PAIRS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x_t, x_{t+1}) for every pair of consecutive recorded steps of the same trial
    (``activity`` (trials, time, units), NaN after a trial's end), each (pairs, units); at most
    ``max_pairs``, a seeded random subset."""
    if activity.ndim != 3:
        raise ValueError(f"activity must be (trials, time, units), got shape {activity.shape}")
    ok = np.all(np.isfinite(activity), axis=2)
    both = ok[:, :-1] & ok[:, 1:]
    trial, time = np.nonzero(both)
    if len(trial) > max_pairs:
        keep = np.sort(np.random.default_rng(seed).choice(len(trial), max_pairs, replace=False))
        trial, time = trial[keep], time[keep]
    return activity[trial, time], activity[trial, time + 1]


def dmd_spectrum(activity: np.ndarray, dt_ms: float, n_components: int = N_COMPONENTS,
                 max_pairs: int = MAX_PAIRS, seed: int = 0) -> np.ndarray:
    """Eigenvalues (complex, sorted by decreasing modulus) of the rank-``n_components`` DMD
    operator of ``activity`` (trials, time, units) projected on its first ``n_components``
    principal components (centred), fitted on consecutive steps within trials and mapped to a
    step of :data:`REFERENCE_DT_MS` ms (lambda ** (REFERENCE_DT_MS / dt_ms)). Fewer eigenvalues
    when the activity spans fewer dimensions."""
    try:
        from pydmd import DMD
    except ImportError:
        from rewardrnn.errors import ConfigError
        raise ConfigError("the dynamical similarity fits DMD operators with PyDMD: "
                          "pip install 'rewardrnn[dynamics]' (or pydmd)") from None

    from rewardrnn.analysis.population import pca

    x, y = step_pairs(activity, max_pairs, seed)
    if len(x) < 2:
        raise ValueError("the DMD fit needs at least two pairs of consecutive steps")
    axes = pca(x, n_components)
    rank = int(min(n_components, np.sum(axes.explained > 1e-10)))
    if rank < 1:
        raise ValueError("the activity does not vary: no dynamics to fit")
    px, py = axes.transform(x)[:, :rank], axes.transform(y)[:, :rank]
    dmd = DMD(svd_rank=rank)
    dmd.fit(px.T, py.T)
    eigs = np.asarray(dmd.eigs, complex) ** (REFERENCE_DT_MS / dt_ms)  # principal power: per 10-ms step
    return eigs[np.argsort(-np.abs(eigs), kind="stable")]


def spectral_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a_i - b_pi(i)| over the one-to-one matching pi of the two spectra that minimises it
    (the shorter spectrum is matched into the longer; dimensionless). 0 for equal spectra."""
    from scipy.optimize import linear_sum_assignment

    a, b = np.asarray(a, complex), np.asarray(b, complex)
    if a.size == 0 or b.size == 0:
        raise ValueError("spectral_distance needs two non-empty spectra")
    cost = np.abs(a[:, None] - b[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())
