"""Analyses of networks trained with Miconi's rule (spec miconi2017.md §5), on the records of
:mod:`rewardrnn.records.perturbation`. Analyses: error and output per trial type; DNMS tasks: cross-temporal decoding of stimulus 1,
stimulus 2 and the response (Fig. 2) and MDS of population states (Fig. 3); selective
integration: the final output against the relevant and irrelevant bias in each context (Fig. 4)
and the Mante-Sussillo regression subspace (Fig. 5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from rewardrnn.analysis import population
from rewardrnn.analysis.song_suite import Analysis, _fmt
from rewardrnn.figures import analyses as figs

#: Labelings of Miconi's cross-temporal decoding (spec §5): trial types AA, AB, BA, BB.
DNMS_LABELS = {"stimulus 1": {"AA": "A", "AB": "A", "BA": "B", "BB": "B"},
               "stimulus 2": {"AA": "A", "BA": "A", "AB": "B", "BB": "B"},
               "response": {"AA": "same", "BB": "same", "AB": "different", "BA": "different"}}

#: Times of Miconi's MDS panels (ms).
MDS_TIMES = (199.0, 599.0, 799.0, 999.0)


def analyze(task_name: str, ds: xr.Dataset, n_splits: int = 100) -> Analysis:
    """Every analysis of spec §5 that fits the task, on a dataset from :func:`record`."""
    result = Analysis()
    table = pd.DataFrame({c: ds[c].values for c in ds.coords if ds[c].dims == ("trial",)})
    if "trial_type" in table:
        errors = table.groupby("trial_type")["error"].mean()
        result.numbers["error_by_trial_type"] = {k: _fmt(v) for k, v in errors.items()}
        mean_output = ds["output"].groupby(ds["trial_type"]).mean("trial")
        da = mean_output.rename(trial_type="group").assign_coords(trial_type=("group", mean_output.trial_type.values))
        da = da.assign_coords(n_trials=("group", table["trial_type"].value_counts().reindex(mean_output.trial_type.values).values))
        da.time.attrs["units"] = "time in trial (ms)"
        result.figures["output_by_trial_type"] = figs.psth_panels(da.rename("output rate"), ["trial_type"],
                                                                  title="output neuron")
    if task_name.startswith("dnms"):
        _decoding(ds, table, result, n_splits)
    if task_name == "dnms":  # the MDS times are those of the 1-s DNMS trial
        _mds(ds, table, result)
    if task_name == "selective-integration":
        _selective(ds, table, result)
    return result


def _decoding(ds: xr.Dataset, table: pd.DataFrame, result: Analysis, n_splits: int) -> None:
    rates = ds["rates"].values
    keep = np.std(rates.reshape(-1, rates.shape[-1]), axis=0) > 1e-10  # the clamped bias units carry nothing
    time = ds["time"].values
    summary = {}
    for name, mapping in DNMS_LABELS.items():
        labels = table["trial_type"].map(mapping).to_numpy()
        accuracy = population.cross_temporal_decoding(rates[..., keep], labels, n_splits=n_splits)
        result.figures[f"decoding_{name.replace(' ', '_')}"] = figs.heatmap(
            accuracy, time, time, "testing time (ms)", "training time (ms)", f"decoding {name}")
        diag = np.diag(accuracy)
        summary[name] = {f"diagonal_{int(a)}_{int(b)}ms": _fmt(diag[(time >= a) & (time < b)].mean())
                         for a, b in ((0, 200), (200, 400), (400, 600), (600, 800), (800, 1000)) if b <= time[-1] + 1}
        if name == "stimulus 1":
            early, late = (time < 200), (time >= 400) & (time < 600)
            summary[name]["train_0_200_test_400_600ms"] = _fmt(accuracy[np.ix_(early, late)].mean())
    result.numbers["cross_temporal_decoding"] = summary
    result.paper["cross_temporal_decoding"] = (
        "stimulus 1 decodable through the delay with a changing code (train 0-200, test 400-600 ms: ~0.5 or "
        "below); stimulus 2 transient; response ~1.0 over 800-1000 ms (Fig. 2)")


def _mds(ds: xr.Dataset, table: pd.DataFrame, result: Analysis) -> None:
    n_types = table["trial_type"].nunique()  # every other trial of each type (types are cycled)
    every_other = np.flatnonzero((np.arange(ds.sizes["trial"]) // n_types) % 2 == 0)
    labels = table["trial_type"].to_numpy()[every_other]
    points, spread = [], {}
    for t in MDS_TIMES:
        states = ds["rates"].sel(time=t).values[every_other]
        embedded = population.classical_mds(states, 2)
        points.append(embedded)
        # separation of the clusters Miconi describes: between-group / within-group distances
        centroid = {k: states[labels == k].mean(0) for k in np.unique(labels)}
        within = np.mean([np.linalg.norm(s - centroid[k]) for s, k in zip(states, labels)])
        spread[f"{int(t + 1)}ms"] = {
            "stimulus_1_separation": _fmt(np.linalg.norm(centroid["AA"] + centroid["AB"] - centroid["BA"] - centroid["BB"])
                                          / 2 / within),
            "response_separation": _fmt(np.linalg.norm(centroid["AA"] + centroid["BB"] - centroid["AB"] - centroid["BA"])
                                        / 2 / within),
            "same_pair_AA_BB_distance": _fmt(np.linalg.norm(centroid["AA"] - centroid["BB"]) / within)}
    result.numbers["mds_cluster_separation"] = spread
    result.paper["mds_cluster_separation"] = ("200 ms: 2 clusters by stimulus 1; 600 and 800 ms: 4 clusters; "
                                              "1000 ms: AA≈BB and AB≈BA (Fig. 3)")
    result.figures["mds"] = figs.scatter_groups(points, labels, [f"{int(t + 1)} ms" for t in MDS_TIMES])


def _selective(ds: xr.Dataset, table: pd.DataFrame, result: Analysis) -> None:
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(7, 3), constrained_layout=True, sharey=True)
    curves = {}
    for ax, context in zip(axes, ("attend 1", "attend 2")):
        part = table[table["context"] == context]
        for column, colour in (("relevant_bias", "C0"), ("irrelevant_bias", "C1")):
            means = part.groupby(column)["final_output"].mean()
            ax.plot(means.index, means.values, "o-", color=colour, ms=3, label=column.replace("_", " "))
            slope = np.polyfit(part[column], part["final_output"], 1)[0]
            curves[f"{context}: {column}"] = {"mean_output": {f"{k:g}": _fmt(v) for k, v in means.items()},
                                              "slope": _fmt(slope)}
        ax.set(title=context, xlabel="bias")
        ax.legend(frameon=False, fontsize=7)
    axes[0].set_ylabel("output r₀(699 ms)")
    result.figures["psychometric_relevant_irrelevant"] = fig
    result.numbers["final_output_vs_bias"] = curves
    result.paper["final_output_vs_bias"] = ("relevant: steep sigmoid, ≈±1 for |bias| ≥ 0.2-0.3, ≈0.4 at 0.1; "
                                            "irrelevant: flat near 0 (Fig. 4)")
    # Mante-Sussillo subspace, Miconi's rgrss.py (spec §5)
    correct = (np.sign(table["final_output"]) == table["target"]) & (table["final_output"].abs() > 0.5)
    z, _ = population.zscore_units(ds["rates"].values)
    regressors = np.column_stack([table["target"], table["bias_1"], table["bias_2"], table["attend_2"]])
    axes_ = population.regression_axes(z, regressors, ("choice", "bias 1", "bias 2", "context"))
    axes_ = axes_.__class__(axes_.names, axes_.coefficients, axes_.beta_max, axes_.t_max, axes_.axis_names,
                            axes_.axes * np.array([-1, 1, 1, 1]))  # Miconi flips the choice axis
    kept = table[correct & (table["relevant_bias"] != 0)]
    groups = kept.groupby(["context", "target", "bias_1"])
    keys = groups.size().reset_index()[["context", "target", "bias_1"]]
    mean = np.stack([z[idx].mean(0) for idx in groups.indices.values()])
    projected = axes_.project(mean)
    result.figures["state_space_bias_1"] = figs.trajectories(projected, keys, (0, 1), axes_.axis_names, "bias_1", "context")
    end = projected[:, -1]
    result.numbers["state_space"] = {
        f"{context}: bias-1 axis spread": _fmt(np.ptp(end[(keys["context"] == context).to_numpy(), 1]))
        for context in ("attend 1", "attend 2")}
    result.paper["state_space"] = "both modalities represented along their own axes; only the relevant one moves the choice axis (Fig. 5)"
