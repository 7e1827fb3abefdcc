"""``rewardrnn experiment baselines`` end to end on a tiny budget, its tables against the run
folders it wrote, resumption, and its refusals."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app
from rewardrnn.errors import ConfigError
from rewardrnn.experiments.baselines import BaselinesExperiment, summarise

runner = CliRunner()


def test_tiny_experiment_runs_end_to_end_and_resumes(tmp_path):
    out = tmp_path / "exp"
    args = ["experiment", "baselines", "--seeds", "2", "--trials", "100", "-q", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    results = pd.read_csv(out / "results.csv")
    assert list(results["cell"]) == ["trial-type", "running", "value", "none", "actor-critic"]
    assert list(results["trained_on"]) == ["dnms"] * 4 + ["dnms-choice"]
    seeds = pd.read_csv(out / "seeds.csv")
    assert len(seeds) == 10 and set(seeds["seed"]) == {1, 2}
    for cell in results["cell"]:  # every cell is a normal run folder
        config = json.loads((out / "dnms" / cell / "config.json").read_text())
        if cell != "actor-critic":
            assert config["reward_baseline"] == cell and config["n_trials"] == 100
        summary = json.loads((out / "dnms" / cell / "summary.json").read_text())
        assert [s["seed"] for s in summary["seeds"]] == [1, 2]
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "seeds at criterion" in page
    assert (out / "dnms_learning_curves.svg").is_file()
    # a second call keeps the finished cells (no retraining: their checkpoints are untouched)
    stamp = (out / "dnms" / "value" / "checkpoint.npz").stat().st_mtime_ns
    assert runner.invoke(app, args).exit_code == 0
    assert (out / "dnms" / "value" / "checkpoint.npz").stat().st_mtime_ns == stamp
    # other value-network options into the same folder: refused, nothing replaced
    result = runner.invoke(app, args + ["--value-input", "stimuli"])
    assert result.exit_code == 2 and "holds a run with other options" in result.output
    assert (out / "dnms" / "value" / "checkpoint.npz").stat().st_mtime_ns == stamp


def test_summary_of_planted_seed_rows():
    seeds = pd.DataFrame({"task": ["dnms"] * 5, "cell": ["value"] * 4 + ["none"], "learner": ["perturbation"] * 5,
                          "trained_on": ["dnms"] * 5, "seed": [1, 2, 3, 4, 1],
                          "reached": [True, True, True, False, False],
                          "trials_to_criterion": [800, 1000, 1200, None, None], "status": [""] * 5,
                          "wall_s": [10.0] * 5})
    table = summarise(seeds).set_index("cell")
    assert (table.loc["value", "reached"], table.loc["value", "fraction_reached"]) == (3, 0.75)
    assert (table.loc["value", "q25_trials"], table.loc["value", "median_trials"],
            table.loc["value", "q75_trials"]) == (900, 1000, 1100)
    assert table.loc["none", "reached"] == 0 and pd.isna(table.loc["none", "median_trials"])


@pytest.mark.parametrize("args,message", [
    (["--tasks", "dnms,rdm-fixd"], "'rdm-fixd' is not a task"),
    (["--baselines", "trial-type,oracle"], "is not a baseline of perturbation"),
    (["--seeds", "0"], "--seeds must be"),
    (["--trials", "10"], "--trials must be"),
    (["--value-input", "eyes"], "value_input must be one of"),
    (["--baselines", "trial-type", "--value-input", "stimuli"], "add value to --baselines"),
    (["--learner", "actor-critic", "--tasks", "dnms"], "is not one of Song's tasks"),
    (["--learner", "actor-critic", "--tasks", "rdm-fixed", "--baselines", "trial-type"],
     "is not a baseline of actor-critic"),
    (["--tasks", "dnms", "--max-updates", "10"], "apply to --learner actor-critic"),
    (["--learner", "value-iteration"], "--learner must be one of"),
])
def test_bad_experiment_options_exit_2_with_one_line(tmp_path, args, message):
    result = runner.invoke(app, ["experiment", "baselines", "-o", str(tmp_path / "x"), *args])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_an_experiment_needs_a_baseline():
    with pytest.raises(ConfigError, match="at least one task and one baseline"):
        BaselinesExperiment(baselines=())


def test_a_song_task_gets_the_rate_network_acting_and_the_actor_critic_on_the_task_itself():
    from rewardrnn.experiments.baselines import BaselinesExperiment
    from rewardrnn.training.kinds import kind_of

    cells = BaselinesExperiment(tasks=("rdm-fixed",), baselines=("trial-type", "value"), seeds=2,
                                trials=1000).cells()
    assert [(task, name, kind_of(config).name) for task, name, config in cells] == [
        ("rdm-fixed", "trial-type", "perturbation/native"), ("rdm-fixed", "value", "perturbation/native"),
        ("rdm-fixed", "actor-critic", "actor-critic")]
    assert all(config.patience == 0 for _, _, config in cells)  # fixed budgets: no stall stop
    assert cells[0][2].chunk_trials == 500 and cells[2][2].max_updates == 100  # 10 trials per update


def test_an_interrupted_experiment_says_how_to_continue(tmp_path, monkeypatch):
    """Ctrl-C / SIGTERM in an experiment: exit 130, and the message names how to continue (the
    same command: an experiment has no --resume; its cells resume on their own)."""
    from rewardrnn.experiments import baselines

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(baselines, "run", interrupted)
    result = runner.invoke(app, ["experiment", "baselines", "-q", "-o", str(tmp_path / "exp")])
    assert result.exit_code == 130
    assert "continue with the same command (without --overwrite)" in result.output
    assert "nothing to resume" not in result.output


@pytest.mark.slow
def test_the_actor_critic_experiment_runs_every_baseline_and_the_lesion(tmp_path):
    out = tmp_path / "ac"
    result = runner.invoke(app, ["experiment", "baselines", "--learner", "actor-critic", "--tasks", "rdm-fixed",
                                 "--baselines", "gru,none", "--seeds", "2", "--max-updates", "50",
                                 "--lesion-value-at", "25", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    results = pd.read_csv(out / "results.csv")
    assert list(results["cell"]) == ["gru", "none", "gru-lesion@25"]
    assert (results["seeds"] == 2).all()
    lesion = pd.read_csv(out / "lesion.csv")
    assert len(lesion) == 2 and (lesion["lesion_at_update"] == 25).all() and (lesion["updates_end"] == 50).all()
    config = json.loads((out / "rdm-fixed" / "none" / "config.json").read_text())
    assert config["baseline"] == "none"
    assert (out / "rdm-fixed_learning_curves.png").stat().st_size > 1000
