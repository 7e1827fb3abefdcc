"""The analyses of Song, Yang & Wang 2017 (spec §6) for each of its tasks, on a behaviour table
and an activity dataset: numbers (JSON-able) and figures. ``analyze(task, table, ds)`` runs
the common analyses (performance, psychometric curve, choice selectivity, PSTHs of the most
selective units, the value output by condition, PCA trajectories) and the task's own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from rewardrnn.analysis import behaviour, neural, population
from rewardrnn.analysis.behaviour import table_performance
from rewardrnn.figures import analyses as figs
from rewardrnn.figures.psychometric import psychometric_curve
from rewardrnn.tasks.protocol import Protocol
from rewardrnn.tasks.registry import TASKS


@dataclass
class Analysis:
    """What a suite produced: ``numbers`` (JSON-able), ``figures`` (name -> matplotlib figure),
    ``paper`` (number name -> the paper's value, where the paper gives one) and ``warnings``
    (sentences about a network whose behaviour is wrong in a way its criterion did not catch)."""

    numbers: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    paper: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SongSuite:
    """How a task is sorted (spec §6.3-6.8): the stimulus epoch (PSTH alignment, d'), the trial
    columns that define a condition in PSTHs, the PSTH windows (ms) and the task's own step."""

    stimulus_epoch: str
    psth_by: tuple[str, ...]
    stimulus_window: tuple[float, float] = (-200, 1000)
    choice_window: tuple[float, float] = (-600, 100)
    specific: Callable[[Protocol, pd.DataFrame, xr.Dataset, Analysis], None] | None = None


def _fmt(x: float) -> float:
    return float(np.round(x, 4))


def _psychometric(task: Protocol, table: pd.DataFrame, result: Analysis, name: str = "psychometric",
                  lapse: bool = False) -> None:
    spec = task.psychometric
    points = behaviour.psychometric_points(table, spec.signed_stimulus, spec.positive_action, spec.among)
    try:
        fit = behaviour.fit_points(points, lapse=lapse)
    except behaviour.NotEnoughTrials as error:  # e.g. an untrained network that never decides
        result.numbers[name] = {"skipped": str(error)}
        return
    ci = behaviour.confidence_interval(fit)
    result.numbers[name] = {"mu": _fmt(fit.mu), "sigma": _fmt(fit.sigma), "lapse": _fmt(fit.lapse),
                            "mu_ci95": [_fmt(v) for v in ci["mu"]], "sigma_ci95": [_fmt(v) for v in ci["sigma"]],
                            "n_trials": fit.n_trials, "stimulus": spec.label, "positive_action": spec.positive_action}
    result.figures[name] = psychometric_curve(points, fit, spec.label, f"P({spec.positive_action}) (%)")


# ---- the task-specific steps ----------------------------------------------------------------------
def _rdm_fixed(task, table, ds, result):
    acc = behaviour.accuracy_by_duration(table)
    result.numbers["accuracy_vs_duration"] = acc.round(4).to_dict("list")
    result.figures["accuracy_vs_duration"] = figs.curve(acc, "mean_stimulus_ms", ["p"], "stimulus duration (ms)",
                                                        "correct (%)", err=("ci_low", "ci_high"))


def _rdm_rt(task, table, ds, result):
    chrono = behaviour.chronometric(table)
    result.numbers["chronometric"] = chrono.round(2).to_dict("list")
    result.figures["chronometric"] = figs.chronometric(chrono, "coherence (%)")
    rt = chrono.set_index("stimulus")["rt_correct_ms"].dropna()
    result.numbers["rt_falls_with_coherence"] = bool(len(rt) > 1 and rt.iloc[-1] < rt.iloc[0])


def _wager(task, table, ds, result):
    by_coherence = behaviour.sure_by(table, "coherence")
    by_duration = behaviour.sure_by(table, "stimulus_ms", n_bins=10)
    waived = behaviour.accuracy_waived_vs_not_offered(table)
    result.numbers.update(p_sure_vs_coherence=by_coherence.round(4).to_dict("list"),
                          p_sure_vs_duration=by_duration.round(4).to_dict("list"),
                          accuracy_waived_vs_not_offered=waived.round(4).to_dict("list"),
                          waived_minus_not_offered=_fmt((waived["waived"] - waived["not_offered"]).mean()))
    result.paper["waived_minus_not_offered"] = "> 0: accuracy is higher when the sure target is waived (Fig. 3)"
    result.figures["p_sure_vs_coherence"] = figs.curve(by_coherence, "coherence", ["p"], "coherence (%)",
                                                       "P(sure) (%)", err=("ci_low", "ci_high"))
    result.figures["p_sure_vs_duration"] = figs.curve(by_duration, "mean_stimulus_ms", ["p"], "stimulus duration (ms)",
                                                      "P(sure) (%)", err=("ci_low", "ci_high"))
    result.figures["accuracy_waived_vs_not_offered"] = figs.curve(waived, "coherence", ["waived", "not_offered"],
                                                                  "coherence (%)", "correct (%)", logx=True)


def _mante(task, table, ds, result):
    rows = []
    for context in ("motion", "colour"):
        part = table[table["context_name"] == context]
        for modality in ("motion", "colour"):
            points = behaviour.psychometric_points(part, lambda t, m=modality: t[f"{m}_direction"] * t[f"{m}_coherence"],
                                                   "CHOOSE-RIGHT")
            fit = behaviour.fit_points(points)
            rows.append({"context": context, "modality": modality, "sigma": _fmt(fit.sigma), "mu": _fmt(fit.mu)})
    fits = pd.DataFrame(rows)
    result.numbers["psychometric_by_context"] = fits.to_dict("records")
    relevant = fits[fits["context"] == fits["modality"]]["sigma"].max()
    irrelevant = fits[fits["context"] != fits["modality"]]["sigma"].min()
    result.numbers["context_gating_sigma_ratio"] = _fmt(irrelevant / relevant)
    result.paper["context_gating_sigma_ratio"] = "≫ 1: choices follow the cued modality only (Fig. 2A)"
    _mante_state_space(ds, result)


def _mante_state_space(ds, result):
    """Targeted dimensionality reduction (spec §6.5): correct trials, stimulus epoch every 50 ms,
    per-unit z-scoring, regressors choice, motion, colour, context and their pairwise products.
    pyrl also signed each unit's regressors by its preferred target; not done here (Mante et al.
    did not)."""
    table = neural.trial_table(ds)
    keep = table["decision"].to_numpy(bool) & table["correct"].to_numpy(bool)
    step = max(1, int(round(50 / float(ds.attrs["dt_ms"]))))
    window = (0, float(table["stimulus_ms"].min()))
    rates = neural.psth_trials(ds, "rates", "stimulus", window, keep)[:, ::step]
    active = np.nanstd(rates.reshape(-1, rates.shape[-1]), axis=0) > 0.2
    z, _ = population.zscore_units(rates[..., active])
    kept = table[keep]
    base = {"choice": np.where(kept["choice"] == "CHOOSE-RIGHT", 1.0, -1.0),
            "motion": (kept["motion_direction"] * kept["motion_coherence"] / kept["motion_coherence"].max()).to_numpy(),
            "colour": (kept["colour_direction"] * kept["colour_coherence"] / kept["colour_coherence"].max()).to_numpy(),
            "context": np.where(kept["context_name"] == "motion", 1.0, -1.0)}
    names = list(base)
    products = {f"{a}*{b}": base[a] * base[b] for i, a in enumerate(names) for b in names[i + 1:]}
    regressors = {**base, **products}
    axes = population.regression_axes(z, np.column_stack(list(regressors.values())), tuple(regressors),
                                      axis_names=("choice", "motion", "colour", "context"))
    groups = kept.assign(motion=base["motion"], colour=base["colour"])[["context_name", "choice", "motion", "colour"]]
    result.numbers["state_space"] = {"active_units": int(active.sum()),
                                     "t_max_ms": {n: float(t * step * float(ds.attrs["dt_ms"]))
                                                  for n, t in zip(axes.names[:4], axes.t_max[:4])}}
    for modality in ("motion", "colour"):
        average = groups.assign(trace=list(z)).groupby(["context_name", "choice", modality])
        keys = average.size().reset_index()[["context_name", "choice", modality]]
        mean = np.stack([np.nanmean(np.stack(g["trace"].to_list()), axis=0) for _, g in average])
        projected = axes.project(mean)
        result.figures[f"state_space_{modality}"] = figs.trajectories(
            projected, keys, (0, axes.axis_names.index(modality)), axes.axis_names, modality, "context_name")
        # how far the final states spread along this modality's axis in each context
        spread = {c: _fmt(np.ptp(projected[(keys["context_name"] == c).to_numpy(), -1, axes.axis_names.index(modality)]))
                  for c in ("motion", "colour")}
        result.numbers["state_space"][f"{modality}_axis_spread_by_context"] = spread
    result.paper["state_space"] = ("the irrelevant modality is still represented along its own axis but does not "
                                   "move the choice axis (Mante et al. 2013; Song Fig. 2A)")


def _multisensory(task, table, ds, result):
    numbers = behaviour.cue_combination(table, task.psychometric)
    result.numbers["cue_combination"] = {k: _fmt(v) for k, v in numbers.items()}
    result.paper["cue_combination"] = ("Table 2: σ_v 2.08-2.28, σ_a 2.09-2.17, σ_va 1.45-1.58; "
                                       "observed/predicted 1/σ² = 0.90-1.06")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3.2), constrained_layout=True)
    spec = task.psychometric
    for i, modality in enumerate(("v", "a", "va")):
        points = behaviour.psychometric_points(table[table["modality_name"] == modality], spec.signed_stimulus,
                                               spec.positive_action)
        fit = behaviour.fit_points(points)
        grid = np.linspace(points["stimulus"].min(), points["stimulus"].max(), 100)
        ax.plot(points["stimulus"], 100 * points["p_positive"], "o", color=f"C{i}", ms=4)
        ax.plot(grid, 100 * fit(grid), "-", color=f"C{i}", lw=1, label=f"{modality}: σ = {fit.sigma:.2f}")
    ax.set(xlabel=spec.label, ylabel="P(high) (%)")
    ax.legend(frameon=False, fontsize=8)
    result.figures["psychometric_by_modality"] = fig


def _romo(task, table, ds, result):
    pairs = behaviour.pair_accuracy(table)
    result.numbers["accuracy_by_pair"] = pairs.round(4).to_dict("records")
    result.numbers["min_pair_accuracy"] = _fmt(pairs["p_correct"].min())
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(3.6, 3.2), constrained_layout=True)
    points = ax.scatter(pairs["f1"], pairs["f2"], c=100 * pairs["p_correct"], s=120, cmap="viridis", vmin=50, vmax=100)
    fig.colorbar(points, ax=ax, label="correct (%)")
    ax.plot([8, 36], [8, 36], "k:", lw=0.8)
    ax.set(xlabel="f1 (Hz)", ylabel="f2 (Hz)")
    result.figures["accuracy_by_pair"] = fig
    # f1 tuning through the delay (Romo et al. 1999): mean rate in 500-ms bins after f1 offset
    full = neural.trial_table(ds)
    keep = (full["decision"] & full["correct"]).to_numpy(bool)
    delay = float(full["delay_ms"].min())
    edges = np.arange(0, delay, 500.0)
    fractions = []
    for start in edges:
        means = neural.window_mean(ds, "rates", "delay", (start, start + 500), where=keep)
        sign = population.linear_tuning(means.values, full.loc[keep, "f1"].to_numpy())["sign"]
        fractions.append({"delay_ms": start + 250, "positive": float((sign > 0).mean()),
                          "negative": float((sign < 0).mean())})
    tuning = pd.DataFrame(fractions)
    result.numbers["f1_tuning_in_delay"] = tuning.round(4).to_dict("list")
    result.figures["f1_tuning_in_delay"] = figs.curve(tuning, "delay_ms", ["positive", "negative"],
                                                      "time from f1 offset (ms)", "units tuned to f1 (%)")


def _economic(task, table, ds, result):
    pattern = behaviour.choice_pattern(table)
    idpt = behaviour.indifference_point(table)
    result.numbers["choice_pattern"] = pattern.round(4).to_dict("records")
    result.numbers["indifference_point"] = {k: _fmt(v) for k, v in idpt.items()}
    if "juice_ratio" in table:
        ratio = float(table["juice_ratio"].iloc[0])
        off = idpt["indifference_b_per_a"] / ratio - 1
        result.numbers["indifference_point"].update(trained_ratio=ratio, relative_error=_fmt(off))
        if abs(off) > INDIFFERENCE_TOLERANCE:
            result.warnings.append(f"the indifference point, 1 A = {idpt['indifference_b_per_a']:.2f} B, is "
                                   f"{abs(off):.0%} off the ratio the network was trained with (1 A = {ratio:g} B): "
                                   f"its preferences are not the task's")
    result.paper["indifference_point"] = "1A = 2.0B when trained with A = 2.2B; 4.0B when trained with 4.1B (Fig. 4)"
    labels = pattern.apply(lambda r: f"{r.n_B:g}B:{r.n_A:g}A", axis=1)
    result.figures["choice_pattern"] = figs.bars(pd.Series(100 * pattern["p_choose_b"].to_numpy(), index=labels),
                                                 "B chosen (%)", f"indifference: 1A = {idpt['indifference_b_per_a']:.2f}B")
    if "value_rates" not in ds:
        return
    types = value_unit_types(ds, idpt["indifference_b_per_a"])
    selective = types[types != ""]
    share = pd.Series(selective).value_counts(normalize=True).reindex(list(population.VALUE_UNIT_TYPES), fill_value=0)
    offer = share["offer_value_A"] + share["offer_value_B"]
    result.numbers["value_units"] = {"selective": int(len(selective)), "of": int(len(types)),
                                     "offer_value": _fmt(offer), "chosen_value": _fmt(share["chosen_value"]),
                                     "choice": _fmt(share["choice"])}
    result.paper["value_units"] = "about 60 % offer value, 20 % chosen value, 20 % choice (Fig. 4)"
    result.figures["value_unit_types"] = figs.bars(100 * share, "selective value units (%)")


def value_unit_types(ds, indifference_b_per_a: float | None = None) -> np.ndarray:
    """The type of each value-network unit of an economic task's records (spec §6.8): its mean
    rate over the 500 ms before the choice, on decided trials offering both juices, regressed on
    chosen value, offer value A / B and choice (:func:`population.classify_units`); "" for an
    unselective unit. ``indifference_b_per_a``: the network's indifference point (fitted from the
    records' behaviour when None)."""
    full = neural.trial_table(ds)
    if indifference_b_per_a is None:
        indifference_b_per_a = behaviour.indifference_point(full)["indifference_b_per_a"]
    keep = (full["decision"] & (full["n_A"] > 0) & (full["n_B"] > 0)).to_numpy(bool)
    responses = neural.window_mean(ds, "value_rates", "choice", (-500, 0), where=keep).values
    kept = full[keep]
    regs = population.economic_regressors(kept["n_A"].to_numpy(), kept["n_B"].to_numpy(),
                                          (kept["chosen_juice"] == "B").to_numpy(), indifference_b_per_a)
    return population.classify_units(responses, regs)


#: How far (relative) a fitted indifference point may be from the trained juice ratio.
INDIFFERENCE_TOLERANCE = 0.10


def _dnms_choice(task, table, ds, result):
    """P(correct | decision) per trial type (AA, AB, BA, BB), Miconi's four types."""
    names = np.array(["A", "B"])
    decided = table[table["decision"].astype(bool)]
    kinds = names[decided["sample"].astype(int)] + names[decided["test"].astype(int)]
    by_type = decided["correct"].astype(float).groupby(kinds).mean()
    result.numbers["p_correct_by_trial_type"] = {k: _fmt(v) for k, v in by_type.items()}
    result.paper["p_correct_by_trial_type"] = "Miconi's criterion: more than 95 of 100 trials right (spec §5)"
    result.figures["p_correct_by_trial_type"] = figs.bars(100 * by_type, "correct (%)")


def generic_suite(task: Protocol) -> SongSuite:
    """The analyses of a task without a suite of its own (a user's protocol): PSTHs aligned on
    the first epoch with a noisy input (else the one before the response epoch), sorted by the
    last condition variable and the choice, over that epoch's longest duration."""
    names = [e.name for e in task.epochs]
    noisy = [e for e in names if any(e in epochs for epochs in task.noisy_inputs.values())]
    response = names.index(task.response_epoch)
    stimulus = noisy[0] if noisy else names[max(response - 1, 0)]
    epoch = task.epochs[names.index(stimulus)]
    length = epoch.duration.max_ms if epoch.duration is not None else task.tmax_ms
    return SongSuite(stimulus, (list(task.conditions)[-1], "choice"), (-200, min(length + 200, task.tmax_ms)))


SUITES = {
    "dnms-choice": SongSuite("test", ("sample", "test"), (-500, 600), (-600, 100), specific=_dnms_choice),
    "rdm-fixed": SongSuite("stimulus", ("coherence", "choice"), specific=_rdm_fixed),
    "rdm-rt": SongSuite("stimulus", ("coherence", "choice"), specific=_rdm_rt),
    "wager": SongSuite("stimulus", ("coherence", "choice"), (-100, 700), (-500, 200), specific=_wager),
    "mante": SongSuite("stimulus", ("context_name", "choice"), (-200, 750), specific=_mante),
    "multisensory": SongSuite("stimulus", ("modality_name", "choice"), (-300, 1000), specific=_multisensory),
    "romo": SongSuite("f1", ("f1",), (-500, 4000), specific=_romo),
    "economic": SongSuite("offer", ("chosen_juice",), (-500, 1000), specific=_economic),
}


def analyze(task: Protocol, table: pd.DataFrame, ds: xr.Dataset) -> Analysis:
    """Every analysis of spec §6 that fits ``task``: ``table`` is a (large) behaviour table, ``ds``
    an activity dataset of the same network."""
    suite = SUITES.get(task.name) or generic_suite(task)
    result = Analysis()
    result.numbers["performance"] = {k: _fmt(v) for k, v in table_performance(task, table).items()}
    if task.name in SUITES:
        result.paper["performance"] = f"trained until {TASKS[task.name].criterion.describe()} (pyrl's stop criterion)"
    result.numbers["trials"] = {"behaviour": len(table), "activity": int(ds.sizes["trial"])}
    if task.psychometric is not None and task.name not in ("mante", "multisensory"):
        _psychometric(task, table, result)
    if suite.specific is not None:
        try:
            suite.specific(task, table, ds, result)
        except behaviour.NotEnoughTrials as error:  # e.g. an untrained network: say what stopped, go on
            result.numbers["task_analyses_skipped"] = f"{task.name}'s own analyses stopped: {error}"
            result.warnings.append(f"{task.name}'s own analyses stopped early: {error}")
    _neural(task, suite, ds, result)
    return result


def _neural(task: Protocol, suite: SongSuite, ds: xr.Dataset, result: Analysis) -> None:
    """d' of every unit between the two most frequent choices, PSTHs of the four most selective
    units (stimulus- and choice-aligned), the value output by condition, PCA trajectories."""
    table = neural.trial_table(ds)
    decided = table["decision"].to_numpy(bool)
    if not decided.any():  # an untrained network: nothing to sort by choice
        result.numbers["neural"] = {"skipped": "no recorded trial ended in a decision"}
        return
    choices = table.loc[decided, "choice"].value_counts().index[:2]
    keep = decided & table["choice"].isin(choices).to_numpy()
    if len(choices) == 2:
        d = neural.choice_selectivity(ds.assign_coords(chose=("trial", (table["choice"] == choices[0]).to_numpy())),
                                      label="chose", epoch=suite.stimulus_epoch, where=keep)
        finite = np.nan_to_num(np.abs(d.values), nan=-1)
        top = list(np.argsort(finite)[::-1][:4])
        result.numbers["choice_selectivity"] = {"label": f"{choices[0]} vs {choices[1]}",
                                                "median_abs_dprime": _fmt(np.nanmedian(np.abs(d.values))),
                                                "units_abs_dprime_above_1": int((np.abs(d.values) > 1).sum()),
                                                "most_selective_units": [int(u) for u in top]}
        result.figures["choice_selectivity"] = figs.histogram(d.values, f"d′ ({choices[0]} vs {choices[1]})")
    else:
        top = [0, 1, 2, 3]
    by = list(suite.psth_by)
    stim = neural.psth(ds, "rates", suite.stimulus_epoch, suite.stimulus_window, by, where=decided)
    result.figures["psth_stimulus"] = figs.psth_panels(stim, by, top, title=f"aligned to {suite.stimulus_epoch} onset")
    at_choice = neural.psth(ds, "rates", "choice", suite.choice_window, by, where=decided)
    result.figures["psth_choice"] = figs.psth_panels(at_choice, by, top, title="aligned to the choice")
    value = neural.psth(ds, "value", suite.stimulus_epoch, suite.stimulus_window, by, where=decided)
    result.figures["value_output"] = figs.psth_panels(value, by, title="value network output (expected return)")
    late = value.sel(time=slice(suite.stimulus_window[1] * 0.5, None)).mean("time")
    result.numbers["value_output_late"] = [
        {**{b: behaviour.json_scalar(value[b].values[g]) for b in by}, "value": _fmt(late.values[g])}
        for g in range(value.sizes["group"]) if np.isfinite(late.values[g])]
    # PCA of condition-averaged stimulus-aligned trajectories
    traces = stim.values
    flat = traces.reshape(-1, traces.shape[-1])
    components = population.pca(flat, 3)
    projected = np.stack([components.transform(np.nan_to_num(t, nan=0.0)) for t in traces])
    projected[np.isnan(traces).any(-1)] = np.nan
    groups = pd.DataFrame({b: stim[b].values for b in by})
    colour = by[0] if pd.api.types.is_numeric_dtype(groups[by[0]]) else None
    if colour is None:
        groups["order"] = pd.factorize(groups[by[0]])[0]
        colour = "order"
    result.figures["pca_trajectories"] = figs.trajectories(projected, groups, (0, 1), ("PC1", "PC2", "PC3"), colour)
    result.numbers["pca_explained_variance"] = [_fmt(v) for v in components.explained]
