"""Stall detection: the rules on hand-made validation histories, and a run whose seed never
decides stopped as stalled (summary, metrics.csv, progress), re-decided on resume."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app
from rewardrnn.training.stalls import NO_PROGRESS, SILENT, StallRule, stall_reason, stall_reasons

runner = CliRunner()
RULE = StallRule(patience=5, min_delta=0.01, silent_validations=3, silent_level=0.01)


def _rows(p_decision, scores=None, seed=1):
    scores = scores if scores is not None else [0.0] * len(p_decision)
    return [{"seed": seed, "p_decision": p, "score": s, "criterion_met": False} for p, s in zip(p_decision, scores)]


def test_a_seed_silent_at_the_last_validations_has_stalled():
    assert stall_reason(_rows([0.0, 0.0, 0.0, 0.0]), RULE).startswith(SILENT)  # update 0 + 3 silent validations
    assert stall_reason(_rows([0.0, 0.0, 0.0]), RULE) is None  # only 2 after update 0: a fresh network is silent
    assert stall_reason(_rows([0.0, 0.5, 0.0, 0.02, 0.0]), RULE) is None  # 0.02 > 0.01 in the window
    assert stall_reason(_rows([0.9, 0.9, 0.0, 0.0, 0.01]), RULE).startswith(SILENT)  # a collapse counts too
    no_decisions_column = [{"seed": 1, "score": 0.0}] * 4  # Miconi's tasks: the rule does not apply
    assert stall_reason(no_decisions_column, RULE) is None


def test_no_progress_counts_validations_since_a_best_beaten_by_more_than_the_margin():
    rising = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    assert stall_reason(_rows([1.0] * 7, rising), RULE) is None
    flat = [0.1, 0.5, 0.505, 0.509, 0.49, 0.508, 0.501]  # best 0.5 at index 1, never beaten by > 0.01
    reason = stall_reason(_rows([1.0] * 7, flat), RULE)
    assert reason.startswith(NO_PROGRESS) and "in 5 validations" in reason and "0.500" in reason
    assert stall_reason(_rows([1.0] * 6, flat[:6]), RULE) is None  # 4 so far
    reset = flat[:6] + [0.52, 0.52]  # 0.52 > 0.5 + 0.01: the count restarts
    assert stall_reason(_rows([1.0] * 8, reset), RULE) is None


def test_the_gap_variant_counts_a_closing_gap_to_the_criterion_as_progress():
    """Wager: P(sure) moving into its band barely changes the reward. With ``gap_progress`` a gap
    shrinking by more than the margin resets the count, a gap that only wanders does not."""
    flat = [0.1, 0.5, 0.505, 0.509, 0.49, 0.508, 0.501]
    closing = [0.9, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25]
    with_gap = StallRule(**{**RULE.__dict__, "gap_progress": True})
    rows = [dict(r, criterion_gap=g) for r, g in zip(_rows([1.0] * 7, flat), closing)]
    assert stall_reason(rows, with_gap) is None
    assert stall_reason(rows, RULE).startswith(NO_PROGRESS)  # the default reads the reward alone
    wandering = [0.9, 0.5, 0.495, 0.6, 0.491, 0.7, 0.5]  # best 0.5 never beaten by > 0.01
    rows = [dict(r, criterion_gap=g) for r, g in zip(_rows([1.0] * 7, flat), wandering)]
    reason = stall_reason(rows, with_gap)
    assert reason.startswith(NO_PROGRESS) and "no criterion gap below 0.500" in reason and "in 5 validations" in reason


def test_criterion_gap_sums_each_part_s_shortfall():
    from rewardrnn.tasks.protocol import Criterion

    wager = Criterion(min_p_decision=0.99, min_p_correct=0.79, p_sure=(0.4, 0.5))
    perf = {"p_decision": [1.0, 0.97, 0.99, 0.99], "p_correct": [0.8, 0.75, 0.79, 0.79], "p_sure": [0.45, 1.0, 0.3, 0.5]}
    assert wager.gap(perf) == pytest.approx([0.0, 0.02 + 0.04 + 0.5, 0.1, 0.0])
    economic = Criterion(min_p_correct=0.9, min_p_correct_per_condition=0.8)
    perf = {"p_decision": 1.0, "p_correct": 0.95, "p_correct_worst_condition": 0.5}
    assert economic.gap(perf) == pytest.approx(0.3)


def test_criterion_unmet_names_each_missed_part_with_its_value():
    from rewardrnn.tasks.protocol import Criterion

    wager = Criterion(min_p_decision=0.99, min_p_correct=0.79, p_sure=(0.4, 0.5))
    assert wager.unmet({"p_decision": 1.0, "p_correct": 0.8, "p_sure": 0.45}) == ""
    assert wager.unmet({"p_decision": 1.0, "p_correct": 0.8, "p_sure": 0.4}) == "P(sure | wager) 0.400 outside (0.4, 0.5]"
    assert wager.unmet({"p_decision": 0.97, "p_correct": 0.75, "p_sure": 0.5}) == \
        "P(decision) 0.970 < 0.99, P(correct | decision) 0.750 < 0.79"
    economic = Criterion(min_p_correct=0.95, min_p_correct_per_condition=0.6)
    row = {"p_decision": 1.0, "p_correct": "0.96", "p_correct_worst_condition": 0.52}  # a CSV row may hold text
    assert economic.unmet(row) == "P(correct | decision) 0.520 < 0.6 in its worst condition"
    assert economic.unmet({"p_decision": 1.0}) == ""  # a number not recorded is not judged
    assert wager.unmet({"p_decision": 1.0, "p_correct": 0.8, "p_sure": float("nan")}) == ""  # nor a NaN


def test_a_seed_without_progress_is_told_what_its_last_validation_lacked(tmp_path):
    """A learning rate of 1e-9 keeps the validation reward flat: with a patience of 3 the seed
    stops as "no progress" before the silent rule's 10 validations, and its reason names the
    parts of rdm-fixed's criterion its last validation missed (it never decides)."""
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "rdm-fixed", "--N", "16", "--lr", "1e-9", "--baseline-lr", "1e-9",
                                 "--checkfreq", "1", "--n-validation", "20", "--max-updates", "40",
                                 "--patience", "3", "-q", "--out", str(out)])
    assert result.exit_code == 0, result.output
    seed = json.loads((out / "summary.json").read_text())["seeds"][0]
    assert seed["status"] == "stalled" and seed["updates"] == 3
    assert seed["stall_reason"].startswith(NO_PROGRESS)
    assert seed["stall_reason"].endswith("in 3 validations; at the last validation P(decision) 0.000 < 0.99, "
                                         "P(correct | decision) 0.000 < 0.8")


def test_rows_without_a_score_are_not_counted_and_patience_zero_is_off():
    rows = _rows([1.0] * 8, [None] * 8)  # a history written before scores were kept
    assert stall_reason(rows, RULE) is None
    assert stall_reason(_rows([0.0] * 20), StallRule(patience=0)) is None


def test_a_seed_that_met_its_criterion_never_stalls():
    history = _rows([0.0] * 5, seed=1) + _rows([0.0] * 5, seed=2)
    history[1] = dict(history[1], criterion_met=True)
    assert list(stall_reasons(history, (1, 2), RULE)) == [1]  # seed index 1 (seed 2)


def test_a_run_that_never_decides_is_stopped_as_stalled_and_resumes_under_another_patience(tmp_path):
    """pyrl's initial policy breaks fixation at once (P(decision) = 0); with a learning rate of
    1e-9 it stays so: the seed stops after 10 silent validations, not at the budget."""
    out = tmp_path / "run"
    args = ["train", "rdm-fixed", "--N", "16", "--lr", "1e-9", "--baseline-lr", "1e-9", "--checkfreq", "1",
            "--n-validation", "20", "--max-updates", "40", "-q", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "stalled after 10 updates: never decides" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds_stalled"] == 1
    seed = summary["seeds"][0]
    assert seed["status"] == "stalled" and seed["updates"] == 10 and seed["stall_reason"].startswith(SILENT)
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["status"])[-1] == "stalled" and (metrics["status"] == "stalled").sum() == 1
    assert metrics["score"].notna().all()
    from rewardrnn.tasks.registry import get_task
    expected = get_task("rdm-fixed").criterion.gap({k: metrics[k].to_numpy() for k in ("p_decision", "p_correct")})
    assert metrics["criterion_gap"].to_numpy() == pytest.approx(expected) and (expected > 0.9).all()  # silent: P(decision) 0
    result = runner.invoke(app, args[:-3] + ["--resume", "--patience", "0", "--max-updates", "12", "-q",
                                             "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"][0]["status"] == "budget spent" and summary["seeds"][0]["updates"] == 12


@pytest.mark.parametrize("value", ["-1", "x"])
def test_a_bad_patience_is_refused_in_one_line(tmp_path, value):
    result = runner.invoke(app, ["train", "rdm-fixed", "--patience", value, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "patience" in result.output


def test_a_stalled_seed_restarts_afresh_and_its_trials_count_from_the_first_attempt(tmp_path):
    """--restart-stalled 1: the seed that never decides starts again from a new initialisation
    after 10 silent validations, stalls again after 10 more, and the summary counts 20 updates
    and 1 restart; a resumed run reads the attempts back from the history."""
    import numpy as np

    from rewardrnn.api import load_run

    out = tmp_path / "run"
    args = ["train", "rdm-fixed", "--N", "16", "--lr", "1e-9", "--baseline-lr", "1e-9", "--checkfreq", "1",
            "--n-validation", "20", "--restart-stalled", "1", "-q", "--out", str(out)]
    result = runner.invoke(app, args + ["--max-updates", "15"])
    assert result.exit_code == 0, result.output
    metrics = pd.read_csv(out / "metrics.csv")
    restart = metrics[metrics["status"] == "restarted"]
    assert list(restart["updates"]) == [10] and list(metrics["attempt"])[-1] == 1
    assert metrics["updates"].is_monotonic_increasing
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"][0]["status"] == "budget spent" and summary["seeds"][0]["updates"] == 15
    assert summary["restarts"] == 1 and summary["seeds"][0]["restarts"] == 1
    restarted_policy = np.asarray(load_run(out).learner_state(1).policy["W_in"])  # attempt 1, 5 updates of 1e-9
    result = runner.invoke(app, args + ["--max-updates", "40", "--resume"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    seed = summary["seeds"][0]
    assert seed["status"] == "stalled" and seed["updates"] == 20 and seed["restarts"] == 1
    assert "(1 restart" not in result.output and "stalled after 20 updates" in result.output
    fresh = runner.invoke(app, args[:-3] + ["--restart-stalled", "0", "--max-updates", "1", "-q",
                                            "--out", str(tmp_path / "fresh")])
    assert fresh.exit_code == 0, fresh.output
    attempt0_policy = np.asarray(load_run(tmp_path / "fresh").learner_state(1).policy["W_in"])
    assert not np.allclose(restarted_policy, attempt0_policy)  # a new initialisation, not the old one
