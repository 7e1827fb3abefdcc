"""Behaviour across trials: the analyses of value-based sessions (bandits, reversals, the two-step
task), pure functions over a *behaviour table*, so that they read a trained network's episodes
(:func:`rewardrnn.tasks.episodes.behaviour_table`) and a lab's own sessions alike.

The table has one row per trial, in order within each episode, with at least the columns

* ``episode``: the episode (session, block) it belongs to, any hashable label;
* ``trial``: its number within the episode, from 1;
* ``choice``: the option chosen, 0 or 1 (LEFT / RIGHT; A1 / A2 in the two-step task's first stage);
* ``reward``: the reward earned on the trial (0 / 1 in these tasks);

and where an analysis needs them ``better`` (the better option, -1 where they are equal),
``reversal_trial`` (the first trial after the reversal, from 1) and, for the two-step task,
``common`` (whether the trial's transition was the common one).

Every probability is a fraction of trials in [0, 1], with its binomial standard error
``sqrt(p (1 - p) / n)`` and the count ``n`` of trials it rests on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from rewardrnn.errors import ConfigError

REQUIRED = ("episode", "trial", "choice", "reward")


def check_table(table: pd.DataFrame, columns: tuple[str, ...] = ()) -> None:
    """Refuse, in one line, a table that lacks a column an analysis needs or whose choices are not 0/1."""
    missing = [c for c in REQUIRED + tuple(columns) if c not in table.columns]
    if missing:
        raise ConfigError(f"the behaviour table lacks the column(s) {', '.join(missing)}; it needs "
                          f"{', '.join(REQUIRED + tuple(columns))}")
    bad = ~table["choice"].isin((0, 1))
    if bad.any():
        raise ConfigError(f"choice must be 0 or 1 on every trial; got {table['choice'][bad].iloc[0].item()!r}")


def _proportion(hits: pd.Series) -> dict[str, float]:
    n = int(hits.count())
    p = float(hits.mean()) if n else float("nan")
    return {"p": p, "sem": float(np.sqrt(p * (1 - p) / n)) if n else float("nan"), "n": n}


def _previous(table: pd.DataFrame, column: str, lag: int = 1) -> pd.Series:
    """``column`` ``lag`` trials back within the same episode (NaN before the episode's start)."""
    return table.groupby("episode", sort=False)[column].shift(lag)


def learning_curve(table: pd.DataFrame) -> pd.DataFrame:
    """P(better option chosen) at each trial of the episode (learning within episodes), over
    the episodes' trials whose options differ: columns trial, p, sem, n."""
    check_table(table, ("better",))
    rows = table[table["better"] >= 0]
    hits = rows["choice"] == rows["better"]
    return pd.DataFrame([{"trial": int(t), **_proportion(h)} for t, h in hits.groupby(rows["trial"])])


def around_reversal(table: pd.DataFrame, before: int = 10, after: int = 20) -> pd.DataFrame:
    """P(choosing the option that was better *before* the reversal) at each trial relative to the
    reversal (0: the first trial after it; -before .. after - 1): columns relative_trial, p, sem,
    n. A network that follows the reversal goes from near 1 to near 0."""
    check_table(table, ("better", "reversal_trial"))
    relative = table["trial"] - table["reversal_trial"]
    first = table[table["trial"] == 1].set_index("episode")["better"]
    initially_better = table["episode"].map(first)
    keep = (relative >= -before) & (relative < after)
    hits = (table["choice"] == initially_better)[keep]
    return pd.DataFrame([{"relative_trial": int(r), **_proportion(h)} for r, h in hits.groupby(relative[keep])])


def trials_to_follow_reversal(around: pd.DataFrame) -> int | None:
    """The first trial after the reversal (1: the first) on which P(the option better before it)
    is below 0.5, from :func:`around_reversal`'s rows (columns relative_trial, p); None if none."""
    after = around[(around["relative_trial"] >= 0) & (around["p"] < 0.5)].sort_values("relative_trial")
    return int(after["relative_trial"].iloc[0]) + 1 if len(after) else None


def win_stay_lose_shift(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """P(stay | the previous trial was rewarded) and P(shift | it was not), a stay being the same
    choice as on the previous trial of the episode (the first trial of each episode has none)."""
    check_table(table)
    previous_choice, previous_reward = _previous(table, "choice"), _previous(table, "reward")
    has = previous_choice.notna()
    stay = (table["choice"] == previous_choice)[has]
    won = previous_reward[has] > 0
    return {"win_stay": _proportion(stay[won]), "lose_shift": _proportion(~stay[~won])}


@dataclass(frozen=True)
class LogisticFit:
    """A logistic regression: ``coef`` per regressor (log-odds per unit of the regressor) with
    its standard error (from the Fisher information at the maximum), and the trials fitted."""

    names: tuple[str, ...]
    coef: np.ndarray
    sem: np.ndarray
    n: int

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {name: {"coef": float(c), "sem": float(s)} for name, c, s in zip(self.names, self.coef, self.sem)}


def fit_logistic(x: np.ndarray, y: np.ndarray, names: tuple[str, ...], ridge: float = 0.0) -> LogisticFit:
    """Maximum-likelihood logistic regression of ``y`` (0/1, (n,)) on ``x`` (n, k) plus an
    intercept (named ``bias``, first), with an optional L2 penalty ``ridge`` on the slopes
    (0: none, the plain maximum-likelihood fit)."""
    x = np.column_stack([np.ones(len(y)), np.asarray(x, np.float64)])
    y = np.asarray(y, np.float64)
    penalty = np.full(x.shape[1], float(ridge))
    penalty[0] = 0.0

    def loss(w):
        z = x @ w
        return np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(penalty * w ** 2)

    def grad(w):
        return x.T @ (special.expit(x @ w) - y) + penalty * w

    def hess(w):
        p = special.expit(x @ w)
        return (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)

    w = optimize.minimize(loss, np.zeros(x.shape[1]), jac=grad, hess=hess, method="trust-exact").x
    cov = np.linalg.pinv(hess(w))
    return LogisticFit(("bias",) + tuple(names), w, np.sqrt(np.clip(np.diag(cov), 0, None)), len(y))


def history_kernels(table: pd.DataFrame, lags: int = 5, ridge: float = 0.0) -> dict[str, object]:
    """The logistic regression of choice (1: option 1, RIGHT) on the past ``lags`` trials of the
    episode (Lau & Glimcher 2005): at each lag j, ``rewarded_choice`` (+1 if option 1 was chosen
    and rewarded j trials back, -1 if option 0 was, 0 if unrewarded) and ``unrewarded_choice``
    (the same for unrewarded choices). Returns each kernel as a list over lags 1..lags (coef,
    sem; log-odds of choosing option 1), the bias and the trials fitted (those with ``lags``
    trials of history in their episode). A learner that follows rewards has a positive
    rewarded-choice kernel that decays with lag."""
    check_table(table)
    if isinstance(lags, bool) or not isinstance(lags, int) or lags < 1:
        raise ConfigError(f"lags must be a whole number >= 1, got {lags!r}")
    signed = 2.0 * table["choice"] - 1.0
    rewarded = signed * (table["reward"] > 0)
    unrewarded = signed * (table["reward"] <= 0)
    columns, names = [], []
    for kind, series in (("rewarded_choice", rewarded), ("unrewarded_choice", unrewarded)):
        frame = table.assign(_x=series)
        for j in range(1, lags + 1):
            columns.append(_previous(frame, "_x", j))
            names.append(f"{kind}_{j}")
    x = pd.concat(columns, axis=1)
    keep = x.notna().all(axis=1).to_numpy()
    fit = fit_logistic(x.to_numpy()[keep], table["choice"].to_numpy()[keep], tuple(names), ridge)
    coef = dict(zip(fit.names, zip(fit.coef, fit.sem)))
    kernel = lambda kind: [{"lag": j, "coef": float(coef[f"{kind}_{j}"][0]),  # noqa: E731
                            "sem": float(coef[f"{kind}_{j}"][1])} for j in range(1, lags + 1)]
    return {"rewarded_choice": kernel("rewarded_choice"), "unrewarded_choice": kernel("unrewarded_choice"),
            "bias": {"coef": float(fit.coef[0]), "sem": float(fit.sem[0])}, "n": fit.n,
            "convention": "log-odds of choosing option 1 per unit regressor; regressor +1 for option 1, -1 for option 0"}


def kernel_decays(kernel: list[dict[str, float]]) -> bool:
    """Whether a history kernel is positive at lag 1 and its magnitude does not grow with lag
    (each lag at most the previous one's plus two standard errors)."""
    coef = [row["coef"] for row in kernel]
    sem = [row["sem"] for row in kernel]
    return coef[0] > 0 and all(abs(coef[j]) <= abs(coef[j - 1]) + 2 * sem[j] for j in range(1, len(coef)))


def two_step_stay(table: pd.DataFrame) -> dict[str, object]:
    """Daw et al. 2011's analysis: P(repeating the previous trial's first-stage choice) by the
    previous trial's reward (rewarded / unrewarded) x transition (common / rare), and two indices
    from those four probabilities (each a difference of stay probabilities):

    * ``model_free_index`` = [P(rewarded, common) + P(rewarded, rare) - P(unrewarded, common) -
      P(unrewarded, rare)] / 2, the main effect of reward: a model-free learner repeats what was
      rewarded whatever the transition;
    * ``model_based_index`` = [P(rewarded, common) - P(rewarded, rare) - P(unrewarded, common) +
      P(unrewarded, rare)] / 2, the reward x transition interaction: a model-based learner stays
      after a reward through a common transition and after an omission through a rare one (Wang
      et al. 2018 Fig. 3's signature).

    Also the logistic regression of stay on reward, transition and their product (each coded
    +1 / -1, Daw et al. 2011), whose interaction coefficient is the model-based signature's test."""
    check_table(table, ("common",))
    previous_choice = _previous(table, "choice")
    has = previous_choice.notna()
    stay = (table["choice"] == previous_choice)[has]
    rewarded = (_previous(table, "reward") > 0)[has]
    common = _previous(table, "common")[has].astype(bool)
    cells = {}
    for r_name, r in (("rewarded", True), ("unrewarded", False)):
        for t_name, t in (("common", True), ("rare", False)):
            cells[f"{r_name}_{t_name}"] = _proportion(stay[(rewarded == r) & (common == t)])
    p = {name: cell["p"] for name, cell in cells.items()}
    sem = {name: cell["sem"] for name, cell in cells.items()}
    index_sem = float(np.sqrt(sum(s ** 2 for s in sem.values())) / 2)
    r_code, t_code = 2.0 * rewarded - 1.0, 2.0 * common - 1.0
    fit = fit_logistic(np.column_stack([r_code, t_code, r_code * t_code]), stay.to_numpy(),
                       ("reward", "transition", "reward_x_transition"))
    return {"stay": cells,
            "model_free_index": {"value": (p["rewarded_common"] + p["rewarded_rare"] - p["unrewarded_common"]
                                           - p["unrewarded_rare"]) / 2, "sem": index_sem},
            "model_based_index": {"value": (p["rewarded_common"] - p["rewarded_rare"] - p["unrewarded_common"]
                                            + p["unrewarded_rare"]) / 2, "sem": index_sem},
            "regression": fit.as_dict(), "n": int(stay.count()),
            "convention": "stay = same first-stage choice as the previous trial; indices are differences of "
                          "stay probabilities; regression: log-odds of staying, regressors coded +1/-1"}


def decode_latent(states: np.ndarray, target: np.ndarray, episode: np.ndarray, trial: np.ndarray,
                  n_folds: int = 5, ridge: float = 1e-3, seed: int = 0) -> dict[str, object]:
    """How well a linear read-out of the network's state predicts a latent variable of the
    episode (the arms' reward probability, which option is better...) that the network was
    never told: ridge regression of ``target`` (rows,) on ``states`` (rows, units; one row per
    trial, e.g. the state at each trial's decision step), cross-validated over ``n_folds`` folds
    of whole episodes (rows of one ``episode`` label are never split between training and
    test). The states are centred on the training fold's mean and not z-scored (a unit nearly
    constant in training would otherwise be amplified without bound on the test fold);
    ``ridge`` is the L2 penalty relative to the mean variance direction, i.e. ``ridge`` x
    trace(AᵀA) / units for the training fold's centred states A (scale-free: the same for
    rates in Hz or states in [-1, 1]). Returns the cross-validated R² (1 - SSE / SS around the test
    fold's mean: 0 for a read-out no better than the mean, 1 for a perfect one) over all rows
    and per ``trial`` (the trial within the episode: a network that learns within episodes
    represents the latent better as the episode goes on)."""
    states = np.asarray(states, np.float64)
    target = np.asarray(target, np.float64)
    episode, trial = np.asarray(episode), np.asarray(trial)
    if states.ndim != 2 or not len(states) == len(target) == len(episode) == len(trial):
        raise ConfigError(f"states must be (rows, units) with one row per target, episode and trial; got states "
                          f"{states.shape}, target {target.shape}, episode {episode.shape}, trial {trial.shape}")
    labels = np.unique(episode)
    if isinstance(n_folds, bool) or not isinstance(n_folds, int) or not 2 <= n_folds <= len(labels):
        raise ConfigError(f"n_folds must be a whole number in [2, {len(labels)}] (the episodes), got {n_folds!r}")
    fold_of = dict(zip(np.random.default_rng(seed).permutation(labels), np.arange(len(labels)) % n_folds))
    fold = np.array([fold_of[e] for e in episode])
    predicted = np.empty_like(target)
    for f in range(n_folds):
        train, test = fold != f, fold == f
        mean, y_mean = states[train].mean(0), target[train].mean()
        a = states[train] - mean
        gram = a.T @ a
        penalty = ridge * max(np.trace(gram) / gram.shape[0], 1e-12)
        w = np.linalg.solve(gram + penalty * np.eye(gram.shape[0]), a.T @ (target[train] - y_mean))
        predicted[test] = (states[test] - mean) @ w + y_mean

    def r2(rows):
        y, p = target[rows], predicted[rows]
        total = np.sum((y - y.mean()) ** 2)
        return float(1 - np.sum((y - p) ** 2) / total) if total > 0 else float("nan")

    by_trial = [{"trial": int(t), "r2": r2(trial == t), "n": int(np.sum(trial == t))} for t in np.unique(trial)]
    return {"r2": r2(np.ones(len(target), bool)), "r2_by_trial": by_trial, "n": len(target), "n_folds": n_folds,
            "ridge": float(ridge), "convention": "cross-validated R² over folds of whole episodes; 0 = the mean"}
