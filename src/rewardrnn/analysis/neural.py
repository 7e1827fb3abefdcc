"""Single-unit analyses of an activity dataset (:mod:`rewardrnn.analysis.activity`): PSTHs
aligned to any event, mean rates in windows, choice selectivity (d'). Pure functions; the
dataset is read a block of trials at a time, so they work on files larger than memory.

Alignment (spec §6.2): ``align`` is ``"choice"`` (the step that ended the trial), an epoch name
(its onset) or an event name (e.g. ``"sure_onset"``). For an onset, time 0 is the step *before*
it, so that the first step whose state has seen the new input is at +dt, as in pyrl's PSTHs.
Steps after a trial's end are NaN in the dataset and are left out of every average; a PSTH bin
that no trial reaches is NaN (pyrl drew 0 there).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from rewardrnn.analysis.behaviour import NotEnoughTrials

#: Trials read from the dataset at once.
TRIAL_BLOCK = 500


def trial_table(ds: xr.Dataset) -> pd.DataFrame:
    """The behaviour table carried by the dataset's trial coordinates."""
    columns = {name: ds[name].values for name, c in ds.coords.items() if c.dims == ("trial",)}
    return pd.DataFrame(columns)


def align_times_ms(table: pd.DataFrame, align: str, dt_ms: float) -> np.ndarray:
    """Per-trial time (ms from trial start) of the alignment point ``align`` (see the module
    docstring)."""
    if align == "choice":
        return table["choice_time_ms"].to_numpy(float)
    for column in (f"{align}_onset_ms", f"{align}_ms"):
        if column in table:
            return table[column].to_numpy(float) - dt_ms
    known = ["choice"] + [c[:-len("_onset_ms")] for c in table.columns if c.endswith("_onset_ms")]
    raise ValueError(f"cannot align to {align!r}; known alignments: {', '.join(known)} or an event name")


def _aligned_blocks(ds: xr.Dataset, variable: str, t0_ms: np.ndarray, offsets: np.ndarray,
                    keep: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(trial indices, values (trials, len(offsets), ...)) for the kept trials, a block at a time;
    values outside the recorded steps are NaN."""
    dt = float(ds.attrs["dt_ms"])
    n_trials, n_steps = ds.sizes["trial"], ds.sizes["time"]
    for start in range(0, n_trials, TRIAL_BLOCK):
        idx = np.arange(start, min(start + TRIAL_BLOCK, n_trials))
        idx = idx[keep[idx]]
        if idx.size == 0:
            continue
        data = np.asarray(ds[variable].isel(trial=slice(int(idx[0]), int(idx[-1]) + 1)).values, float)
        data = data[idx - idx[0]]
        steps = np.rint(t0_ms[idx] / dt).astype(int)[:, None] + offsets[None, :]
        inside = (steps >= 0) & (steps < n_steps)
        picked = np.take_along_axis(data, np.clip(steps, 0, n_steps - 1).reshape(steps.shape + (1,) * (data.ndim - 2)),
                                    axis=1)
        picked[~inside] = np.nan
        yield idx, picked


def _offsets(window_ms: tuple[float, float], dt_ms: float) -> np.ndarray:
    start, stop = window_ms
    if not stop > start:
        raise ValueError(f"window must be (start, stop) with stop > start, got {window_ms}")
    return np.arange(int(np.ceil(start / dt_ms - 1e-9)), int(np.floor(stop / dt_ms + 1e-9)) + 1)


def _keep(ds: xr.Dataset, where: np.ndarray | pd.Series | None) -> np.ndarray:
    return np.ones(ds.sizes["trial"], bool) if where is None else np.asarray(where, bool)


def psth(ds: xr.Dataset, variable: str = "rates", align: str = "stimulus",
         window_ms: tuple[float, float] = (-200, 1000), by: Sequence[str] = (),
         where: np.ndarray | pd.Series | None = None) -> xr.DataArray:
    """Condition-averaged time course of ``variable`` (rates, value_rates, value, action_prob...)
    aligned to ``align``, for each combination of the trial columns ``by`` (all trials in one
    group if empty) among the trials where ``where`` is true. Dims: group, time (ms from the
    alignment point), then the variable's own dims; ``by`` columns and ``n_trials`` are group
    coordinates."""
    table = trial_table(ds)
    dt = float(ds.attrs["dt_ms"])
    keep = _keep(ds, where)
    offsets = _offsets(window_ms, dt)
    t0 = align_times_ms(table, align, dt)
    if by:
        codes, groups = pd.MultiIndex.from_frame(table[list(by)]).factorize(sort=True)
    else:
        codes, groups = np.zeros(len(table), int), None
    n_groups = int(codes.max()) + 1
    extra_dims = ds[variable].dims[2:]
    extra_shape = tuple(ds.sizes[d] for d in extra_dims)
    sums = np.zeros((n_groups, len(offsets)) + extra_shape)
    counts = np.zeros_like(sums)
    for idx, values in _aligned_blocks(ds, variable, t0, offsets, keep):
        finite = np.isfinite(values)
        np.add.at(sums, codes[idx], np.where(finite, values, 0.0))
        np.add.at(counts, codes[idx], finite)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    coords = {"time": offsets * dt, "n_trials": ("group", np.bincount(codes[keep], minlength=n_groups))}
    if groups is not None:
        for i, name in enumerate(by):
            coords[name] = ("group", np.asarray(groups.get_level_values(i)))
    for d in extra_dims:
        coords[d] = ds[d].values
    out = xr.DataArray(mean, dims=("group", "time") + extra_dims, coords=coords, name=variable)
    out.time.attrs["units"] = f"ms from {align}"
    return out.isel(group=np.flatnonzero(out["n_trials"].values > 0))  # groups with no kept trial dropped


def window_mean(ds: xr.Dataset, variable: str = "rates", align: str = "choice",
                window_ms: tuple[float, float] = (-500, 0), where=None) -> xr.DataArray:
    """Per-trial mean of ``variable`` over steps in ``[start, stop)`` ms around ``align`` (steps after
    the trial's end left out). Dims: trial (the kept trials), then the variable's own dims."""
    table = trial_table(ds)
    dt = float(ds.attrs["dt_ms"])
    keep = _keep(ds, where)
    offsets = _offsets(window_ms, dt)
    offsets = offsets[offsets * dt < window_ms[1]]  # half-open [start, stop), as spec §6.8's windows
    parts, trials = [], []
    for idx, values in _aligned_blocks(ds, variable, align_times_ms(table, align, dt), offsets, keep):
        with np.errstate(invalid="ignore"):
            parts.append(np.nanmean(values, axis=1))
        trials.append(idx)
    if not parts:
        raise NotEnoughTrials(f"no kept trial reaches {align} with steps in {window_ms[0]:g}..{window_ms[1]:g} ms")
    extra_dims = ds[variable].dims[2:]
    return xr.DataArray(np.concatenate(parts), dims=("trial",) + extra_dims,
                        coords={"trial": np.concatenate(trials), **{d: ds[d].values for d in extra_dims}})


def dprime(a: np.ndarray, b: np.ndarray, axis: int = 0) -> np.ndarray:
    """d' = (mean_a - mean_b) / sqrt((var_a + var_b) / 2) along ``axis`` (spec §6.3)."""
    return (np.mean(a, axis) - np.mean(b, axis)) / np.sqrt((np.var(a, axis) + np.var(b, axis)) / 2)


def choice_selectivity(ds: xr.Dataset, label: str = "direction", epoch: str = "stimulus",
                       variable: str = "rates", where=None) -> xr.DataArray:
    """d' of each unit between the two values of the trial column ``label`` (positive: larger
    when ``label`` is the larger value), over all steps of ``epoch`` of the kept trials (default:
    decision trials; pyrl's ``get_choice_selectivity`` groups by the true direction, spec §6.3).
    The preferred target of a unit is ``sign(d')``."""
    table = trial_table(ds)
    dt = float(ds.attrs["dt_ms"])
    keep = _keep(ds, table["decision"].to_numpy(bool) if where is None else where)
    values = np.sort(table[label].unique())
    if values.size != 2:
        raise ValueError(f"choice selectivity needs a two-valued column; {label!r} has {values.tolist()}")
    onset, duration = table[f"{epoch}_onset_ms"].to_numpy(float), table[f"{epoch}_ms"].to_numpy(float)
    offsets = np.arange(int(np.ceil(duration.max() / dt)))
    positive = table[label].to_numpy() == values[1]
    n_units = ds.sizes[ds[variable].dims[2]]
    s, s2, n = (np.zeros((2, n_units)) for _ in range(3))
    for idx, block in _aligned_blocks(ds, variable, onset, offsets, keep):
        inside = (offsets[None, :] * dt < duration[idx, None])[..., None] & np.isfinite(block)
        for g in (0, 1):
            rows = positive[idx] == bool(g)
            x = np.where(inside[rows], block[rows], 0.0)
            s[g] += x.sum((0, 1))
            s2[g] += (x ** 2).sum((0, 1))
            n[g] += inside[rows].sum((0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):  # a silent unit has d' NaN
        mean = s / n
        var = s2 / n - mean ** 2
        d = (mean[1] - mean[0]) / np.sqrt((var[0] + var[1]) / 2)
    return xr.DataArray(d, dims=(ds[variable].dims[2],), coords={ds[variable].dims[2]: ds[ds[variable].dims[2]].values},
                        name="dprime")


def psth_trials(ds: xr.Dataset, variable: str = "rates", align: str = "stimulus",
                window_ms: tuple[float, float] = (0, 500), where=None) -> np.ndarray:
    """Single-trial aligned time courses of the kept trials, (trials, time, ...) in trial order,
    NaN outside the executed steps (the input of population analyses: regression axes,
    decoding). Reads only the kept trials, a block at a time."""
    table = trial_table(ds)
    dt = float(ds.attrs["dt_ms"])
    offsets = _offsets(window_ms, dt)
    blocks = [values for _, values in _aligned_blocks(ds, variable, align_times_ms(table, align, dt), offsets,
                                                      _keep(ds, where))]
    return np.concatenate(blocks) if blocks else np.zeros((0, len(offsets)) + ds[variable].shape[2:])
