"""Behavioural analyses: pure functions of a behaviour table (pandas) or plain arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize, stats

from rewardrnn.tasks.protocol import Protocol


class NotEnoughTrials(ValueError):
    """The trials hold too few of a kind for an analysis (e.g. no correct decision, one stimulus
    value with choices: an untrained network). The suites record what they skipped and why,
    and go on; it is not bad input."""


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
        raise NotEnoughTrials("a psychometric fit needs at least two stimulus values with decided trials")

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


def performance_by_condition(table: pd.DataFrame, variables: list[str]) -> pd.DataFrame:
    """P(decision) and P(correct | decision) per condition of the grid (one column per condition
    variable), then, when there are several variables, the rows pooled over all but one of them
    (the paper's per-coherence numbers; the pooled-over variables read ``all``)."""
    variables = [v for v in variables if v in table]
    if not variables:
        return performance_by(table.assign(all="all"), "all")
    grid = performance_by(table, variables)
    if len(variables) == 1:
        return grid
    pooled = [performance_by(table, v).assign(**{o: "all" for o in variables if o != v}) for v in variables]
    frames = [grid.astype({v: object for v in variables})] + [f[grid.columns].astype({v: object for v in variables})
                                                             for f in pooled]
    return pd.concat(frames, ignore_index=True)


def performance_by(table: pd.DataFrame, column: str | list[str]) -> pd.DataFrame:
    """P(decision) and P(correct | decision) per value of ``column`` (or combination of the
    values of several columns), with trial counts."""
    grouped = table.groupby(column)
    result = pd.DataFrame({
        "n_trials": grouped.size(),
        "p_decision": grouped["decision"].mean(),
        "p_correct": grouped.apply(lambda g: g.loc[g["decision"], "correct"].mean(), include_groups=False),
    })
    return result.reset_index()


def json_scalar(value):
    """A table value as JSON should hold it: numpy integers as ints, numpy floats to the 7
    significant digits of float32 (51.2, not 51.20000076), other numbers, strings and booleans
    as they are, anything else as text."""
    if isinstance(value, np.integer):
        return value.item()
    if isinstance(value, np.floating):
        return float(f"{value:.7g}")
    if isinstance(value, np.bool_):
        return bool(value)
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def fit_points(points: pd.DataFrame, lapse: bool = False) -> PsychometricFit:
    """:func:`fit_psychometric` on the output of :func:`psychometric_points`."""
    return fit_psychometric(points["stimulus"], points["n_positive"], points["n_decision"], lapse=lapse)


def confidence_interval(fit: PsychometricFit, confidence: float = 0.95) -> dict[str, tuple[float, float]]:
    """Wald intervals of mu and sigma from their standard errors."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    return {"mu": (fit.mu - z * fit.mu_se, fit.mu + z * fit.mu_se),
            "sigma": (fit.sigma - z * fit.sigma_se, fit.sigma + z * fit.sigma_se)}


def reaction_time_ms(table: pd.DataFrame) -> pd.Series:
    """Choice time from the onset of the response epoch (ms); the reaction time of RT tasks."""
    return table["choice_time_ms"] - table["response_onset_ms"]


def chronometric(table: pd.DataFrame, stimulus: str = "coherence", min_trials: int = 10,
                 n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Mean reaction time (ms from the onset of the response epoch to the choice) of correct and
    of error decisions per value of ``stimulus`` (spec §6.3: a cell is kept only with more than
    ``min_trials`` trials, NaN otherwise), with 95 % percentile-bootstrap intervals of each mean
    (``n_resamples`` resamples, seeded). Columns: stimulus, rt_correct_ms, rt_correct_ci_low,
    rt_correct_ci_high, n_correct, and the same for error."""
    decided = table[table["decision"]].assign(rt=reaction_time_ms)
    rng = np.random.default_rng(seed)
    rows = []
    for value, group in decided.groupby(stimulus):
        row = {"stimulus": value}
        for name, part in (("correct", group[group["correct"]]), ("error", group[~group["correct"]])):
            rt = part["rt"].to_numpy(float)
            kept = len(rt) > min_trials
            row[f"rt_{name}_ms"] = rt.mean() if kept else np.nan
            if kept:
                means = rt[rng.integers(0, len(rt), (n_resamples, len(rt)))].mean(1)
                row[f"rt_{name}_ci_low"], row[f"rt_{name}_ci_high"] = np.percentile(means, [2.5, 97.5])
            else:
                row[f"rt_{name}_ci_low"] = row[f"rt_{name}_ci_high"] = np.nan
            row[f"n_{name}"] = len(part)
        rows.append(row)
    if not rows:
        raise NotEnoughTrials("no decided trial: no reaction times")
    return pd.DataFrame(rows)


def equal_count_bins(values: pd.Series, n_bins: int) -> pd.Series:
    """Bin index 0..n_bins-1 of each value, bins holding equal numbers of trials (sort, then
    split: pyrl's stimulus-duration bins, spec §6.3)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    order = np.argsort(values.to_numpy(), kind="stable")
    bins = np.empty(len(values), int)
    bins[order] = np.arange(len(values)) * n_bins // max(len(values), 1)
    return pd.Series(bins, index=values.index)


def rate_by_bins(table: pd.DataFrame, column: str, outcome: str, n_bins: int = 10) -> pd.DataFrame:
    """Mean of the boolean ``outcome`` column in ``n_bins`` equal-count bins of ``column``
    (e.g. accuracy or P(sure) vs stimulus duration). Columns: bin, mean_<column>, n, p, ci_low,
    ci_high."""
    binned = table.assign(bin=equal_count_bins(table[column], n_bins))
    grouped = binned.groupby("bin")
    result = pd.DataFrame({f"mean_{column}": grouped[column].mean(), "n": grouped.size(),
                           "k": grouped[outcome].sum()}).reset_index()
    result["p"] = result["k"] / result["n"]
    result["ci_low"], result["ci_high"] = wilson_interval(result["k"], result["n"])
    return result.drop(columns="k")


def accuracy_by_duration(table: pd.DataFrame, duration: str = "stimulus_ms", n_bins: int = 10) -> pd.DataFrame:
    """P(correct | decision) vs stimulus duration on nonzero-coherence trials, equal-count bins
    (spec §6.3 ``correct_stimulus_duration``)."""
    decided = table[table["decision"] & (table["coherence"] > 0)]
    return rate_by_bins(decided, duration, "correct", n_bins)


def sure_by(table: pd.DataFrame, column: str, n_bins: int | None = None) -> pd.DataFrame:
    """P(sure) on wager trials with any answer, per value of ``column`` or in ``n_bins``
    equal-count bins of it (spec §6.4 ``sure_stimulus_duration``)."""
    answered = table[(table["wager"] > 0) & table["decision"]]
    if n_bins is not None:
        return rate_by_bins(answered, column, "sure_chosen", n_bins)
    grouped = answered.groupby(column)
    result = pd.DataFrame({"n": grouped.size(), "k": grouped["sure_chosen"].sum()}).reset_index()
    result["p"] = result["k"] / result["n"]
    result["ci_low"], result["ci_high"] = wilson_interval(result["k"], result["n"])
    return result.drop(columns="k")


def accuracy_waived_vs_not_offered(table: pd.DataFrame) -> pd.DataFrame:
    """P(correct) of left/right choices per coherence (> 0) on trials without the sure target and
    on wager trials where it was waived (spec §6.4; the paper: waived > not offered)."""
    lr = table[table["decision"] & ~table["sure_chosen"] & (table["coherence"] > 0)]
    lr = lr.assign(trial_kind=np.where(lr["wager"] > 0, "waived", "not_offered"))
    missing = {"waived", "not_offered"} - set(lr["trial_kind"])
    if missing:
        raise NotEnoughTrials(f"no left/right decision on {' or '.join(sorted(missing))} trials at coherence > 0")
    return (lr.groupby(["coherence", "trial_kind"])["correct"].mean().unstack("trial_kind").reset_index())


def cue_combination(table: pd.DataFrame, psychometric) -> dict[str, float]:
    """Multisensory thresholds (spec §6.6): a cumulative Gaussian per modality (v, a, va) gives
    sigma_v, sigma_a, sigma_va; optimal combination predicts 1/sigma_va^2 = 1/sigma_v^2 +
    1/sigma_a^2. Returns the sigmas, mus, both sides and their ratio (observed / predicted)."""
    result: dict[str, float] = {}
    for modality in ("v", "a", "va"):
        part = table[table["modality_name"] == modality]
        points = psychometric_points(part, psychometric.signed_stimulus, psychometric.positive_action)
        fit = fit_points(points)
        result[f"sigma_{modality}"], result[f"mu_{modality}"] = fit.sigma, fit.mu
    predicted = result["sigma_v"] ** -2 + result["sigma_a"] ** -2
    observed = result["sigma_va"] ** -2
    result.update(predicted_inverse_variance=predicted, observed_inverse_variance=observed,
                  optimality_ratio=observed / predicted)
    return result


def pair_accuracy(table: pd.DataFrame) -> pd.DataFrame:
    """P(correct | decision) for every (f1, f2) pair (spec §6.7)."""
    return performance_by(table, ["f1", "f2"])


def choice_pattern(table: pd.DataFrame) -> pd.DataFrame:
    """P(choose B) per offer (n_B, n_A) on decision trials, with counts (spec §6.8)."""
    decided = table[table["decision"]].assign(chose_b=lambda t: t["chosen_juice"] == "B")
    grouped = decided.groupby(["n_B", "n_A"])
    result = pd.DataFrame({"n": grouped.size(), "k": grouped["chose_b"].sum()}).reset_index()
    result["p_choose_b"] = result["k"] / result["n"]
    return result.drop(columns="k")


def indifference_point(table: pd.DataFrame) -> dict[str, float]:
    """The number of B that is worth one A (spec §6.8): fit P(choose B) = Phi((x - mu) / sigma)
    with x = (n_B - n_A) / (n_B + n_A), then 1 A = (1 + mu) / (1 - mu) B. The fit is binomial
    maximum likelihood (pyrl used least squares on proportions)."""
    pattern = choice_pattern(table)
    x = (pattern["n_B"] - pattern["n_A"]) / (pattern["n_B"] + pattern["n_A"])
    fit = fit_psychometric(x, pattern["p_choose_b"] * pattern["n"], pattern["n"])
    return {"mu": fit.mu, "sigma": fit.sigma, "indifference_b_per_a": (1 + fit.mu) / (1 - fit.mu)}


class _TableOutcomes(NamedTuple):
    decision: np.ndarray
    correct: np.ndarray
    choice: np.ndarray


def table_performance(protocol: Protocol, table: pd.DataFrame) -> dict[str, float]:
    """The task's performance numbers (those of its stop criterion: P(decision), P(correct |
    decision) and e.g. P(sure)) computed from a behaviour table."""
    decision = table["decision"].to_numpy(bool)
    correct = table["correct"].to_numpy(bool)
    index = {name: i for i, name in enumerate(protocol.actions)}
    choice = table["choice"].fillna("").map(lambda c: index.get(c, -1)).to_numpy(np.int32)
    n_decision = max(int(decision.sum()), 1)
    perf = {"p_decision": float(decision.mean()), "p_correct": float(correct.sum() / n_decision)}
    if protocol.performance is not None:
        variables = {name: table[name].to_numpy(np.float32) for name in table.columns
                     if table[name].dtype.kind in "fiub"}
        extra = protocol.performance(variables, _TableOutcomes(decision, correct, choice))
        perf.update({k: float(v) for k, v in extra.items()})
    return perf
