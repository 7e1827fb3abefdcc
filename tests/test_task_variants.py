"""Task variants without code (``--set``, ``task_settings``) and run files (``--config``,
``rewardrnn config``): the settings change exactly the protocol fields they name, bad input is
refused in one line with exit 2 and nothing written, and a run file repeats a run exactly."""

import json
import math
import shutil

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app
from refusals import assert_refused
from rewardrnn.errors import ConfigError
from rewardrnn.tasks import TaskEnv, get_task
from rewardrnn.tasks.samplers import Fixed, TruncatedExponential, Uniform
from rewardrnn.tasks.variants import normalise, parse_assignment, parse_sampler, sampler_text, settable, vary
from rewardrnn.training import TrainConfig

runner = CliRunner()
TINY = ["--N", "16", "--max-updates", "2", "--checkfreq", "1", "--n-validation", "20", "-q"]


# ---- the settings themselves ---------------------------------------------------------------------
def test_samplers_are_read_and_written_back():
    assert parse_sampler("k", 500) == Fixed(500)
    assert parse_sampler("k", "fixed(250)") == Fixed(250)
    assert parse_sampler("k", " Uniform( 300 , 700 ) ") == Uniform(300, 700)
    assert parse_sampler("k", "truncexp(330, 80, 1500)") == TruncatedExponential(330, 80, 1500)
    assert parse_sampler("k", "truncexp(600, 300, 3000, 100)") == TruncatedExponential(600, 300, 3000, 100)
    for sampler in (Fixed(12.5), Uniform(0, 10), TruncatedExponential(330, 80, 1500, 20)):
        assert parse_sampler("k", sampler_text(sampler)) == sampler


def test_command_line_values_are_read_as_json_lists_or_text():
    assert parse_assignment("rewards.correct=2") == ("rewards.correct", 2)
    assert parse_assignment("conditions.coherence=[0, 12.8]") == ("conditions.coherence", [0, 12.8])
    assert parse_assignment("conditions.coherence=0,12.8,51.2") == ("conditions.coherence", [0.0, 12.8, 51.2])
    assert parse_assignment("stimulus.duration=uniform(300,700)") == ("stimulus.duration", "uniform(300,700)")
    assert parse_assignment("reward_tau_ms=inf") == ("reward_tau_ms", "inf")


def test_settings_change_exactly_the_fields_they_name():
    base = get_task("rdm-fixed")
    varied = vary(base, {"stimulus.duration": "uniform(500, 1000)", "conditions.coherence": [3.2, 6.4, 12.8],
                         "input_noise_var": 0.02, "rewards.correct": 2, "rewards.abort": -0.5, "tmax_ms": 3000,
                         "criterion.min_p_correct": 0.7})
    assert varied.epochs[1].duration == Uniform(500, 1000)
    assert varied.epochs[0] == base.epochs[0] and varied.epochs[2] == base.epochs[2]
    assert varied.conditions == {"direction": (-1.0, 1.0), "coherence": (3.2, 6.4, 12.8)}
    assert varied.n_conditions == 6
    assert (varied.input_noise_var, varied.tmax_ms) == (0.02, 3000.0)
    assert (varied.rewards.correct, varied.rewards.abort, varied.rewards.wrong) == (2.0, -0.5, 0.0)
    assert (varied.criterion.min_p_correct, varied.criterion.min_p_decision) == (0.7, 0.99)
    assert varied.mean_inputs is base.mean_inputs and varied.name == base.name


def test_a_variant_reaches_the_engine():
    """The compiled environment draws the new durations and conditions and pays the new reward."""
    env = TaskEnv(vary(get_task("rdm-fixed"), {"stimulus.duration": "uniform(500, 600)",
                                               "conditions.coherence": [40], "rewards.correct": 3}), 10.0)
    trials = env.sample_trials(jax.random.PRNGKey(0), 500)
    stimulus = np.asarray(trials.epoch_end_ms[:, 1] - trials.epoch_start_ms[:, 1])
    assert stimulus.min() >= 500 and stimulus.max() < 600
    assert set(np.asarray(env.condition_grid[:, 1])) == {40.0}
    variables = env.variables(trials)
    outcome = env.protocol.outcome_of_choice(variables, env.protocol.correct_action(variables))
    assert np.all(np.asarray(outcome.reward) == 3.0)


def test_the_saved_form_is_canonical_and_stable():
    base = get_task("wager")
    saved = normalise(base, {"stimulus": {"duration": "truncexp(180,100,800)"}, "criterion.p_sure": [0.3, 0.6],
                             "sure_onset.delay": 600, "reward_tau_ms": "inf"})
    assert saved == {"stimulus.duration": "truncexp(180, 100, 800)", "criterion.p_sure": [0.3, 0.6],
                     "sure_onset.delay": "fixed(600)", "reward_tau_ms": "inf"}
    assert normalise(base, saved) == saved
    assert vary(base, saved).reward_tau_ms == math.inf
    assert "criterion.p_sure" not in settable(get_task("rdm-fixed"))


def test_settings_are_saved_in_the_config_and_repeat_the_protocol():
    config = TrainConfig(task="rdm-fixed", task_settings={"conditions.coherence": [10, 20]})
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again.protocol().conditions == config.protocol().conditions == {"direction": (-1.0, 1.0),
                                                                           "coherence": (10.0, 20.0)}
    assert config.resolved().n_gradient == 4  # one trial per condition of the variant's grid


# ---- bad input: one line, exit 2, nothing written --------------------------------------------------
BAD_SETTINGS = [
    (["--set", "stimulus.durration=300"], "unknown task setting 'stimulus.durration'"),
    (["--set", "conditions.speed=1,2"], "unknown task setting 'conditions.speed'"),
    (["--set", "rewards.correct=lots"], "rewards.correct must be a number, got 'lots'"),
    (["--set", "rewards.correct=true"], "rewards.correct must be a number, got True"),
    (["--set", "stimulus.duration=-100"], "stimulus.duration must be a number of ms"),
    (["--set", "stimulus.duration=uniform(700,300)"], "needs LOW <= HIGH"),
    (["--set", "stimulus.duration=gamma(2,3)"], "stimulus.duration must be a number of ms, fixed(MS)"),
    (["--set", "stimulus.duration=uniform(a,b)"], "must be numbers of ms"),
    (["--set", "stimulus.duration=truncexp(330,1500,80)"], "needs MEAN > 0 and LOW < HIGH"),
    (["--set", "conditions.coherence=[]"], "conditions.coherence must be a non-empty list of distinct numbers"),
    (["--set", "conditions.coherence=1,1"], "repeats a value"),
    (["--set", "conditions.coherence=12.8"], "conditions.coherence must be a non-empty list"),
    (["--set", "input_noise_var=-0.1"], "input_noise_var must be a number >= 0"),
    (["--set", "criterion.min_p_correct=1.5"], "criterion.min_p_correct must be a number in [0, 1]"),
    (["--set", "tmax_ms=0"], "tmax_ms must be a positive number of ms"),
    (["--set", "tmax_ms=1500"], "ends rdm-fixed's trials before the 'decision' epoch"),
    (["--set", "decision.duration=5"], "is longer than the shortest rdm-fixed epoch"),
    (["--set", "stimulus.duration"], "--set takes KEY=VALUE"),
    (["--set", "=3"], "with a key before '='"),
    (["--set", "rewards.wrong="], "has no value"),
]


@pytest.mark.parametrize("args, message", BAD_SETTINGS, ids=[a[1] for a, _ in BAD_SETTINGS])
def test_bad_settings_are_refused_before_any_work(tmp_path, args, message):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "rdm-fixed", "--out", str(out)] + args + TINY)
    assert_refused(result.exit_code, result.output, message)
    assert not out.exists()


BAD_RUN_FILES = [
    ('task = "rdm-fixed"\nlr = 0.004\nfoo = 1\n', "unknown key(s) ['foo']"),
    ('task = "rdm-fixed"\nlr = "fast"\n', "lr must be a positive number, got 'fast'"),
    ('task = "rdm-fixed\n', "is not valid TOML"),
    ('task = "rdm-fixed"\n[task_settings]\n"rewards.correct" = "two"\n', "rewards.correct must be a number"),
    ('task = "rdm-fixed"\n[task_settings]\nstimulus.duration = "uniform(9, 1)"\n', "needs LOW <= HIGH"),
    ('task = "rdm-fixed"\n[task_settings]\n"conditions.coherence" = []\n', "must be a non-empty list"),
    ('task = "rdm-fixed"\ntask_settings = 3\n', "task_settings must be a table"),
    ('task = "no-such-task"\n', "unknown task 'no-such-task'"),
    ('lr = 0.01\n', "give a task"),
    ('task = "dnms"\nnonlinearity = "cube"\n[task_settings]\n"tmax_ms" = 3000\n', "take none"),
    ('task = "rdm-fixed"\nlearner = "perturbation"\nlr = 0.01\n', "unknown key(s) ['lr'] for the perturbation rule"),
]


@pytest.mark.parametrize("text, message", BAD_RUN_FILES, ids=[m for _, m in BAD_RUN_FILES])
def test_bad_run_files_are_refused_before_any_work(tmp_path, text, message):
    path, out = tmp_path / "run.toml", tmp_path / "run"
    path.write_text(text)
    result = runner.invoke(app, ["train", "--config", str(path), "--out", str(out), "-q"])
    assert_refused(result.exit_code, result.output, message)
    assert not out.exists()


def test_a_missing_run_file_is_named(tmp_path):
    result = runner.invoke(app, ["train", "--config", str(tmp_path / "none.toml"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "none.toml: no such file" in result.output


def test_settings_on_a_task_that_has_none_are_refused(tmp_path):
    for task in ("dnms", "ngym:PerceptualDecisionMaking-v0"):
        result = runner.invoke(app, ["train", task, "--set", "tmax_ms=3000", "--out", str(tmp_path / "r")])
        assert result.exit_code == 2 and "--set does not apply to" in result.output, result.output
    assert not (tmp_path / "r").exists()


# ---- run files repeat a run -------------------------------------------------------------------------
def test_a_variant_set_only_in_a_run_file_trains_and_config_repeats_it(tmp_path):
    """A variant of rdm-fixed (other coherences, a longer stimulus) from a run file: its
    config.json shows it; `rewardrnn config RUN` then `train --config` repeats it to identical
    parameters; command-line flags override the file."""
    run_file = tmp_path / "variant.toml"
    run_file.write_text('task = "rdm-fixed"\nseed = 3\nN = 16\nmax_updates = 2\ncheckfreq = 1\nn_validation = 20\n'
                        '[task_settings]\n"conditions.coherence" = [3.2, 6.4, 12.8, 25.6]\n'
                        'stimulus.duration = "uniform(500, 1000)"\n"tmax_ms" = 2250\n')
    first = tmp_path / "first"
    result = runner.invoke(app, ["train", "--config", str(run_file), "--out", str(first), "-q"])
    assert result.exit_code == 0, result.output
    saved = json.loads((first / "config.json").read_text())
    assert saved["task_settings"] == {"conditions.coherence": [3.2, 6.4, 12.8, 25.6],
                                      "stimulus.duration": "uniform(500, 1000)", "tmax_ms": 2250}
    assert saved["seed"] == 3 and saved["N"] == 16

    shown = runner.invoke(app, ["config", str(first)])
    assert shown.exit_code == 0, shown.output
    repeat_file = tmp_path / "repeat.toml"
    repeat_file.write_text(shown.output)
    second = tmp_path / "second"
    result = runner.invoke(app, ["train", "--config", str(repeat_file), "--out", str(second), "-q"])
    assert result.exit_code == 0, result.output
    a, b = np.load(first / "checkpoint.npz"), np.load(second / "checkpoint.npz")
    arrays = [k for k in a.files if k.startswith("leaf")]
    assert arrays and all(np.array_equal(a[k], b[k]) for k in arrays)

    third = tmp_path / "third"
    result = runner.invoke(app, ["train", "--config", str(run_file), "--seed", "4", "--set", "tmax_ms=2500",
                                 "--out", str(third), "-q"])
    assert result.exit_code == 0, result.output
    saved = json.loads((third / "config.json").read_text())
    assert saved["seed"] == 4 and saved["task_settings"]["tmax_ms"] == 2500
    assert saved["task_settings"]["stimulus.duration"] == "uniform(500, 1000)"


def test_config_prints_a_run_file_for_every_learner(tmp_path):
    """`rewardrnn config` round-trips the resolved configuration of each kind of run."""
    import tomllib

    from rewardrnn.training.run_folder import RunFolder

    for task, extra in (("dnms", ["--trials", "20", "--checkfreq", "10"]),
                        ("rdm-fixed", ["--learner", "perturbation", "--trials", "20", "--checkfreq", "10",
                                       "--n-validation", "10", "--set", "rewards.wrong=-0.25"])):
        out = tmp_path / task
        result = runner.invoke(app, ["train", task, "--N", "16", "--out", str(out), "-q"] + extra)
        assert result.exit_code == 0, result.output
        shown = runner.invoke(app, ["config", str(out)])
        assert shown.exit_code == 0, shown.output
        data = tomllib.loads(shown.output)
        folder = RunFolder(out)
        config = folder.kind.config_class.from_dict(data)
        assert config.to_dict() == folder.resolved.to_dict()
    shutil.rmtree(tmp_path)


def test_tasks_lists_the_settable_keys():
    result = runner.invoke(app, ["tasks", "rdm-fixed"])
    assert result.exit_code == 0
    assert "stimulus.duration            truncexp(330, 80, 1500)" in result.output
    assert "conditions.coherence         [0, 6.4, 12.8, 25.6, 51.2]" in result.output


def test_python_api_takes_settings():
    with pytest.raises(ConfigError, match="rewards.abort must be a number"):
        TrainConfig(task="rdm-fixed", task_settings={"rewards.abort": None})
