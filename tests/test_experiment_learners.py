"""``rewardrnn experiment learners`` on a tiny budget: every cell a normal run folder on one trial
grid, the table against the folders, the dynamics of the networks at criterion against the
single-run verbs' files, the page, ``report DIR``, resumption, and the refusals."""

import hashlib
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app
from rewardrnn.errors import ConfigError
from rewardrnn.experiments.learners import LearnersExperiment
from rewardrnn.training.config import TrainConfig

runner = CliRunner()


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_tiny_experiment_trains_compares_dynamics_and_resumes(tmp_path):
    out = tmp_path / "exp"
    # seeds 3 and 4 of the supervised learner reach rdm-fixed's criterion at the first validation
    # (1,000 trials); the actor-critic and Miconi's rule do not within that budget
    args = ["experiment", "learners", "--tasks", "rdm-fixed", "--seed", "3", "--seeds", "2", "--trials", "1000",
            "--candidates", "64", "--record-trials", "3", "-q", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    results = pd.read_csv(out / "results.csv").set_index("cell")
    assert list(results.index) == ["actor-critic", "supervised", "perturbation"]
    assert results.loc["supervised", "reached"] == 2 and results.loc["supervised", "median_trials"] == 1000
    assert results.loc["actor-critic", "reached"] == 0 and results.loc["perturbation", "reached"] == 0
    for learner in results.index:  # every cell a normal run folder, on the same budget
        summary = json.loads((out / "rdm-fixed" / learner / "summary.json").read_text())
        assert summary["learner"] == learner and [s["seed"] for s in summary["seeds"]] == [3, 4]
        metrics = pd.read_csv(out / "rdm-fixed" / learner / "metrics.csv")
        assert sorted(set(metrics["trials"]) - {0}) == [500, 1000]  # validated at the same trials
    # dynamics: one row per network at criterion, read from that run's own fixed-point file
    networks = pd.read_csv(out / "dynamics.csv")
    assert list(zip(networks["learner"], networks["seed"])) == [("supervised", 3), ("supervised", 4)]
    saved = json.loads((out / "rdm-fixed" / "supervised" / "analysis" / "seed3" / "fixedpoints.json").read_text())
    recorded = json.loads((out / "rdm-fixed" / "supervised" / "records" / "seed3" / "identity.json").read_text())
    assert recorded["trials_per_condition"] == 3 and saved["candidates"] == 64
    first = networks.iloc[0]
    assert (first["n_fixed"], first["n_slow"]) == (saved["tiers"]["fixed"], saved["tiers"]["slow"])
    assert first["points"] == first["n_fixed"] + first["n_slow"]
    shares = first[["share_stable", "share_marginal", "share_saddle", "share_unstable"]].sum()
    assert shares == pytest.approx(1.0) and 1.0 <= first["participation_ratio"] <= 128
    conditions = pd.read_csv(out / "fixedpoints.csv")
    assert set(conditions["condition"]) == set(saved["conditions"])
    assert conditions[conditions["seed"] == 3]["n_slow"].sum() == saved["tiers"]["slow"]
    similarity = pd.read_csv(out / "similarity.csv")
    assert len(similarity) == 1 and similarity["distance"].iloc[0] > 0  # the one pair: seeds 3 and 4
    spectra = pd.read_csv(out / "spectra.csv")
    assert spectra.groupby("seed").size().tolist() == [10, 10]
    page = (out / "report.html").read_text()
    assert "Learning rules on equal terms" in page and "Dynamical similarity" in page
    assert page.count("<img") == 5  # curves, trials to criterion, dynamics, spectra, similarity
    # again: the finished cells are kept (checkpoints untouched)
    stamps = {learner: digest(out / "rdm-fixed" / learner / "checkpoint.npz") for learner in results.index}
    assert runner.invoke(app, args).exit_code == 0
    assert {learner: digest(out / "rdm-fixed" / learner / "checkpoint.npz") for learner in results.index} == stamps
    # report DIR rebuilds the page from the cells, training nothing
    (out / "report.html").unlink()
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert "Learning rules on equal terms" in (out / "report.html").read_text()
    assert digest(out / "rdm-fixed" / "supervised" / "checkpoint.npz") == stamps["supervised"]
    # another budget into the same folder: refused, nothing replaced
    result = runner.invoke(app, args[:-3] + ["--trials", "1500", "-q", "-o", str(out)])
    assert result.exit_code == 2 and "holds a run with other options" in result.output
    assert digest(out / "rdm-fixed" / "supervised" / "checkpoint.npz") == stamps["supervised"]


def test_the_local_rule_on_the_rate_network_is_a_cell_of_its_own(tmp_path):
    from rewardrnn.training.run_folder import RunFolder

    out = tmp_path / "exp"
    result = runner.invoke(app, ["experiment", "learners", "--tasks", "dnms-choice", "--learners", "local-rate",
                                 "--seeds", "1", "--trials", "200", "--no-dynamics", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    row = pd.read_csv(out / "results.csv").iloc[0]
    assert (row["cell"], row["learner"], row["seeds"]) == ("local-rate", "local", 1)
    cell = out / "dnms-choice" / "local-rate"
    assert RunFolder(cell).kind.name == "local/rate"
    metrics = pd.read_csv(cell / "metrics.csv")
    assert list(metrics["trials"]) == [0, 200] and metrics["bptt_cosine"].notna().iloc[-1]  # alignment tracked


def test_every_learner_gets_the_same_budget_on_one_validation_grid():
    experiment = LearnersExperiment(tasks=("mante", "dnms"), seeds=3, trials=5000)
    assert experiment.tasks == ("mante", "dnms-choice")
    for task, learner, config in experiment.cells():
        plan = TrainConfig(task=task).resolved()
        period = plan.n_gradient * plan.checkfreq  # mante: 72 x 50 = 3,600; dnms-choice: 4 x 50 = 200
        budget = experiment.budget(task)
        assert budget == {"mante": 7200, "dnms-choice": 5000}[task] and budget % period == 0
        resolved = config.resolved()
        assert (resolved.n_seeds, resolved.seed, resolved.patience) == (3, 1, 0)
        if learner in ("perturbation", "local-rate"):  # trained in trials, validated every period
            assert (resolved.n_trials, resolved.chunk_trials) == (budget, period)
        else:
            assert resolved.max_updates * resolved.n_gradient == budget and resolved.checkfreq == plan.checkfreq
    assert [learner for _, learner, _ in experiment.cells()][:3] == ["actor-critic", "supervised", "perturbation"]


@pytest.mark.parametrize("options,message", [
    ({"learners": ("actor-critic", "sarsa")}, "'sarsa' is not a learner"),
    ({"tasks": ("dnms-choice", "ngym:PerceptualDecisionMaking-v0")}, "is not one of the tasks every learner trains"),
    ({"learners": ("supervised", "supervised")}, "each name once"),
    ({"seeds": 0}, "--seeds must be an integer >= 1"),
    ({"trials": 2.5}, "--trials must be an integer"),
    ({"candidates": True}, "--candidates must be an integer"),
    ({"dynamics": "yes"}, "dynamics must be true or false"),
    ({"record_trials": 0}, "--record-trials must be an integer >= 1"),
])
def test_bad_options_are_refused_by_name(options, message):
    with pytest.raises(ConfigError, match=message):
        LearnersExperiment(**options)


def test_cli_refusals_are_one_line_and_write_nothing(tmp_path):
    result = runner.invoke(app, ["experiment", "learners", "--learners", "sarsa", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1 and "sarsa" in result.output
    assert not (tmp_path / "x").exists()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    result = runner.invoke(app, ["experiment", "learners", "--tasks", "romo", "--no-dynamics", "-q",
                                 "-o", str(tmp_path / "run")])
    assert result.exit_code == 2 and "holds a run" in result.output
    assert (tmp_path / "run" / "config.json").read_text() == "{}"
