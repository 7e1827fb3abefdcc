"""Behavioural analyses: pure functions of a behaviour table (pandas) or plain arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats


@dataclass(frozen=True)
class PsychometricFit:
    """Cumulative-Gaussian fit P(positive) = lapse/2 + (1 - lapse) Φ((x - mu) / sigma).
    ``mu`` and ``sigma`` are in the stimulus unit; ``*_se`` are standard errors from the inverse
    Hessian of the negative log-likelihood (NaN if it could not be inverted)."""

    mu: float
    sigma: float
    lapse: float
    mu_se: float
    sigma_se: float
    n_trials: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.lapse / 2 + (1 - self.lapse) * stats.norm.cdf((np.asarray(x) - self.mu) / self.sigma)


def fit_psychometric(x: np.ndarray, n_positive: np.ndarray, n_total: np.ndarray,
                     lapse: bool = False) -> PsychometricFit:
    """Binomial maximum-likelihood fit of a cumulative Gaussian (optionally with a lapse rate)
    to ``n_positive`` of ``n_total`` choices at each stimulus value ``x``.

    pyrl fitted by least squares on proportions (spec §8 quirk 23); maximum likelihood weighs
    each point by its trial count, as a binomial model should."""
    x, k, n = (np.asarray(a, float) for a in (x, n_positive, n_total))
    keep = n > 0
    x, k, n = x[keep], k[keep], n[keep]
    if x.size < 2:
        raise ValueError("a psychometric fit needs at least two stimulus values with trials")

    def unpack(theta):
        mu, log_sigma = theta[0], theta[1]
        lam = 1 / (1 + np.exp(-theta[2])) * 0.5 if lapse else 0.0  # lapse in (0, 0.5)
        return mu, np.exp(log_sigma), lam

    def nll(theta):
        mu, sigma, lam = unpack(theta)
        p = lam / 2 + (1 - lam) * stats.norm.cdf((x - mu) / sigma)
        p = np.clip(p, 1e-12, 1 - 1e-12)
        return -np.sum(k * np.log(p) + (n - k) * np.log1p(-p))

    spread = max(np.std(x), 1e-3)
    theta0 = [np.average(x, weights=n), np.log(spread)] + ([-3.0] if lapse else [])
    res = optimize.minimize(nll, theta0, method="BFGS")
    mu, sigma, lam = unpack(res.x)
    try:
        cov = np.linalg.inv(_hessian(nll, res.x))
        mu_se = float(np.sqrt(cov[0, 0]))
        sigma_se = float(sigma * np.sqrt(cov[1, 1]))  # delta method for exp(log_sigma)
    except np.linalg.LinAlgError:
        mu_se = sigma_se = float("nan")
    return PsychometricFit(float(mu), float(sigma), float(lam), mu_se, sigma_se, int(n.sum()))


def _hessian(f, theta, eps=1e-4):
    theta = np.asarray(theta, float)
    d = theta.size
    h = np.zeros((d, d))
    for i in range(d):
        for j in range(d):
            e_i, e_j = np.eye(d)[i] * eps, np.eye(d)[j] * eps
            h[i, j] = (f(theta + e_i + e_j) - f(theta + e_i - e_j) - f(theta - e_i + e_j)
                       + f(theta - e_i - e_j)) / (4 * eps * eps)
    return h


def wilson_interval(k: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion k/n (arrays)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def psychometric_points(table: pd.DataFrame, signed_stimulus, positive_action: str,
                        among: tuple[str, ...] | None = None) -> pd.DataFrame:
    """P(positive action | decision) per signed stimulus value, with trial counts and 95 %
    Wilson intervals; with ``among``, only decisions for those actions count (e.g. left/right
    choices, leaving out sure-target choices). Columns: stimulus, n_decision, n_positive,
    p_positive, ci_low, ci_high."""
    decided = table[table["decision"]]
    if among is not None:
        decided = decided[decided["choice"].isin(among)]
    grouped = decided.assign(stimulus=signed_stimulus(decided),
                             positive=decided["choice"] == positive_action).groupby("stimulus")
    points = grouped["positive"].agg(n_decision="size", n_positive="sum").reset_index()
    points["p_positive"] = points["n_positive"] / points["n_decision"]
    points["ci_low"], points["ci_high"] = wilson_interval(points["n_positive"], points["n_decision"])
    return points


def performance_by(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """P(decision) and P(correct | decision) per value of ``column``, with trial counts."""
    grouped = table.groupby(column)
    result = pd.DataFrame({
        "n_trials": grouped.size(),
        "p_decision": grouped["decision"].mean(),
        "p_correct": grouped.apply(lambda g: g.loc[g["decision"], "correct"].mean(), include_groups=False),
    })
    return result.reset_index()
