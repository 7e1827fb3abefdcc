"""A user's own environment from a file (``my_env.py:CLASS`` for a NeuroGym ``TrialEnv``,
``my_env.py:FACTORY`` for a function returning a wrapped one) and NeuroGym's wrappers by name:
trained for a few updates, then every verb run from another folder without ``PYTHONPATH``; the
file is recorded like a task file and follows its trust rule. In subprocesses (NeuroGym imports
PyTorch, which slows JAX in the same process)."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest
from waiting import LIMIT_S

pytestmark = pytest.mark.skipif(importlib.util.find_spec("neurogym") is None,
                                reason="the neurogym extra is not installed")

ENV_FILE = '''
import numpy as np
import neurogym.wrappers
from neurogym.core import TrialEnv
from neurogym.utils import spaces


class MyGoNoGo(TrialEnv):
    """Go after the go cue, hold fixation after the no-go cue."""

    def __init__(self, dt=100, timing=None):
        super().__init__(dt=dt)
        self.timing = {"fixation": 200, "stimulus": 300, "decision": 300}
        self.timing.update(timing or {})
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float32,
                                            name={"fixation": 0, "nogo": 1, "go": 2})
        self.action_space = spaces.Discrete(2, name={"fixation": 0, "go": 1})

    def _new_trial(self, **kwargs):
        trial = {"ground_truth": self.rng.choice([0, 1])}
        self.add_period(["fixation", "stimulus", "decision"])
        self.add_ob(1, where="fixation")
        self.add_ob(1, "stimulus", where=trial["ground_truth"] + 1)
        self.set_groundtruth(trial["ground_truth"], "decision")
        self.performance = 1 - trial["ground_truth"]
        return trial

    def _step(self, action):
        new_trial, reward, gt = False, 0.0, self.gt_now
        if self.in_period("fixation") and action != 0:
            reward = -0.1
        elif self.in_period("decision") and action != 0:
            new_trial, reward = True, float(gt != 0)
            self.performance = float(gt != 0)
        return self.ob_now, reward, False, False, {"new_trial": new_trial, "gt": gt}


def make(dt=100):
    """MyGoNoGo with the previous action and reward as inputs."""
    return neurogym.wrappers.PassReward(neurogym.wrappers.PassAction(MyGoNoGo(dt=dt)))
'''


def _cli(args_list, cwd, trust_file, timeout=LIMIT_S):
    """Each argument list through the CLI in one subprocess, run in ``cwd`` without PYTHONPATH;
    prints ``verb exit_code last-line`` per call."""
    script = f"""
    import warnings
    warnings.simplefilter("ignore")
    from typer.testing import CliRunner
    from rewardrnn.cli import app
    runner = CliRunner()
    for args in {args_list!r}:
        result = runner.invoke(app, args)
        lines = result.output.strip().splitlines()
        print(args[0], result.exit_code, lines[-1] if lines else "", flush=True)
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["REWARDRNN_TRUST_FILE"] = str(trust_file)
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                            timeout=timeout, cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return [line.split(" ", 2) for line in result.stdout.splitlines() if line.split(" ", 1)[0] in
            {a[0] for a in args_list}]


def test_own_environment_class_and_factory_train_and_every_verb_works(tmp_path):
    """The class and the factory train from the file (named relative to the working folder); the
    run folder records the file's absolute path, hash and copy; evaluate, record, analyze,
    fixedpoints, report and export then run from another folder."""
    work, elsewhere = tmp_path / "lab", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    (work / "my_env.py").write_text(ENV_FILE)
    trust_file = tmp_path / "trusted.json"
    small = ["--N", "16", "--max-updates", "2", "--checkfreq", "2", "--n-validation", "10", "-q"]
    codes = _cli([["train", "my_env.py:MyGoNoGo", "--out", str(tmp_path / "cls"), *small],
                  ["train", "my_env.py:make", "--env-kwargs", '{"dt": 50}', "--out", str(tmp_path / "fac"), *small]],
                 work, trust_file)
    assert [c[:2] for c in codes] == [["train", "0"], ["train", "0"]], codes
    for name, run in (("MyGoNoGo", tmp_path / "cls"), ("make", tmp_path / "fac")):
        config = json.loads((run / "config.json").read_text())
        assert config["task"] == f"{work / 'my_env.py'}:{name}"
        assert config["_run"]["task_source"]["path"] == str(work / "my_env.py")
        assert (run / "task_source.py").read_text() == ENV_FILE
    # the factory's wrappers add the previous action (its index, 1 channel) and reward (1) to the 3 inputs; dt 50 ms
    factory = json.loads((tmp_path / "fac" / "config.json").read_text())
    assert factory["env_kwargs"] == {"dt": 50}
    verbs = []
    for run in (tmp_path / "cls", tmp_path / "fac"):
        verbs += [["evaluate", str(run), "-n", "5"], ["record", str(run), "-n", "2"], ["analyze", str(run)],
                  ["fixedpoints", str(run), "--candidates", "16"], ["report", str(run)], ["export", str(run)]]
    codes = _cli(verbs, elsewhere, trust_file)
    assert [c[1] for c in codes] == ["0"] * len(verbs), codes
    for run, n_inputs, dt in ((tmp_path / "cls", 3, 100.0), (tmp_path / "fac", 5, 50.0)):
        import xarray

        with xarray.open_dataset(run / "records" / "seed1" / "activity.nc") as activity:
            assert activity.sizes["input"] == n_inputs and activity.attrs["dt_ms"] == dt
        for written in ("evaluation/trials_seed1.csv", "analysis/seed1/numbers.json",
                        "analysis/seed1/fixedpoints.json", "report.html", "export/weights_seed1.npz"):
            assert (run / written).is_file(), (run, written)


def test_own_environment_follows_the_trust_rule_and_bad_names_are_refused(tmp_path):
    """A colleague's run folder names an environment file this user has not trusted: refused in
    one line until the user trusts the file; a name the file lacks, an unknown wrapper and an
    epoch the environment has not are refused with exit 2 and no folder written."""
    work = tmp_path / "lab"
    work.mkdir()
    (work / "my_env.py").write_text(ENV_FILE)
    run = tmp_path / "run"
    codes = _cli([["train", "my_env.py:MyGoNoGo", "--N", "16", "--max-updates", "1", "--checkfreq", "1",
                   "--n-validation", "4", "-q", "--out", str(run)],
                  ["train", "my_env.py:Nope", "--out", str(tmp_path / "a")],
                  ["train", "ngym:GoNogo-v0", "--wrappers", "PassAction,Monitor", "--out", str(tmp_path / "b")],
                  ["train", "my_env.py:MyGoNoGo", "--env-kwargs", '{"timing": {"delay": 100}}',
                   "--out", str(tmp_path / "c")]],
                 work, tmp_path / "mine.json")
    assert [c[1] for c in codes] == ["0", "2", "2", "2"], codes
    assert "defines no 'Nope'" in codes[1][2] and "MyGoNoGo" in codes[1][2]
    assert "unknown NeuroGym wrapper(s) 'Monitor'" in codes[2][2]
    assert "has no epoch(s) ['delay']" in codes[3][2]
    assert not any((tmp_path / x).exists() for x in "abc")
    colleague = tmp_path / "colleague.json"
    codes = _cli([["evaluate", str(run), "-n", "2"], ["trust", str(work / "my_env.py")], ["evaluate", str(run), "-n", "2"]],
                 tmp_path, colleague)
    assert [c[1] for c in codes] == ["2", "0", "0"], codes
    assert "is not in your list of trusted task files" in codes[0][2]
    assert (run / "evaluation" / "trials_seed1.csv").is_file()


def test_neurogym_wrappers_by_name_change_the_inputs_and_are_saved(tmp_path):
    """``--wrappers PassAction,PassReward`` on a registered id: saved in config.json, the network
    reads the observation plus the previous action (its index) and reward, and a resumed run keeps
    them."""
    run = tmp_path / "wrapped"
    codes = _cli([["train", "ngym:GoNogo-v0", "--wrappers", "PassAction,PassReward", "--N", "16", "--max-updates", "1",
                   "--checkfreq", "1", "--n-validation", "4", "-q", "--out", str(run)],
                  ["train", "ngym:GoNogo-v0", "--resume", "--max-updates", "2", "-q", "--out", str(run)],
                  ["record", str(run), "-n", "2"]],
                 tmp_path, tmp_path / "mine.json")
    assert [c[1] for c in codes] == ["0", "0", "0"], codes
    config = json.loads((run / "config.json").read_text())
    assert config["wrappers"] == ["PassAction", "PassReward"] and config["max_updates"] == 2
    import xarray

    with xarray.open_dataset(run / "records" / "seed1" / "activity.nc") as activity:
        assert activity.sizes["input"] == 3 + 1 + 1  # GoNogo's 3 inputs, the previous action's index, the reward
