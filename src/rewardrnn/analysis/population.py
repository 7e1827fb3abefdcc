"""Population analyses on plain arrays (trials or conditions x time x units): Mante-style
regression axes, PCA, metric MDS, cross-temporal decoding, tuning and unit classification.
Pure functions of numpy arrays; the task suites (:mod:`rewardrnn.analysis.suites`) feed them
from activity datasets, and users can feed them with recorded data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


def zscore_units(x: np.ndarray, min_std: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Z-score each unit (last axis) across everything else, ignoring NaN. Returns the z-scored
    array and the mask of kept units (std >= ``min_std``; Miconi drops constant bias units,
    spec §5 ``rgrss.py``); dropped units are removed."""
    flat = x.reshape(-1, x.shape[-1])
    mean, std = np.nanmean(flat, 0), np.nanstd(flat, 0)
    keep = std >= min_std
    return ((x - mean) / np.where(keep, std, 1.0))[..., keep], keep


@dataclass(frozen=True)
class RegressionAxes:
    """Mante et al. 2013 targeted dimensionality reduction (spec §6.5 and Miconi §5).

    ``coefficients`` (time, regressor, unit): per-unit OLS coefficients at each time;
    ``beta_max`` (regressor, unit): each regressor's coefficient vector at its time of largest
    norm (``t_max`` indices); ``axes`` (unit, k): the QR-orthogonalised ``beta_max`` of the
    first k regressors named in ``axis_names``, signs fixed so that diag(R) > 0."""

    names: tuple[str, ...]
    coefficients: np.ndarray
    beta_max: np.ndarray
    t_max: np.ndarray
    axis_names: tuple[str, ...]
    axes: np.ndarray

    def project(self, trajectories: np.ndarray) -> np.ndarray:
        """Project (conditions, time, unit) trajectories on the axes after subtracting the
        across-condition mean at each time: (conditions, time, k)."""
        centred = trajectories - np.nanmean(trajectories, axis=0, keepdims=True)
        return centred @ self.axes


def regression_axes(rates: np.ndarray, regressors: np.ndarray, names: tuple[str, ...],
                    axis_names: tuple[str, ...] | None = None) -> RegressionAxes:
    """``rates`` (trials, time, units), already z-scored; ``regressors`` (trials, p), one column
    per name, an intercept is added. Ordinary least squares at every time point for all units at
    once; NaN samples (ended trials) are left out per time point."""
    n_trials, n_time, n_units = rates.shape
    design = np.column_stack([regressors, np.ones(n_trials)])
    coefficients = np.full((n_time, len(names), n_units), np.nan)
    for t in range(n_time):
        ok = np.all(np.isfinite(rates[:, t]), axis=1)
        if ok.sum() > design.shape[1]:
            beta, *_ = np.linalg.lstsq(design[ok], rates[ok, t], rcond=None)
            coefficients[t] = beta[:-1]
    norms = np.linalg.norm(np.nan_to_num(coefficients), axis=2)  # (time, regressor)
    t_max = np.argmax(norms, axis=0)
    beta_max = np.nan_to_num(coefficients[t_max, np.arange(len(names))])
    axis_names = tuple(axis_names or names)
    chosen = np.stack([beta_max[names.index(n)] for n in axis_names], axis=1)
    q, r = np.linalg.qr(chosen)
    q = q * np.sign(np.where(np.diag(r) == 0, 1.0, np.diag(r)))
    return RegressionAxes(tuple(names), coefficients, beta_max, t_max, axis_names, q)


@dataclass(frozen=True)
class PCA:
    """Principal components of (samples, units) data: ``components`` (k, units), ``explained``
    variance ratios (k,), ``mean`` (units,)."""

    components: np.ndarray
    explained: np.ndarray
    mean: np.ndarray

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) @ self.components.T


def pca(x: np.ndarray, n_components: int = 3) -> PCA:
    """PCA by SVD of the centred (samples, units) matrix (rows with NaN are dropped)."""
    x = x[np.all(np.isfinite(x), axis=1)]
    mean = x.mean(0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    variance = s ** 2
    return PCA(vt[:n_components], variance[:n_components] / variance.sum(), mean)


def classical_mds(points: np.ndarray, n_components: int = 2) -> np.ndarray:
    """Metric (classical, Torgerson) MDS of (samples, units) points under Euclidean distance:
    double-centre the squared distances and take the top eigenvectors. For Euclidean distances
    this embedding is exact up to rotation (Miconi's ``plotmds.py`` used metric MDS, spec §5)."""
    d2 = np.sum((points[:, None, :] - points[None, :, :]) ** 2, axis=-1)
    n = d2.shape[0]
    centring = np.eye(n) - np.ones((n, n)) / n
    b = -0.5 * centring @ d2 @ centring
    values, vectors = np.linalg.eigh(b)
    order = np.argsort(values)[::-1][:n_components]
    return vectors[:, order] * np.sqrt(np.maximum(values[order], 0))


def cross_temporal_decoding(data: np.ndarray, labels: np.ndarray, n_splits: int = 100,
                            seed: int = 0) -> np.ndarray:
    """Miconi's cross-temporal decoding (spec §5, after Meyers et al. 2008): ``data`` (trials,
    time, units), ``labels`` (trials,). For each of ``n_splits`` random half/half splits, the
    mean training trial of each label is a template (time x units); every test trial at time t2
    is given the label whose template at time t1 is closest in correlation distance (1 - Pearson
    r across units). Returns the accuracy (t1 = training time, t2 = testing time), averaged over
    test trials and splits. Chance is 1 / number of labels."""
    rng = np.random.default_rng(seed)
    classes, y = np.unique(labels, return_inverse=True)
    z = data - data.mean(-1, keepdims=True)
    z = z / np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-12)
    n_time = data.shape[1]
    accuracy = np.zeros((n_time, n_time))
    for _ in range(n_splits):
        train = np.zeros(len(y), bool)
        for c in range(len(classes)):  # half of each label's trials
            members = rng.permutation(np.flatnonzero(y == c))
            train[members[: len(members) // 2]] = True
        templates = np.stack([data[train & (y == c)].mean(0) for c in range(len(classes))])
        templates = templates - templates.mean(-1, keepdims=True)
        templates = templates / np.maximum(np.linalg.norm(templates, axis=-1, keepdims=True), 1e-12)
        test = z[~train]
        n_classes, n_test = templates.shape[0], test.shape[0]
        corr = templates.reshape(-1, templates.shape[-1]) @ test.reshape(-1, test.shape[-1]).T  # one BLAS call
        corr = corr.reshape(n_classes, n_time, n_test, n_time).transpose(2, 0, 1, 3)  # (test trial, class, t1, t2)
        predicted = np.argmax(corr, axis=1)
        accuracy += np.mean(predicted == y[~train][:, None, None], axis=0)
    return accuracy / n_splits


def linear_tuning(responses: np.ndarray, variable: np.ndarray, alpha: float = 0.05) -> dict[str, np.ndarray]:
    """Per-unit linear regression of ``responses`` (trials, units) on ``variable`` (trials,):
    slope, Pearson r, p value and the sign of significant tuning (+1, -1, 0). Used for f1 tuning
    through the delay of the working-memory task (Romo et al.; spec §6.7)."""
    x = np.asarray(variable, float)
    slopes, rs, ps = [], [], []
    for unit in responses.T:
        ok = np.isfinite(unit)
        if ok.sum() < 3 or np.ptp(unit[ok]) == 0 or np.ptp(x[ok]) == 0:
            slopes.append(0.0), rs.append(0.0), ps.append(1.0)
            continue
        fit = stats.linregress(x[ok], unit[ok])
        slopes.append(fit.slope), rs.append(fit.rvalue), ps.append(fit.pvalue)
    slopes, rs, ps = map(np.asarray, (slopes, rs, ps))
    return {"slope": slopes, "r": rs, "p": ps, "sign": np.where(ps < alpha, np.sign(slopes), 0).astype(int)}


#: Regressors of the value-unit classification (spec §6.8 ``classify_units``).
VALUE_UNIT_TYPES = ("chosen_value", "offer_value_A", "offer_value_B", "choice")


def economic_regressors(n_a: np.ndarray, n_b: np.ndarray, chose_b: np.ndarray,
                        indifference_b_per_a: float) -> dict[str, np.ndarray]:
    """The regressors of spec §6.8: x = (n_B - n_A) / (n_B + n_A), x0 = (idpt - 1) / (idpt + 1);
    chosen value |x - x0|, offer value A min(x - x0, 0), offer value B max(x - x0, 0), choice
    +1 for B and -1 for A."""
    x = (n_b - n_a) / (n_b + n_a)
    x0 = (indifference_b_per_a - 1) / (indifference_b_per_a + 1)
    return {"chosen_value": np.abs(x - x0), "offer_value_A": np.minimum(x - x0, 0),
            "offer_value_B": np.maximum(x - x0, 0), "choice": np.where(chose_b, 1.0, -1.0)}


def classify_units(responses: np.ndarray, regressors: dict[str, np.ndarray], alpha: float = 0.05,
                   min_r2: float = 0.05) -> np.ndarray:
    """The type of each unit (responses (trials, units)): the regressor with the largest r^2
    among those with Pearson p < ``alpha`` and r^2 >= ``min_r2``; "" if none (spec §6.8)."""
    names = list(regressors)
    best = np.full(responses.shape[1], "", dtype=object)
    best_r2 = np.zeros(responses.shape[1])
    for name in names:
        tuning = linear_tuning(responses, regressors[name], alpha)
        r2 = tuning["r"] ** 2
        better = (tuning["p"] < alpha) & (r2 >= min_r2) & (r2 > best_r2)
        best[better], best_r2[better] = name, r2[better]
    return best
