"""Words for the report: the names of the analyses' numbers, how each value is written, and a
caption for every figure the analyses draw (``rewardrnn report``)."""

from __future__ import annotations

import html
import math
from typing import Any

#: Readable names of the keys of ``numbers.json`` (analysis names and their fields).
LABELS = {
    "performance": "performance", "p_decision": "P(decision)", "p_correct": "P(correct | decision)",
    "p_sure": "P(sure | wager trial)", "reward": "mean reward", "p_respond": "P(response)", "trials": "trials",
    "behaviour": "behaviour trials", "activity": "recorded trials",
    "psychometric": "psychometric fit", "mu": "bias μ", "sigma": "threshold σ", "lapse": "lapse rate",
    "mu_ci95": "μ, 95 % CI", "sigma_ci95": "σ, 95 % CI", "n_trials": "trials fitted",
    "accuracy_vs_duration": "accuracy vs stimulus duration", "chronometric": "reaction time vs coherence",
    "rt_falls_with_coherence": "RT falls as coherence rises",
    "p_sure_vs_coherence": "P(sure) vs coherence", "p_sure_vs_duration": "P(sure) vs stimulus duration",
    "accuracy_waived_vs_not_offered": "accuracy, sure target waived vs not offered",
    "waived_minus_not_offered": "accuracy gain when the sure target is waived",
    "psychometric_by_context": "psychometric fits by context",
    "context_gating_sigma_ratio": "σ irrelevant / σ relevant (context gating)",
    "cue_combination": "cue combination", "accuracy_by_pair": "accuracy by (f1, f2) pair",
    "min_pair_accuracy": "lowest accuracy of any (f1, f2) pair", "f1_tuning_in_delay": "units tuned to f1 in the delay",
    "choice_pattern": "choice pattern", "indifference_point": "indifference point",
    "indifference_b_per_a": "1 A = … B", "value_units": "value-network unit types",
    "offer_value": "offer value", "chosen_value": "chosen value", "choice": "choice", "selective": "selective units",
    "of": "of units", "p_correct_by_trial_type": "P(correct) by trial type",
    "choice_selectivity": "choice selectivity (d′)", "label": "between", "median_abs_dprime": "median |d′|",
    "units_abs_dprime_above_1": "units with |d′| > 1", "most_selective_units": "most selective units",
    "value_output_late": "value output late in the trial, by condition",
    "pca_explained_variance": "PCA: variance explained by PC1-3", "fixed_points": "fixed and slow points",
    "candidates": "candidates", "points": "distinct points", "tiers": "speed tiers (fixed, slow, other)",
    "by_stability": "by stability", "wall_s": "seconds", "analysis_wall_s": "analysis time (s)",
    "error_by_trial_type": "error by trial type", "cross_temporal_decoding": "cross-temporal decoding",
    "mds_cluster_separation": "MDS cluster separation", "final_output_vs_bias": "final output vs bias",
    "state_space": "state space", "condition_selectivity": "condition selectivity", "median_spread": "median spread",
    "neural": "neural analyses", "skipped": "skipped",
}

#: A caption for each figure of ``rewardrnn analyze`` (by file name; fixed points' too).
CAPTIONS = {
    "psychometric": "Psychometric curve: the proportion of one choice against the signed stimulus, with the "
                    "cumulative-Gaussian fit (bias μ, threshold σ).",
    "accuracy_vs_duration": "Percent correct against stimulus duration (bins), with 95 % intervals.",
    "chronometric": "Reaction time against coherence, correct (filled) and error (open) trials.",
    "p_sure_vs_coherence": "Probability of choosing the sure target on wager trials, by coherence.",
    "p_sure_vs_duration": "Probability of choosing the sure target on wager trials, by stimulus duration.",
    "accuracy_waived_vs_not_offered": "Accuracy when the sure target was offered but waived, against trials "
                                      "without it: higher when waived in the paper (Fig. 3).",
    "psychometric_relevant_irrelevant": "Psychometric curves against the relevant and the irrelevant modality's "
                                        "coherence, in each context.",
    "psychometric_by_modality": "Psychometric curves of visual, auditory and multisensory trials: steeper "
                                "multisensory curves mean cue combination.",
    "accuracy_by_pair": "Percent correct for every (f1, f2) pair.",
    "f1_tuning_in_delay": "Percentage of units tuned positively and negatively to f1 through the delay.",
    "choice_pattern": "Percent of choices of juice B for every offer, with the fitted indifference point.",
    "value_unit_types": "Selective value-network units: offer value, chosen value, choice (500 ms before the choice).",
    "p_correct_by_trial_type": "Percent correct by trial type.",
    "choice_selectivity": "d′ of every unit between the two most frequent choices, during the stimulus epoch.",
    "psth_stimulus": "Mean rates of the most choice-selective units, aligned on stimulus onset, by condition "
                     "and choice.",
    "psth_choice": "Mean rates of the same units aligned on the choice.",
    "psth_start": "Mean rates of the most condition-selective units from trial start, by condition.",
    "value_output": "The value network's output (expected return) aligned on stimulus onset, by condition and choice.",
    "pca_trajectories": "Condition-averaged population trajectories projected on their first principal components.",
    "performance_by_condition": "Percent of trials performed correctly, by condition.",
    "output_by_trial_type": "The output neuron's activity through the trial, by trial type.",
    "mds": "Multidimensional scaling of the population state at successive times, by trial type.",
    "learning_within_episode": "P(better option chosen) at each trial of held-out episodes, weights fixed: learning "
                               "within the episode (± binomial s.e.m.; dotted: chance).",
    "history_kernels": "Reward-history kernels: logistic-regression weights (log-odds toward the option chosen) of "
                       "the rewarded and unrewarded choices 1-5 trials back (± s.e.).",
    "around_reversal": "P(choosing the option that was better before the reversal), aligned on the reversal "
                       "(dashed; 0: the first trial after it).",
    "two_step_stay": "Two-step task: P(repeating the first-stage choice) by the previous trial's reward and "
                     "transition (common / rare); model-based: stay after rewarded-common and unrewarded-rare.",
    "latent_decoding": "Cross-validated R² of a linear read-out of the latent reward probability from the state at "
                       "each trial of the episode (folds of whole episodes; 0: no better than the mean).",
    "fixedpoints_pca": "Fixed and slow points (q below the slow threshold) in the first two principal components of "
                       "the recorded rates, coloured by input condition, marker by stability (from the network's "
                       "non-trivial modes), segment along the slowest non-trivial mode; grey: recorded trials.",
    "fixedpoints_spectra": "Eigenvalues of the linearised dynamics at each condition's fixed and slow points (unit "
                           "circle: stability boundary); grey: trivial modes, the leaks of silent units.",
    "fixedpoints_selection": "Selection vector of the slowest non-trivial mode (Mante et al. 2013), median over each "
                             "condition's fixed and slow points: how far a pulse on each input channel moves the "
                             "state along the slow mode.",
}
#: Captions of figure families named by a prefix.
CAPTION_PREFIXES = {
    "decoding_": "Cross-temporal decoding accuracy: a decoder trained at one time (rows) tested at another (columns).",
    "state_space_": "Population trajectories on the regression axes (Mante et al. 2013), by context and coherence.",
}


def label(key: str) -> str:
    """The readable name of a key of ``numbers.json``."""
    return LABELS.get(key, key.replace("_", " "))


def caption(figure: str) -> str:
    """The caption of a figure (its file name without extension)."""
    if figure in CAPTIONS:
        return CAPTIONS[figure]
    for prefix, text in CAPTION_PREFIXES.items():
        if figure.startswith(prefix):
            return text
    return figure.replace("_", " ").capitalize() + "."


def number(value: Any) -> str:
    """One value written for people: 3 significant digits, thousands separators, yes/no."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    if isinstance(value, (list, tuple)) and all(not isinstance(v, (list, dict)) for v in value):
        return ", ".join(number(v) for v in value)
    return html.escape(str(value))


def value_html(value: Any) -> str:
    """A value as HTML: a scalar or a short list as text, a table of columns or of records as a
    small table."""
    if _is_columns(value):
        columns = list(value)
        rows = zip(*(value[c] for c in columns))
        return _small_table(columns, rows)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        columns = list(dict.fromkeys(k for v in value for k in v))
        return _small_table(columns, ([v.get(c) for c in columns] for v in value))
    if isinstance(value, dict):
        return "; ".join(f"{html.escape(label(str(k)))} {_inline(v)}" for k, v in value.items())
    return number(value)


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "(" + ", ".join(f"{html.escape(label(str(k)))} {_inline(v)}" for k, v in value.items()) + ")"
    return number(value)


def _small_table(columns: list[str], rows) -> str:
    head = "".join(f"<th>{html.escape(label(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{number(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table class='inner'><tr>{head}</tr>{body}</table>"


def number_rows(numbers: dict[str, Any], paper: dict[str, str]) -> list[tuple[str, str, str]]:
    """Rows (analysis, value as HTML, the paper's value) of the key-numbers table: a dict of
    scalars becomes one row per field, the paper's value on the analysis's first row."""
    rows = []
    for name, value in numbers.items():
        said = html.escape(paper.get(name, ""))
        if isinstance(value, dict) and value and not _is_columns(value) and all(not isinstance(v, (dict, list)) or _short_list(v)
                                                     for v in value.values()):
            for i, (key, item) in enumerate(value.items()):
                rows.append((f"{html.escape(label(name))} · {html.escape(label(str(key)))}", number(item),
                             said if i == 0 else ""))
        else:
            rows.append((html.escape(label(name)), value_html(value), said))
    return rows


def _is_columns(value: Any) -> bool:
    """A table saved as columns: a dict of two or more lists of one length."""
    return (isinstance(value, dict) and len(value) >= 2 and all(isinstance(v, list) for v in value.values())
            and len({len(v) for v in value.values()}) == 1)


def _short_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= 8 and all(not isinstance(v, (list, dict)) for v in value)
