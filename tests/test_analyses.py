"""Every analysis on synthetic data with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from rewardrnn.analysis import behaviour, neural, population
from rewardrnn.tasks.registry import get_task

RNG = np.random.default_rng(0)


# ---- behaviour ----------------------------------------------------------------------------------
@pytest.mark.parametrize("lapse", [0.0, 0.1])
def test_psychometric_fit_recovers_mu_sigma_and_lapse(lapse):
    x = np.array([-50, -25, -12, -6, 0, 6, 12, 25, 50], float)
    n = np.full(x.size, 3000)
    p = lapse / 2 + (1 - lapse) * stats.norm.cdf((x - 3.0) / 10.0)
    k = RNG.binomial(n, p)
    fit = behaviour.fit_psychometric(x, k, n, lapse=lapse > 0)
    assert abs(fit.mu - 3.0) < 4 * fit.mu_se and abs(fit.mu - 3.0) < 1.0
    assert abs(fit.sigma - 10.0) < 4 * fit.sigma_se and abs(fit.sigma - 10.0) < 1.0
    assert abs(fit.lapse - lapse) < 0.03
    low, high = behaviour.confidence_interval(fit)["mu"]
    assert low < fit.mu < high and high - low == pytest.approx(2 * 1.959964 * fit.mu_se)


def _rdm_table(n=20_000, mu=0.0, sigma=12.0):
    coherence = RNG.choice([0.0, 6.4, 12.8, 25.6, 51.2], n)
    direction = RNG.choice([-1.0, 1.0], n)
    right = RNG.random(n) < stats.norm.cdf((direction * coherence - mu) / sigma)
    correct = right == (direction > 0)
    rt = np.where(correct, 600 - 4 * coherence, 700 - 2 * coherence) + RNG.normal(0, 20, n)
    return pd.DataFrame({"direction": direction, "coherence": coherence, "decision": True,
                         "choice": np.where(right, "CHOOSE-RIGHT", "CHOOSE-LEFT"), "correct": correct,
                         "response_onset_ms": 750.0, "choice_time_ms": 750.0 + rt,
                         "stimulus_ms": RNG.uniform(80, 1500, n)})


def test_chronometric_means_of_correct_and_error_trials():
    table = _rdm_table()
    chrono = behaviour.chronometric(table).set_index("stimulus")
    for coh in (6.4, 25.6):
        assert chrono.loc[coh, "rt_correct_ms"] == pytest.approx(600 - 4 * coh, abs=3)
        assert chrono.loc[coh, "rt_error_ms"] == pytest.approx(700 - 2 * coh, abs=6)
    few = behaviour.chronometric(table.iloc[:30])
    assert few["rt_error_ms"].isna().any()  # cells with <= 10 trials are not shown
    # the bootstrap interval of each mean: around it, about 2 standard errors each side, reproducible
    decided = table[table["decision"] & table["correct"] & (table["coherence"] == 25.6)]
    rt = (decided["choice_time_ms"] - decided["response_onset_ms"]).to_numpy()
    se = rt.std(ddof=1) / np.sqrt(len(rt))
    low, high = chrono.loc[25.6, "rt_correct_ci_low"], chrono.loc[25.6, "rt_correct_ci_high"]
    assert low < chrono.loc[25.6, "rt_correct_ms"] < high
    assert (high - low) == pytest.approx(2 * 1.96 * se, rel=0.2)
    assert behaviour.chronometric(table).equals(behaviour.chronometric(table))
    from rewardrnn.figures.analyses import chronometric as chronometric_figure
    fig = chronometric_figure(behaviour.chronometric(table), "coherence (%)")
    assert fig.axes[0].get_xlim()[0] < 0 <= min(table["coherence"])  # 0 % coherence is on the axis


def test_equal_count_bins_and_accuracy_by_duration():
    values = pd.Series(RNG.permutation(100).astype(float))
    bins = behaviour.equal_count_bins(values, 10)
    assert (bins.value_counts() == 10).all()
    assert all(values[bins == b].max() < values[bins == b + 1].min() for b in range(9))
    table = _rdm_table()
    table["correct"] = RNG.random(len(table)) < 0.5 + 0.4 * (table["stimulus_ms"] > 700)  # planted step
    acc = behaviour.accuracy_by_duration(table, n_bins=4)
    assert acc["n"].nunique() <= 2 and acc["p"].iloc[0] == pytest.approx(0.5, abs=0.03)
    assert acc["p"].iloc[-1] == pytest.approx(0.9, abs=0.03)


def test_cue_combination_of_planted_thresholds():
    rows = []
    for modality, sigma in (("v", 2.0), ("a", 3.0), ("va", 1 / np.sqrt(1 / 4 + 1 / 9))):
        f = RNG.choice(np.arange(9.0, 17.0), 40_000)
        high = RNG.random(f.size) < stats.norm.cdf((f - 12.5) / sigma)
        rows.append(pd.DataFrame({"modality_name": modality, "frequency": f, "decision": True,
                                  "choice": np.where(high, "CHOOSE-HIGH", "CHOOSE-LOW")}))
    result = behaviour.cue_combination(pd.concat(rows), get_task("multisensory").psychometric)
    assert result["sigma_v"] == pytest.approx(2.0, rel=0.05) and result["sigma_a"] == pytest.approx(3.0, rel=0.05)
    assert result["optimality_ratio"] == pytest.approx(1.0, abs=0.1)


def test_indifference_point_of_planted_economic_chooser():
    offers = [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (6, 1), (10, 1), (1, 0), (2, 2), (1, 3)]
    rows = []
    for n_b, n_a in offers:
        value_b, value_a = n_b * 1.0, n_a * 2.0  # 1 A = 2 B
        p_b = stats.norm.cdf((value_b - value_a) / 0.8)
        chose_b = RNG.random(2000) < p_b
        rows.append(pd.DataFrame({"n_B": float(n_b), "n_A": float(n_a), "decision": True,
                                  "chosen_juice": np.where(chose_b, "B", "A")}))
    table = pd.concat(rows)
    pattern = behaviour.choice_pattern(table).set_index(["n_B", "n_A"])
    assert pattern.loc[(10.0, 1.0), "p_choose_b"] > 0.99 and pattern.loc[(1.0, 1.0), "p_choose_b"] < 0.2
    assert behaviour.indifference_point(table)["indifference_b_per_a"] == pytest.approx(2.0, abs=0.25)


def test_wager_measures():
    n = 20_000
    coh = RNG.choice([0.0, 12.8, 51.2], n)
    wager = RNG.random(n) < 0.5
    sure = wager & (RNG.random(n) < np.where(coh == 0, 0.6, np.where(coh < 20, 0.3, 0.05)))
    correct = ~sure & (RNG.random(n) < np.where(wager, 0.85, 0.75))
    table = pd.DataFrame({"wager": wager.astype(float), "coherence": coh, "decision": True, "sure_chosen": sure,
                          "correct": correct, "stimulus_ms": RNG.uniform(100, 900, n)})
    p_sure = behaviour.sure_by(table, "coherence").set_index("coherence")["p"]
    assert p_sure[0.0] == pytest.approx(0.6, abs=0.03) and p_sure[51.2] == pytest.approx(0.05, abs=0.02)
    waived = behaviour.accuracy_waived_vs_not_offered(table)
    assert (waived["waived"] - waived["not_offered"]).mean() == pytest.approx(0.10, abs=0.03)


# ---- neural -------------------------------------------------------------------------------------
def _dataset(n_trials=40, n_steps=30, n_units=3, dt=10.0):
    """Rates = unit index + coherence * (steps since stimulus onset), NaN after each trial's end."""
    coherence = np.tile([0.0, 1.0, 2.0, 3.0], n_trials // 4)
    direction = np.repeat([-1.0, 1.0], n_trials // 2)
    onset_ms = RNG.choice([50.0, 100.0], n_trials)
    end_step = RNG.integers(20, n_steps, n_trials)
    k = np.arange(n_steps)
    since = k[None, :] - onset_ms[:, None] / dt + 1  # the step before the onset is time 0
    rates = np.arange(n_units)[None, None, :] + (coherence[:, None] * since)[..., None]
    rates = rates + (direction[:, None, None] > 0) * 5.0 * (k[None, :, None] * dt >= onset_ms[:, None, None])
    valid = k[None, :] <= end_step[:, None]
    rates = np.where(valid[..., None], rates, np.nan)
    ds = xr.Dataset({"rates": (("trial", "time", "unit"), rates), "valid": (("trial", "time"), valid)},
                    coords={"trial": np.arange(n_trials), "time": k * dt, "unit": np.arange(n_units),
                            "coherence": ("trial", coherence), "direction": ("trial", direction),
                            "stimulus_onset_ms": ("trial", onset_ms), "stimulus_ms": ("trial", np.full(n_trials, 100.0)),
                            "choice_time_ms": ("trial", end_step * dt), "decision": ("trial", np.ones(n_trials, bool))},
                    attrs={"dt_ms": dt})
    return ds, end_step


def test_psth_aligns_groups_and_skips_ended_steps():
    ds, end_step = _dataset()
    out = neural.psth(ds, "rates", align="stimulus", window_ms=(-30, 100), by=("coherence",),
                      where=ds["direction"].values < 0)
    assert list(out.coherence.values) == [0.0, 1.0, 2.0, 3.0]
    assert out.sel(time=0.0).values[:, 0] == pytest.approx([0.0, 0.0, 0.0, 0.0])
    assert out.sel(time=50.0).values[:, 2] == pytest.approx(2 + 5 * np.array([0.0, 1.0, 2.0, 3.0]))
    assert list(out.n_trials.values) == [5, 5, 5, 5]
    # aligned to the choice, the last executed step is at 0 and nothing later counts
    at_choice = neural.psth(ds, "rates", align="choice", window_ms=(-20, 20))
    assert np.isnan(at_choice.sel(time=10.0).values).all() and np.isfinite(at_choice.sel(time=0.0).values).all()


def test_window_mean_and_choice_selectivity():
    ds, _ = _dataset()
    means = neural.window_mean(ds, "rates", align="stimulus", window_ms=(10, 30))  # steps +1, +2
    expected = np.arange(3)[None, :] + ds["coherence"].values[:, None] * 1.5 + 5.0 * (ds["direction"].values[:, None] > 0)
    assert means.values == pytest.approx(expected)
    d = neural.choice_selectivity(ds, label="direction", epoch="stimulus")
    rates, onset = ds["rates"].values, (ds["stimulus_onset_ms"].values / 10).astype(int)
    samples = [rates[i, onset[i]:onset[i] + 10] for i in range(len(onset))]  # the epoch's 10 steps
    right = ds["direction"].values > 0
    pooled = lambda rows: np.concatenate([samples[i][np.isfinite(samples[i][:, 0])] for i in rows])  # noqa: E731
    expected = neural.dprime(pooled(np.flatnonzero(right)), pooled(np.flatnonzero(~right)))
    assert d.values == pytest.approx(expected) and (d.values > 0.3).all()
    assert neural.dprime(np.array([1.0, 3.0]), np.array([0.0, 2.0])) == pytest.approx(1.0)


def test_unknown_alignment_is_refused():
    ds, _ = _dataset()
    with pytest.raises(ValueError, match="cannot align to 'target'.*stimulus"):
        neural.psth(ds, align="target")


# ---- population ---------------------------------------------------------------------------------
def test_regression_axes_recover_planted_axes():
    n_trials, n_time, n_units = 400, 12, 60
    names = ("choice", "motion", "colour", "context")
    regressors = np.column_stack([RNG.choice([-1.0, 1.0], n_trials), RNG.uniform(-1, 1, n_trials),
                                  RNG.uniform(-1, 1, n_trials), RNG.choice([-1.0, 1.0], n_trials)])
    planted = RNG.normal(size=(4, n_units))
    profile = np.sin(np.linspace(0.2, np.pi - 0.2, n_time))  # every regressor peaks mid-trial
    rates = np.einsum("bp,pn,t->btn", regressors, planted, profile) + RNG.normal(0, 0.5, (n_trials, n_time, n_units))
    result = population.regression_axes(rates, regressors, names)
    truth, _ = np.linalg.qr(planted.T)
    for i in range(4):
        assert abs(truth[:, i] @ result.axes[:, i]) > 0.97
    assert np.allclose(result.axes.T @ result.axes, np.eye(4), atol=1e-8)
    assert (np.abs(result.t_max - n_time // 2) <= 1).all()
    projected = result.project(rates[:8])
    assert projected.shape == (8, n_time, 4)


def test_classify_units_recovers_planted_types():
    n = 600
    n_a, n_b = RNG.integers(1, 6, n).astype(float), RNG.integers(1, 11, n).astype(float)
    chose_b = RNG.random(n) < 0.5
    regs = population.economic_regressors(n_a, n_b, chose_b, indifference_b_per_a=2.0)
    planted = [name for name in population.VALUE_UNIT_TYPES for _ in range(5)] + [""] * 5
    responses = np.column_stack([(3 * regs[name] if name else 0) + RNG.normal(0, 0.3, n) for name in planted])
    types = population.classify_units(responses, regs)
    assert (types == np.asarray(planted, object)).mean() >= 0.9


def test_cross_temporal_decoding_of_an_early_stimulus():
    n_trials, n_time, n_units = 80, 20, 40
    labels = np.repeat([0, 1], n_trials // 2)
    pattern = RNG.normal(size=(2, n_units))
    data = RNG.normal(size=(n_trials, n_time, n_units))
    data[:, :8] += 2 * pattern[labels][:, None, :]  # coded only in the first 8 bins
    acc = population.cross_temporal_decoding(data, labels, n_splits=20)
    assert np.diag(acc)[:8].mean() > 0.95
    assert abs(np.diag(acc)[10:].mean() - 0.5) < 0.1
    assert abs(acc[:8, 10:].mean() - 0.5) < 0.1


def test_mds_preserves_distances_and_pca_finds_the_plane():
    points = np.column_stack([RNG.normal(0, 5, 50), RNG.normal(0, 2, 50), np.zeros(50)]) @ \
        np.linalg.qr(RNG.normal(size=(3, 3)))[0]
    embedded = population.classical_mds(points, 2)
    d = lambda p: np.linalg.norm(p[:, None] - p[None], axis=-1)  # noqa: E731
    assert d(embedded) == pytest.approx(d(points), abs=1e-6)
    result = population.pca(points, 3)
    assert result.explained[:2].sum() == pytest.approx(1.0) and result.explained[2] < 1e-12


def test_linear_tuning_signs():
    f1 = RNG.uniform(10, 34, 300)
    responses = np.column_stack([f1 * 0.1, -f1 * 0.1, np.zeros(300)]) + RNG.normal(0, 0.2, (300, 3))
    responses[:, 2] = RNG.normal(0, 1, 300)
    assert list(population.linear_tuning(responses, f1)["sign"][:2]) == [1, -1]


# ---- every Song task's suite, on records of a scripted observer --------------------------------
def _scripted_records(name: str, trials_per_condition: int, n_units: int = 12):
    """Records of an observer that fixates, then answers at the response onset (250 ms into
    the stimulus in the reaction-time task): the correct action, or a random one in 30 % of
    trials; rates and value are noise, NaN after the trial's end, as the recorder writes them."""
    import jax

    from rewardrnn.records.behaviour import behaviour_columns, condition_cycle, per_trial_outcomes
    from rewardrnn.tasks.engine import TaskEnv

    env = TaskEnv(get_task(name), 10.0)
    conditions = condition_cycle(env, trials_per_condition)
    n = len(conditions)
    trials = env.sample_trials(jax.random.PRNGKey(0), n, conditions)
    response = env.epoch_names.index(env.protocol.response_epoch)
    onset = np.asarray(trials.epoch_start_ms[:, response]) + (250 if name == "rdm-rt" else 0)
    step = np.ceil(onset / 10).astype(int)
    correct = np.stack([np.asarray(env.judge(trials, step, np.full(n, a))[3]) for a in range(env.n_actions)], 1)
    choice = np.where(correct.any(1), correct.argmax(1), 1)
    lapse = RNG.random(n) < 0.3
    choice = np.where(lapse, RNG.integers(1, env.n_actions, n), choice)
    actions = np.zeros((env.n_steps, n), np.int32)
    actions[step, np.arange(n)] = choice
    out = env.outcomes(trials, actions)
    table = behaviour_columns(env, jax.tree_util.tree_map(np.asarray, trials),
                              {k: np.asarray(v) for k, v in per_trial_outcomes(out).items()})
    valid = np.arange(env.n_steps)[None, :] <= np.asarray(out.end_step)[:, None]
    noise = lambda *shape: np.where(valid.reshape(valid.shape + (1,) * len(shape)),  # noqa: E731
                                    RNG.gamma(2.0, 0.5, (n, env.n_steps) + shape), np.nan)
    coords = {c: ("trial", table[c].to_numpy()) for c in table.columns if c != "trial"}
    ds = xr.Dataset({"rates": (("trial", "time", "unit"), noise(n_units)),
                     "value_rates": (("trial", "time", "value_unit"), noise(n_units)),
                     "value": (("trial", "time"), noise()), "valid": (("trial", "time"), valid)},
                    coords={"trial": np.arange(n), "time": np.arange(env.n_steps) * 10.0, "unit": np.arange(n_units),
                            "value_unit": np.arange(n_units), **coords}, attrs={"dt_ms": 10.0})
    return env.protocol, table, ds


@pytest.mark.parametrize("name,expected", [
    ("rdm-fixed", {"psychometric", "accuracy_vs_duration"}),
    ("rdm-rt", {"psychometric", "chronometric"}),
    ("wager", {"psychometric", "p_sure_vs_coherence", "p_sure_vs_duration", "accuracy_waived_vs_not_offered"}),
    ("mante", {"psychometric_by_context", "context_gating_sigma_ratio", "state_space"}),
    ("multisensory", {"cue_combination"}),
    ("romo", {"accuracy_by_pair", "f1_tuning_in_delay"}),
    ("economic", {"choice_pattern", "indifference_point", "value_units"}),
])
def test_every_song_task_runs_its_own_analyses(name, expected):
    from rewardrnn.analysis import song_suite

    task, table, ds = _scripted_records(name, 6 if name in ("mante", "wager") else 12)
    result = song_suite.analyze(task, table, ds)
    assert expected <= set(result.numbers)
    assert {"performance", "choice_selectivity", "value_output_late", "pca_explained_variance"} <= set(result.numbers)
    assert {"psth_stimulus", "psth_choice", "value_output", "pca_trajectories"} <= set(result.figures)
    assert 0.6 < result.numbers["performance"]["p_correct"] < 0.95  # 70 % scripted + lucky lapses
    import matplotlib.pyplot as plt
    plt.close("all")


def test_learning_curve_median_across_seeds_and_report_row():
    from rewardrnn.figures.learning import learning_curve
    from rewardrnn.reports import _training_rows

    rows = [dict(seed=s, trials=t, reward=0.0, p_correct=p, new_best=False)
            for s, ps in ((1, (0.5, 0.7)), (2, (0.6, 0.9)), (3, (0.7, 0.8))) for t, p in zip((0, 1000), ps)]
    fig = learning_curve(pd.DataFrame(rows), 0.8)
    median = [line for line in fig.axes[1].lines if line.get_label() == "median, IQR"][0]
    assert list(median.get_ydata()) == pytest.approx([60.0, 80.0])
    summary = {"seeds": [{"seed": 1, "reached_criterion": True, "trials_to_criterion": 5000},
                         {"seed": 2, "reached_criterion": True, "trials_to_criterion": 7000},
                         {"seed": 3, "reached_criterion": False}]}
    assert ("median trials to criterion", "6000 (IQR 5500-6500), 2 of 3 seeds reached it") in _training_rows(summary)
