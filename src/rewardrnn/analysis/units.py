"""What each number of ``numbers.json`` means: its unit and convention, by key path (dotted,
e.g. ``psychometric.mu``). :func:`describe` gives the entries for the keys a result holds;
``analyze`` writes them beside the numbers (``numbers.json`` -> ``units``)."""

from __future__ import annotations

#: Key path -> unit and convention. A path names a number, a list of numbers or a mapping of them.
UNITS = {
    "performance.p_decision": "fraction (0-1) of the behaviour table's trials that ended in a choice in the response epoch",
    "performance.p_correct": "fraction (0-1) of the decided trials that were correct",
    "performance.p_sure": "fraction (0-1) of trials with the sure target offered in which it was chosen",
    # runs over episodes of trials (rewardrnn.analysis.episodes_suite; -n / --behaviour-trials count episodes)
    "performance.p_better": "episodes of trials: fraction (0-1) of the criterion's trials (from its first trial on, "
                            "in episodes whose options differ by at least its gap) on which the better option was chosen",
    "performance.reward": "mean reward per trial (reward units: 1 rewarded, 0 not)",
    "performance.episodes": "held-out episodes played (fresh latents; sampling from the policy, training noise on)",
    "learning_within_episode": "per trial of the episode (from 1): P(better option chosen), fraction 0-1, with its "
                               "binomial s.e.m. and n, over the episodes whose options differ on that trial",
    "p_better_by_block": "mean over trials 1-10 and 11-end of the learning curve within episodes, fraction 0-1",
    "win_stay_lose_shift": "P(same choice as the previous trial | it was rewarded) and P(other choice | it was not), "
                           "fractions 0-1 with binomial s.e.m. and n (the first trial of an episode has no previous one)",
    "history_kernels": "logistic regression of choice (1: option 1) on the past trials' rewarded and unrewarded "
                       "choices (+1 option 1, -1 option 0) per lag (trials back): coefficients in log-odds per unit "
                       "regressor, s.e. from the Fisher information; rewarded_choice_decays: lag 1 positive and no "
                       "later lag larger by more than 2 s.e.; a note instead when too few trials have the history",
    "around_reversal": "per trial relative to the reversal (0: the first trial after it): P(choosing the option "
                       "that was better before it), fraction 0-1 with binomial s.e.m. and n",
    "trials_to_follow_reversal": "the first trial after the reversal (1: the first) on which P(the old better "
                                 "option) is below 0.5; null if never within 20 trials",
    "two_step_stay": "Daw et al. 2011: P(repeat the first-stage choice) by the previous trial's reward x transition "
                     "(fractions 0-1, s.e.m., n); model_free_index = main effect of reward, model_based_index = "
                     "reward x transition interaction, each a difference of stay probabilities (-1..1); regression: "
                     "log-odds of staying on reward, transition and their product coded +1/-1",
    "runaway_episodes": "episodes whose decision state reached |x| > 100 at a decision step (n of `of`), left out "
                        "of the latent decoding; max_abs_state in state units",
    "latent_decoding": "cross-validated (5 folds of whole episodes) ridge read-out of the latent reward probability "
                       "(latent: p_left, the LEFT arm's; p_2a, state 2a's) from the state at each trial's decision "
                       "step: R² (1 - SSE / SS around the test fold's mean; 0 = the mean) over all trials and per "
                       "trial of the episode; null with fewer than 10 bounded episodes",
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
