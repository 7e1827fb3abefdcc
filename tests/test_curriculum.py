"""Curricula (``[[curriculum]]`` stages, rewardrnn.training.curriculum): seeds move through their
stages at each stage's criterion or budget, train each stage's variant, resume mid-curriculum
bit for bit, and bad stages are refused in one line."""

import dataclasses
import json
import tomllib

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app
from rewardrnn.errors import ConfigError
from rewardrnn.training import TrainConfig, train
from rewardrnn.training.curriculum import trials_per_stage
from rewardrnn.training.perturbation_config import PerturbationTrainConfig
from rewardrnn.training.run_folder import RunFolder
from rewardrnn.training.stalls import current_stage

TINY = dict(N=16, baseline_N=16, p0=0.25, n_validation=50, checkfreq=5, n_gradient=2)
#: Met by every network, even the untrained one: stage 1 ends at the validation of update 0.
MET_AT_ONCE = {"criterion.min_p_decision": 0.0, "criterion.min_p_correct": 0.0}
#: Never met in a few updates: stage 2 ends when its budget (10 trials = 5 updates) is spent.
NEVER_MET = {"conditions.coherence": [51.2], "criterion.min_p_decision": 1.0, "criterion.min_p_correct": 1.0}
STAGES = [{"set": MET_AT_ONCE}, {"set": NEVER_MET, "trials": 10}, {"set": {}}]


def leaves(tree):
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


def test_stages_end_at_their_criterion_or_budget_and_train_their_variant(tmp_path):
    config = TrainConfig(max_updates=15, curriculum=STAGES, **TINY)
    states = {}
    result = train(config, tmp_path / "c", progress=False,
                   on_validation=lambda state, history: states.setdefault(history[-1]["updates"], state))
    rows = json.loads((tmp_path / "c" / "summary.json").read_text())["seeds"]
    assert rows[0]["stage"] == 3 and rows[0]["trials_per_stage"] == [0, 10, 20]
    history = (tmp_path / "c" / "metrics.csv").read_text().splitlines()
    header = history[0].split(",")
    table = [dict(zip(header, line.split(","))) for line in history[1:]]
    assert [(r["updates"], r["stage"], r["stage_done"]) for r in table] == [
        ("0", "1", "True"), ("5", "2", "True"), ("10", "3", "False"), ("15", "3", "False")]
    assert float(table[1]["criterion_gap"]) > 0  # stage 2 judged by its own (unmet) criterion
    # updates 1-5 trained stage 2's variant: the same parameters as a run of that variant alone
    alone = train(dataclasses.replace(config, curriculum=[], task_settings=NEVER_MET, max_updates=5),
                  tmp_path / "alone", progress=False)
    for a, b in zip(leaves(states[5].learner), leaves(alone.state.learner)):
        np.testing.assert_array_equal(a, b)
    assert result.summary["seeds"][0]["status"] in ("budget spent", "reached criterion")
    saved = RunFolder(tmp_path / "c").state  # what every verb reads: the folder's template has the stages
    assert np.asarray(saved.stage_end).tolist() == [[0, 5]]
    for a, b in zip(leaves(saved.best), leaves(result.state.best)):
        np.testing.assert_array_equal(a, b)

    # interrupted in stage 2 -> 3, resumed: the same run, bit for bit
    def stop_at_five(state, history):
        if history[-1]["updates"] == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "r", progress=False, on_validation=stop_at_five)
    resumed = train(config, tmp_path / "r", resume=True, progress=False)
    for a, b in zip(leaves(result.state), leaves(resumed.state)):
        np.testing.assert_array_equal(a, b)
    assert resumed.summary["seeds"][0]["trials_per_stage"] == [0, 10, 20]


def test_every_protocol_learner_takes_a_curriculum(tmp_path):
    """The perturbation rule acting in a native task moves through its stages as well."""
    config = PerturbationTrainConfig(task="rdm-fixed", n_units=16, n_trials=20, chunk_trials=10, n_validation=20,
                                     curriculum=[{"set": MET_AT_ONCE}, {"set": {}}])
    summary = train(config, tmp_path / "p", progress=False).summary
    assert summary["seeds"][0]["stage"] == 2 and summary["seeds"][0]["trials_per_stage"] == [0, 20]


@pytest.mark.parametrize("stages, message", [
    ([{"set": {}}], "at least two stages"),
    ([{"set": MET_AT_ONCE}, {"set": MET_AT_ONCE}], "must be the task itself"),
    ([{"set": MET_AT_ONCE}, {"set": {}, "trials": 5}], "must be the task itself"),
    ([{"set": MET_AT_ONCE, "budget": 5}, {"set": {}}], r"stage 1: unknown key\(s\) \['budget'\]"),
    ([{"set": MET_AT_ONCE, "trials": 0}, {"set": {}}], "stage 1: trials must be an integer >= 1"),
    ([{"set": {"conditions.colour": [1]}}, {"set": {}}], "stage 1: unknown task setting 'conditions.colour'"),
    ([{"set": [1]}, {"set": {}}], "stage 1: set must be a table"),
    ("easy", "curriculum must be a list of stages"),
])
def test_bad_stages_are_refused_by_stage_and_key(stages, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(curriculum=stages, **TINY)


def test_stages_that_change_the_learners_state_and_tasks_without_variants_are_refused(tmp_path):
    per_condition = TrainConfig(baseline="running", baseline_per_condition=True, max_updates=5,
                                curriculum=[{"set": {"conditions.coherence": [51.2]}}, {"set": {}}], **TINY)
    with pytest.raises(ConfigError, match="stage 1 changes the learner's state"):
        train(per_condition, tmp_path / "pc", progress=False)
    assert not (tmp_path / "pc").exists()
    with pytest.raises(ConfigError, match="Miconi's"):
        PerturbationTrainConfig(task="dnms", curriculum=[{"set": {}}, {"set": {}}])
    run_file = tmp_path / "ngym.toml"
    run_file.write_text('task = "ngym:PerceptualDecisionMaking-v0"\n[[curriculum]]\nset = {}\n[[curriculum]]\nset = {}\n')
    result = CliRunner().invoke(app, ["train", "--config", str(run_file), "-o", str(tmp_path / "n"), "-q"])
    assert result.exit_code == 2
    assert "[[curriculum]] stages are task variants" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_run_file_curriculum_round_trips_through_config(tmp_path):
    from rewardrnn.training import run_files

    config = TrainConfig(curriculum=STAGES, **TINY)
    text = run_files.to_toml(config)
    back = tomllib.loads(text)
    assert TrainConfig(**back).curriculum == config.curriculum


def test_stall_rows_and_trials_per_stage_by_hand():
    rows = [{"stage": 1}, {"stage": 1, "stage_done": True}, {"stage": 2}, {"stage": 2}]
    assert current_stage(rows) == rows[2:]
    assert current_stage(rows[:2]) == rows[:2]
    assert current_stage([{"score": 1.0}]) == [{"score": 1.0}]  # no curriculum: every row
    assert trials_per_stage(np.array([0, 5, -1]), 12, 0, 2) == [0, 10, 14]
    assert trials_per_stage(np.array([3, -1, -1]), 7, 0, 10) == [30, 40, 0]
    assert trials_per_stage(np.array([-1, -1]), 9, 4, 1) == [5, 0]  # after a restart at update 4
