"""What each number of ``numbers.json`` means: its unit and convention, by key path (dotted,
e.g. ``psychometric.mu``). :func:`describe` gives the entries for the keys a result holds;
``analyze`` writes them beside the numbers (``numbers.json`` -> ``units``)."""

from __future__ import annotations

#: Key path -> unit and convention. A path names a number, a list of numbers or a mapping of them.
UNITS = {
    "performance.p_decision": "fraction (0-1) of the behaviour table's trials that ended in a choice in the response epoch",
    "performance.p_correct": "fraction (0-1) of the decided trials that were correct",
    "performance.p_sure": "fraction (0-1) of trials with the sure target offered in which it was chosen",
    "trials.behaviour": "trials in the behaviour table (evaluate's, the psychometric and behavioural numbers)",
    "trials.activity": "trials in the activity records (the neural numbers)",
    "psychometric": "cumulative-Gaussian fit P(positive action) = lapse/2 + (1 - lapse) Phi((x - mu) / sigma) by "
                    "binomial maximum likelihood, x the signed stimulus (psychometric.stimulus)",
    "psychometric.mu": "point of subjective equality, in the signed stimulus's unit (rdm: % coherence, signed "
                       "+ toward the positive action); mu > 0: more evidence is needed for the positive action, a "
                       "bias toward the other (rdm: mu > 0 is a LEFT bias, positive action CHOOSE-RIGHT)",
    "psychometric.sigma": "width of the fit, in the signed stimulus's unit (smaller: more sensitive)",
    "psychometric.lapse": "lapse rate (0 when not fitted)",
    "psychometric.mu_ci95": "Wald 95 % interval of mu, stimulus units",
    "psychometric.sigma_ci95": "Wald 95 % interval of sigma, stimulus units",
    "psychometric.n_trials": "decided trials in the fit",
    "psychometric.stimulus": "the signed stimulus x of the fit, in the task's words",
    "psychometric.positive_action": "the action whose probability is fitted",
    "psychometric_by_context": "the psychometric fit (as psychometric) per context and evidence",
    "chronometric": "per coherence (stimulus, % coherence, unsigned): reaction times in ms, measured from the onset "
                    "of the response epoch (the decision epoch; the stimulus stays on) to the choice, of correct "
                    "(rt_correct_ms) and error (rt_error_ms) trials, mean over decided trials",
    "rt_falls_with_coherence": "true when the mean correct reaction time at the strongest coherence is below that "
                               "at the weakest",
    "accuracy_vs_duration": "fraction correct (p, with Wilson 95 % interval) of decided trials per stimulus-duration "
                            "decile (bin; mean_stimulus_ms: ms, n: trials)",
    "choice_selectivity": "d' of each unit's rate over the stimulus epoch between the two most frequent choices "
                          "(label: first vs second; positive: higher for the first)",
    "choice_selectivity.median_abs_dprime": "median |d'| over units (dimensionless)",
    "choice_selectivity.units_abs_dprime_above_1": "units with |d'| > 1",
    "choice_selectivity.most_selective_units": "unit indices (0-based), largest |d'| first",
    "value_output_late": "the value network's prediction of the return to go (reward units: +1 correct, 0 error, "
                         "-1 abort), mean over the second half of the stimulus-aligned window, per condition and choice",
    "pca_explained_variance": "fraction of the variance of the condition-averaged, stimulus-aligned rates explained "
                              "by PC 1, 2, 3",
    "fixed_points": "the fixed-point search of analyze (1,024 candidates); units and conventions in "
                    "fixedpoints.json -> conventions",
    "fixed_points.tiers": "speed tiers: q = 1/2 ||F(x) - x||^2 in squared state units per step; fixed: q < fixed_q, "
                          "slow: fixed_q <= q < slow_q",
    "fixed_points.by_stability": "stability of the fixed and slow points, from the network's non-trivial modes",
    "fixed_points.wall_s": "seconds",
    "analysis_wall_s": "seconds of the whole analyze command",
    "value_units": "the value network's units classified by regression (offer value A/B, chosen value, choice) "
                   "in the 500 ms before the choice; fractions (0-1) of the selective units",
    "indifference_point": "offers of B worth one of A (drops of B per drop of A) at P(choose B) = 0.5",
    "cue_combination": "per modality (v, a, va) the psychometric width sigma and bias mu, in the signed "
                       "stimulus's unit; the optimal-combination prediction 1/sigma_va^2 = 1/sigma_v^2 + "
                       "1/sigma_a^2 (predicted and observed inverse variances and their ratio)",
    "f1_tuning_in_delay": "per 500-ms bin of the delay (delay_ms: its centre, ms after f1 offset), the fraction "
                          "(0-1) of units whose mean rate rises (positive) or falls (negative) with f1 (linear "
                          "regression, correct trials)",
    "context_gating_sigma_ratio": "psychometric width for the irrelevant evidence divided by that for the relevant "
                                  "one (large: the irrelevant evidence is ignored)",
    "accuracy_by_pair": "fraction correct per (f1, f2) pair, Hz",
    "min_pair_accuracy": "lowest fraction correct over the (f1, f2) pairs",
    "choice_pattern": "P(choose B) per offer (n_B drops of B : n_A drops of A)",
    "p_correct_by_trial_type": "fraction correct per trial type",
    "error_by_trial_type": "mean trial error (the error Miconi's rule learns from) per trial type",
    "cross_temporal_decoding": "decoding accuracy (0-1) of the trial type from population rates, trained at one "
                               "time and tested at another (ms from trial start)",
    "mds_cluster_separation": "per time (ms): the distances between the stimulus-1 groups' centroids, between "
                              "the response groups' and from AA to BB, each over the mean distance of a state to "
                              "its trial type's centroid (dimensionless; population rates)",
    "final_output_vs_bias": "per context and bias (relevant, irrelevant): the mean output r0 at 699 ms per bias "
                            "value and the slope of a line fitted to it (output per bias unit)",
    "condition_selectivity": "units whose mean rate varies most across conditions (spread: std over conditions "
                             "of the trial-averaged rate, rate units)",
    "state_space": "the regression axes (Mante et al. 2013): active units, each axis's time of largest norm "
                   "(t_max_ms, ms) and the range of the final states along each modality's axis per context "
                   "(axis units)",
    "neural": "the neural analyses (or why they were skipped)",
    "task_analyses_skipped": "why the task's own analyses stopped (too few trials of a kind, e.g. an untrained "
                             "network without correct decisions); the numbers before that point are kept",
}


def describe(numbers: dict, prefix: str = "") -> dict[str, str]:
    """The :data:`UNITS` entries of every key path present in ``numbers`` (nested mappings
    walked), in order."""
    out = {}
    for key, value in numbers.items():
        path = f"{prefix}{key}"
        if path in UNITS:
            out[path] = UNITS[path]
        if isinstance(value, dict):
            out.update(describe(value, path + "."))
    return out
