"""End to end: rdm-fixed trained to the paper's criterion from the CLI, then evaluated and plotted;
bad input through the CLI."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app
import chromium

runner = CliRunner()


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "rdm"
    # seed 2 reaches the criterion in 5,000 trials with the test environment's packages (seed 1: 12,000)
    result = runner.invoke(app, ["train", "rdm-fixed", "--seed", "2", "--out", str(out), "--max-updates", "1500"])
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.mark.slow
def test_rdm_fixed_reaches_the_paper_criterion(trained_run):
    out, output = trained_run
    summary = json.loads((out / "summary.json").read_text())
    seed = summary["seeds"][0]
    assert seed["reached_criterion"], output
    assert seed["trials_to_criterion"] <= 15_000
    metrics = pd.read_csv(out / "metrics.csv")
    last = metrics.iloc[-1]
    assert last["p_decision"] >= 0.99 and last["p_correct"] >= 0.80 and bool(last["criterion_met"])
    assert metrics["trials"].iloc[-1] == seed["trials_to_criterion"]
    assert "criterion after" in output


@pytest.mark.slow
def test_evaluate_and_plot(trained_run):
    out, _ = trained_run
    result = runner.invoke(app, ["evaluate", str(out), "-n", "100"])
    assert result.exit_code == 0, result.output
    assert "coherence" in result.output and "51.200" in result.output
    table = pd.read_csv(out / "evaluation" / "trials_seed2.csv")
    assert len(table) == 1000
    assert set(table.columns) >= {"direction", "coherence", "stimulus_ms", "decision", "choice", "correct",
                                  "choice_time_ms", "reward"}
    decided = table[table["decision"]]
    by_coh = decided.groupby("coherence")["correct"].mean()
    assert by_coh.loc[51.2] > 0.9 and by_coh.loc[51.2] > by_coh.loc[0.0]  # accuracy grows with coherence
    result = runner.invoke(app, ["plot", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("learning_curve.png", "learning_curve.svg", "psychometric_seed2.png"):
        assert (out / "figures" / name).stat().st_size > 1000
    fit = json.loads((out / "figures" / "psychometric_seed2.json").read_text())
    # a sensitive observer whose bias is smaller than its psychometric width (fitted on 100 trials
    # per condition, so the bias of a network at the 80 % criterion is measured to a few % coherence)
    assert abs(fit["mu"]) < fit["sigma"] and 3 < fit["sigma"] < 40, fit


@pytest.mark.slow
def test_evaluate_at_another_dt(trained_run):
    out, _ = trained_run
    result = runner.invoke(app, ["evaluate", str(out), "-n", "20", "--dt", "20"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "evaluation" / "summary_seed2_dt20.json").read_text())["dt_ms"] == 20.0
    assert (out / "evaluation" / "trials_seed2_dt20.csv").is_file()  # the default evaluation is kept


def test_tasks_lists_one_line_each():
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    assert names == ["rdm-fixed", "rdm-rt", "wager", "mante", "multisensory", "romo", "economic", "dnms-choice",
                     "dnms", "dnms-long-delay", "dnms-variable-delay", "selective-integration", "dnms-ei", "bandit",
                     "reversal", "two-step", "ngym:<id>", "my_env.py:NAME"]
    learners = {line.split()[0]: line.split("[learners: ")[1].split(";")[0] for line in result.output.splitlines()}
    assert learners["rdm-fixed"] == learners["dnms-choice"] == "actor-critic + perturbation + supervised + local"
    assert learners["ngym:<id>"] == "actor-critic + supervised (its gt) + local"
    assert learners["my_env.py:NAME"] == "actor-critic + supervised (a TrialEnv's gt) + local"
    assert learners["dnms"] == learners["dnms-ei"] == "perturbation + supervised"
    assert learners["bandit"] == learners["two-step"] == "actor-critic"


def test_task_and_network_options_reach_the_saved_config(tmp_path):
    out = tmp_path / "eco"
    result = runner.invoke(app, ["train", "economic", "--juice-ratio", "4.1", "--dale", "--baseline", "linear",
                                 "--max-updates", "1", "--checkfreq", "1", "--n-validation", "18", "-q",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["task_options"] == {"juice_ratio": 4.1}
    assert (config["dale"], config["baseline"], config["N"]) == (True, "linear", None)  # None: the task's
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task_options"] == {"juice_ratio": 4.1}
    resolved = summary["resolved_config"]
    assert (resolved["N"], resolved["baseline_input_scale"], resolved["n_gradient"]) == (100, 10.0, 18)
    # resuming takes the saved options; a different juice ratio is refused
    result = runner.invoke(app, ["train", "economic", "--juice-ratio", "2.2", "--resume", "--out", str(out)])
    assert result.exit_code == 2 and "task_options" in result.output


@pytest.mark.parametrize("args,message", [
    (["train", "rdm-fxed"], "unknown task 'rdm-fxed'; known tasks: dnms-choice, economic, mante, multisensory, rdm-fixed"),
    (["train", "rdm-fixed", "--juice-ratio", "3"], "task 'rdm-fixed' has no option(s) ['juice_ratio']"),
    (["train", "economic", "--juice-ratio", "-1"], "juice_ratio must be a positive number"),
    (["train", "rdm-fixed", "--baseline", "lstm"], "baseline must be one of gru, linear"),
    (["train", "rdm-fixed", "--dt", "-5"], "dt"),
    (["train", "rdm-fixed", "--dt", "90"], "shortest rdm-fixed epoch"),
    (["train", "rdm-fixed", "--N", "0"], "N must be an integer >= 1"),
    (["train", "rdm-fixed", "--lr", "0"], "lr must be a positive number"),
    (["train", "rdm-fixed", "--t0-return", "zero"], "--t0-return must be one of pyrl, paper"),
    (["train", "rdm-fixed", "--no-such-option"], "No such option"),
    (["evaluate", "/nonexistent/run"], "not a run folder"),
])
def test_bad_input_exits_2_with_a_message(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_existing_run_folder_is_not_reused(tmp_path):
    args = ["train", "rdm-fixed", "--out", str(tmp_path), "--max-updates", "1", "--N", "10", "-q"]
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "already holds a run" in result.output
    result = runner.invoke(app, args[:-1] + ["--seed", "2", "--resume"])
    assert result.exit_code == 2 and "seed: saved 1 vs given 2" in result.output
    # resuming with no options takes the saved ones (only the task is repeated)
    result = runner.invoke(app, ["train", "rdm-fixed", "--out", str(tmp_path), "--resume", "--max-updates", "2", "-q"])
    assert result.exit_code == 0, result.output


def test_sigterm_stops_like_ctrl_c_and_the_run_resumes(tmp_path):
    """A batch scheduler's SIGTERM keeps the last checkpoint; --resume continues from it."""
    import os
    import signal
    import subprocess
    import sys

    from waiting import LIMIT_S, rows, wait_for

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "rewardrnn.cli", "train", "rdm-fixed", "--checkfreq", "2", "--n-validation", "50",
           "--N", "20", "--patience", "0", "-q", "--out", str(out)]  # no stall stop: it runs until the signal
    env = dict(os.environ, REWARDRNN_COMPILATION_CACHE="0")
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    # the event: two validations saved (the checkpoint is written with each row), however long it takes
    wait_for(lambda: rows(out / "metrics.csv") >= 2 and (out / "checkpoint.npz").is_file(),
             "two validation rows in metrics.csv", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=LIMIT_S)
    assert proc.returncode == 130, err
    assert "continue with --resume" in err
    done = len(pd.read_csv(out / "metrics.csv"))
    assert done >= 2 and (out / "checkpoint.npz").is_file()
    resumed = subprocess.run(cmd[:-2] + ["--resume", "--max-updates", str(2 * (done + 1)), "--out", str(out)],
                             env=env, capture_output=True, text=True, timeout=LIMIT_S)
    assert resumed.returncode == 0, resumed.stderr
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics["updates"].iloc[-1] >= 2 * (done + 1) - 2 and metrics["updates"].is_monotonic_increasing


@pytest.mark.slow
def test_record_analyze_and_report_of_a_trained_network(trained_run):
    """The activity dataset is consistent with the behaviour table, the analyses of rdm-fixed run
    and give the paper's qualitative results, the report opens in headless Chromium."""
    import numpy as np

    from rewardrnn.records.activity import open_activity

    out, _ = trained_run
    result = runner.invoke(app, ["record", str(out), "-n", "20"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "records" / "seed2" / "trials.csv")
    ds = open_activity(out / "records" / "seed2" / "activity.nc")
    assert len(table) == ds.sizes["trial"] == 200 and ds.sizes["unit"] == 100 and ds.sizes["value_unit"] == 100
    assert np.allclose(ds["coherence"].values, table["coherence"].values)
    assert list(ds["time"].values[:3]) == [0.0, 10.0, 20.0] and ds["time"].attrs["units"] == "ms"
    valid = ds["valid"].values
    assert (valid.sum(1) == table["choice_time_ms"].to_numpy() / 10 + 1).all()  # executed steps only
    rates = ds["rates"].values
    assert np.isnan(rates[~valid]).all() and (rates[valid] >= 0).all()
    assert np.allclose(ds["action_prob"].values[valid].sum(-1), 1.0, atol=1e-5)
    assert (ds["inputs"].values[:, 0] == 0).all()  # no input before the first step
    assert (ds["action_taken"].values[~valid] == -1).all()
    tidy = ds["rates"].isel(unit=[0, 1]).to_dataframe().dropna()  # docs/interop.md's recipe
    assert len(tidy) == 2 * valid.sum() and {"coherence", "choice"} <= set(tidy.columns)
    ds.close()

    result = runner.invoke(app, ["analyze", str(out), "--behaviour-trials", "300"])
    assert result.exit_code == 0, result.output
    analysis = out / "analysis" / "seed2"
    numbers = json.loads((analysis / "numbers.json").read_text())["numbers"]
    for name in ("psychometric", "accuracy_vs_duration", "psth_stimulus", "psth_choice", "value_output"):
        assert (analysis / f"{name}.png").stat().st_size > 5000 and (analysis / f"{name}.svg").is_file()
    assert abs(numbers["psychometric"]["mu"]) < 5 and 3 < numbers["psychometric"]["sigma"] < 40
    accuracy = numbers["accuracy_vs_duration"]["p"]
    assert accuracy[-1] > accuracy[0]  # longer stimuli, better choices (Fig. 1)
    value = numbers["value_output_late"]  # the expected return grows with coherence (Fig. 1)
    late = {(row["coherence"], row["choice"]): row["value"] for row in value}
    assert late[(51.2, "CHOOSE-RIGHT")] > late[(0.0, "CHOOSE-RIGHT")]
    assert numbers["choice_selectivity"]["units_abs_dprime_above_1"] >= 1

    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 8 and "src='http" not in page and "<script" not in page
    assert "7,000" in page and "psychometric" in page
    # the key numbers are named and rounded, with the paper's beside them, and every figure has a caption
    assert "<td>performance · P(decision)</td>" in page and '{"p_decision"' not in page
    assert "pyrl&#x27;s stop criterion" in page and "Psychometric curve: the proportion" in page
    assert page.count("<figcaption><b>") >= 8
    chromium.screenshot(out / "report.html", out / "report.png")
    widths = chromium.check_readable(out / "report.html")  # every figure readable at 1,200 px
    assert {"learning curve", "psychometric"} <= set(widths)


