"""A user's own task, defined in a file outside the package (the tutorial of docs/tasks.md,
``examples/tasks/pro_anti.py``): it trains to its criterion, goes through every verb, resumes,
trains from the Python API as an object, is a Gymnasium env, and a run whose file is gone or
changed is refused in one line."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import rewardrnn
from rewardrnn.cli import app
from rewardrnn.errors import ConfigError
from rewardrnn.tasks import files

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "examples" / "tasks" / "pro_anti.py"


def test_the_tutorial_code_is_the_file_that_is_tested():
    """docs/tasks.md shows examples/tasks/pro_anti.py verbatim, so the tutorial's code is what runs here."""
    doc = (ROOT / "docs" / "tasks.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert TUTORIAL.read_text() in blocks


@pytest.fixture(scope="module")
def task_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lab")
    path = folder / "pro_anti.py"
    shutil.copy(TUTORIAL, path)
    return path


@pytest.fixture(scope="module")
def trained(task_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "pro_anti"
    result = runner.invoke(app, ["train", f"{task_file}:PRO_ANTI", "--seed", "1", "--max-updates", "1500",
                                 "--patience", "0", "-q", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_the_tutorial_task_trains_to_its_criterion(trained, task_file):
    summary = json.loads((trained / "summary.json").read_text())
    seed = summary["seeds"][0]
    assert seed["reached_criterion"], seed
    assert summary["task"] == f"{task_file.resolve()}:PRO_ANTI"
    identity = json.loads((trained / "config.json").read_text())["_run"]
    assert identity["task_source"]["path"] == str(task_file.resolve())
    assert (trained / files.SOURCE_COPY).read_bytes() == task_file.read_bytes()


@pytest.mark.parametrize("verb,args,written", [
    ("evaluate", ["-n", "20"], "evaluation/trials_seed1.csv"),
    ("plot", [], "figures/psychometric_seed1.png"),
    ("record", ["-n", "10"], "records/seed1/activity.nc"),
    ("analyze", ["--behaviour-trials", "50"], "analysis/seed1/numbers.json"),
    ("fixedpoints", ["--candidates", "64", "--max-steps", "50"], "analysis/seed1/fixedpoints.nc"),
    ("report", [], "report.html"),
    ("export", [], "export/weights_seed1.npz"),
    ("config", [], None),
])
def test_every_verb_works_on_the_tutorial_task(trained, verb, args, written):
    if verb == "fixedpoints":  # reads the records of the seed
        assert runner.invoke(app, ["record", str(trained), "-n", "10"]).exit_code == 0
    result = runner.invoke(app, [verb, str(trained)] + args)
    assert result.exit_code == 0, result.output
    if written is not None:
        assert (trained / written).stat().st_size > 0


def test_the_generic_analyses_fit_a_task_without_a_suite(trained):
    runner.invoke(app, ["analyze", str(trained), "--behaviour-trials", "50"])
    numbers = json.loads((trained / "analysis" / "seed1" / "numbers.json").read_text())
    assert numbers["numbers"]["performance"]["p_correct"] > 0.85
    assert {"psychometric", "choice_selectivity", "pca_explained_variance"} <= set(numbers["numbers"])
    assert {"psth_stimulus", "psth_choice", "psychometric"} <= set(numbers["figures"])


def test_a_run_whose_task_file_changed_or_went_is_refused(trained, task_file, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    original = task_file.read_bytes()
    try:
        task_file.write_bytes(original + b"\n# edited\n")
        for args in (["evaluate", str(run)], ["train", f"{task_file}:PRO_ANTI", "--out", str(run), "--resume"]):
            result = runner.invoke(app, args)
            assert result.exit_code == 2 and "has changed since the run was trained" in result.output, result.output
            assert len(result.output.strip().splitlines()) == 1
        task_file.unlink()
        result = runner.invoke(app, ["report", str(run)])
        assert result.exit_code == 2 and "is gone" in result.output and files.SOURCE_COPY in result.output
    finally:
        task_file.write_bytes(original)
    result = runner.invoke(app, ["evaluate", str(run), "-n", "2"])  # restored: readable again
    assert result.exit_code == 0, result.output


def test_a_longer_budget_resumes_a_task_from_a_file(task_file, tmp_path):
    out = tmp_path / "run"
    args = ["train", f"{task_file}:PRO_ANTI", "--N", "16", "--checkfreq", "1", "--n-validation", "20", "-q",
            "--out", str(out)]
    assert runner.invoke(app, args + ["--max-updates", "1"]).exit_code == 0
    result = runner.invoke(app, args + ["--max-updates", "2", "--resume"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["seeds"][0]["updates"] == 2


def test_the_python_api_trains_a_protocol_object(task_file, tmp_path):
    protocol = files.load(f"{task_file}:PRO_ANTI")
    result = rewardrnn.train(protocol, out=tmp_path / "api", N=16, max_updates=1, checkfreq=1, n_validation=20,
                             task_settings={"stimulus.duration": 250}, progress=False)
    assert result.config.task == f"{task_file.resolve()}:PRO_ANTI"
    assert result.config.protocol().epochs[1].duration.ms == 250
    loose = type(protocol)(**{**protocol.__dict__, "name": "not-in-a-file"})
    with pytest.raises(ConfigError, match="not held by a module-level name"):
        rewardrnn.train(loose, out=tmp_path / "loose")


def test_bad_task_files_are_refused_in_one_line(task_file, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import nothing_of_the_kind\n")
    clash = tmp_path / "clash.py"
    clash.write_text(task_file.read_text().replace('name="pro-anti"', 'name="rdm-fixed"'))
    for spec, message in ((f"{tmp_path}/none.py:T", "does not exist"),
                          (f"{task_file}:NOPE", "defines no 'NOPE'; its protocols and environments: PRO_ANTI"),
                          (f"{task_file}:mean_inputs", "is a function, not a rewardrnn Protocol"),
                          (f"{broken}:T", "failed to import: ModuleNotFoundError"),
                          (f"{clash}:PRO_ANTI", "the name of a built-in task")):
        result = runner.invoke(app, ["train", spec, "--out", str(tmp_path / "out")])
        assert result.exit_code == 2 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_any_protocol_is_a_gymnasium_env(task_file):
    from gymnasium.utils.env_checker import check_env

    from rewardrnn.envs import TaskGymEnv

    env = TaskGymEnv(f"{task_file}:PRO_ANTI", settings={"conditions.contrast": [1.0]})
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert info["trial"]["contrast"] == 1.0 and obs.shape == (5,)
    rewards = []
    while True:  # fixate through the trial: it ends at tmax with the terminal reward
        obs, reward, terminated, _, info = env.step(0)
        rewards.append(reward)
        if terminated:
            break
    assert len(rewards) == 101 and rewards[-1] == -1.0 and not any(np.array(rewards[:-1]))


def test_a_psychrnn_port_with_noise_in_every_epoch_and_a_variable_fixation_is_analysed(tmp_path):
    """PsychRNN's PerceptualDiscrimination as a task file: the first epoch varies and is noisy, so
    the analyses align on it; every epoch has its duration and onset columns (issue: analyze used to
    end in KeyError 'fixation_onset_ms')."""
    import pandas as pd

    task = Path(__file__).resolve().parents[1] / "examples" / "tasks" / "psychrnn_perceptual.py"
    run = tmp_path / "perceptual"
    result = runner.invoke(app, ["train", f"{task}:PERCEPTUAL", "--N", "16", "--max-updates", "2", "--checkfreq", "1",
                                 "--n-validation", "20", "-q", "--out", str(run)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["evaluate", str(run), "-n", "3"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(run / "evaluation" / "trials_seed1.csv")
    assert {"fixation_ms", "fixation_onset_ms", "stimulus_onset_ms", "decision_ms"} <= set(table.columns)
    assert table["fixation_ms"].nunique() > 1 and (table["fixation_onset_ms"] == 0).all()
    assert (table["stimulus_onset_ms"] == table["fixation_ms"]).all()
    # per condition of the grid: both variables are columns, then the rows pooled over the other
    header = next(line for line in result.output.splitlines() if "p_decision" in line).split()
    assert header[:2] == ["direction", "coherence"]
    assert sum(" all " in f" {line} " for line in result.output.splitlines()) == 2 + 4  # 2 directions + 4 coherences
    result = runner.invoke(app, ["analyze", str(run), "--behaviour-trials", "3"])
    assert result.exit_code == 0, result.output
    numbers = json.loads((run / "analysis" / "seed1" / "numbers.json").read_text())["numbers"]
    assert numbers["trials"]["activity"] > 0 and "performance" in numbers
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    import chromium

    assert "fixedpoints_pca" in chromium.check_readable(run / "report.html")
    # the alignment the suite uses here (the first noisy epoch: fixation, onset 0, variable length)
    from rewardrnn.analysis import neural
    from rewardrnn.records.activity import open_activity

    with open_activity(run / "records" / "seed1" / "activity.nc") as ds:
        aligned = neural.psth(ds, "rates", "fixation", (0, 300), ["coherence"])
    assert aligned.sizes["group"] == 4 and aligned.sizes["time"] == 31 and np.isfinite(aligned.values).any()
