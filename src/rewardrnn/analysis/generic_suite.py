"""Analyses for a task without a suite of its own (NeuroGym environments): performance overall
and per condition, PSTHs of the most condition-selective units from trial start, and PCA
trajectories of the condition-averaged population activity. Pure functions of a behaviour
table (``performance``, ``reward``, ``responded`` and the trial's variables) and an activity
dataset (``rates`` trial x time x unit, NaN after each trial's end)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from rewardrnn.analysis import population
from rewardrnn.analysis.song_suite import Analysis, _fmt
from rewardrnn.figures import analyses as figs

#: Trial variables tried, in order, as "the condition" of a trial.
CONDITION_COLUMNS = ("ground_truth", "gt", "coh", "context")
#: At most this many distinct values for another column to count as a condition.
MAX_CONDITIONS = 12


def condition_column(table: pd.DataFrame) -> str | None:
    """The column that best names a trial's condition: the first of :data:`CONDITION_COLUMNS`,
    otherwise the first numeric or string column with 2..12 distinct values, or None."""
    skip = {"trial", "performance", "correct", "reward", "responded", "choice", "end_time_ms"}
    for name in CONDITION_COLUMNS + tuple(c for c in table.columns if c not in skip):
        if name in table and 2 <= table[name].nunique() <= MAX_CONDITIONS:
            return name
    return None


def analyze(table: pd.DataFrame, ds: xr.Dataset) -> Analysis:
    """Performance numbers, per-condition performance, PSTHs from trial start and PCA."""
    result = Analysis()
    result.numbers["performance"] = {"performance": _fmt(table["performance"].mean()),
                                     "reward": _fmt(table["reward"].mean()),
                                     "p_respond": _fmt(table["responded"].mean()), "trials": len(table)}
    condition = condition_column(table)
    if condition is None:
        return result
    by = table.groupby(condition)["performance"].mean()
    result.numbers[f"performance_by_{condition}"] = {figs.value_label(k): _fmt(v) for k, v in by.items()}
    result.figures["performance_by_condition"] = figs.bars(100 * by, "performance (%)", f"by {condition}")
    rates = ds["rates"]
    means = rates.groupby(ds[condition]).mean("trial")  # (condition, time, unit), NaN-skipping
    spread = np.nan_to_num(means.std(condition).mean("time").values)
    top = [int(u) for u in np.argsort(spread)[::-1][:4]]
    result.numbers["condition_selectivity"] = {"most_selective_units": top,
                                               "median_spread": _fmt(float(np.median(spread)))}
    da = means.rename({condition: "group"}).assign_coords({condition: ("group", means[condition].values)})
    da.time.attrs["units"] = "ms from trial start"
    result.figures["psth_start"] = figs.psth_panels(da.rename("rates"), [condition], top, title="from trial start")
    traces = means.transpose(condition, "time", "unit").values
    seen = np.isfinite(traces).all(-1)
    if seen.sum() > 3:
        components = population.pca(traces[seen], 3)
        projected = np.full(traces.shape[:2] + (3,), np.nan)
        projected[seen] = components.transform(traces[seen])
        groups = pd.DataFrame({condition: means[condition].values})
        if not pd.api.types.is_numeric_dtype(groups[condition]):
            groups[condition] = pd.factorize(groups[condition])[0]
        result.figures["pca_trajectories"] = figs.trajectories(projected, groups, (0, 1), ("PC1", "PC2", "PC3"),
                                                               condition)
        result.numbers["pca_explained_variance"] = [_fmt(v) for v in components.explained]
    return result
