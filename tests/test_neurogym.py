"""NeuroGym as a source of trials for the actor-critic: every native environment trains, runs are
reproducible, every verb works on a NeuroGym run. NeuroGym imports PyTorch, which slows JAX in the
same process by ~40 %, so these tests run in subprocesses."""

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

#: Arguments an environment cannot be made without (NeuroGym's AnnubesEnv has no defaults).
REQUIRED_KWARGS = {"AnnubesEnv-v0": {"session": {"v": 0.5, "a": 0.5}, "catch_prob": 0.5}}
#: Environments whose actions are continuous (Box): the actor-critic's softmax policy cannot act
#: there, and training is refused with a message saying so.
CONTINUOUS_ACTIONS = {"ReachingDelayResponse-v0", "SpatialSuppressMotion-v0"}


def _run(*args: str, timeout: float = LIMIT_S) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout)


def _python(script: str, timeout: float = LIMIT_S) -> subprocess.CompletedProcess:
    return _run("-c", textwrap.dedent(script), timeout=timeout)


def test_every_native_environment_trains_a_few_updates(tmp_path):
    """An update of every environment of ``neurogym.all_envs()`` (validated before and after), in
    two processes side by side
    (one per core): no error, a checkpoint and a history for each; the environments with
    continuous actions are refused with a one-line reason."""
    listing = _python("from rewardrnn.tasks.neurogym import native_env_ids; print(' '.join(native_env_ids()))")
    assert listing.returncode == 0, listing.stderr[-2000:]
    ids = listing.stdout.split()
    assert len(ids) >= 25 and "PerceptualDecisionMaking-v0" in ids
    script = """
    import json, sys, warnings
    warnings.simplefilter("ignore")
    from rewardrnn.errors import ConfigError
    from rewardrnn.training import NeuroGymTrainConfig, train
    out, kwargs = sys.argv[1], json.loads(sys.argv[2])
    for env_id in sys.argv[3:]:
        try:
            result = train(NeuroGymTrainConfig(task="ngym:" + env_id, N=10, n_gradient=2, n_validation=2, checkfreq=1,
                                               max_updates=1, max_trial_steps=200, target=2.0, env_kwargs=kwargs.get(env_id, {})),
                           f"{out}/{env_id}", progress=False)
            print(env_id, "trained", result.summary["seeds"][0]["updates"], flush=True)
        except ConfigError as error:
            print(env_id, "refused", str(error).replace(chr(10), " "), flush=True)
    """
    halves = [ids[0::2], ids[1::2]]
    # XLA's backend optimisation off: this test checks that every environment runs, not its speed,
    # and compiling each environment's shapes is most of its time
    env = dict(os.environ, XLA_FLAGS=os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0")
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), str(tmp_path),
                               json.dumps(REQUIRED_KWARGS), *half], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for half in halves]
    lines = []
    for proc in procs:
        out, err = proc.communicate(timeout=LIMIT_S)
        assert proc.returncode == 0, err[-3000:]
        lines += out.splitlines()
    outcome = {line.split()[0]: line.split(maxsplit=2)[1:] for line in lines}
    assert set(outcome) == set(ids)
    for env_id, (what, detail) in outcome.items():
        if env_id in CONTINUOUS_ACTIONS:
            assert what == "refused" and "continuous action space" in detail, (env_id, detail)
        else:
            assert what == "trained" and int(detail) >= 1, (env_id, detail)
            assert (tmp_path / env_id / "checkpoint.npz").is_file() and (tmp_path / env_id / "metrics.csv").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("env_id,max_updates", [("PerceptualDecisionMaking-v0", 400), ("DelayMatchSample-v0", 600)])
def test_actor_critic_learns_neurogym_tasks(tmp_path, env_id, max_updates):
    """A perceptual decision and a working-memory task of NeuroGym, through the CLI, to NeuroGym's
    own performance >= 80 % (validation with the stochastic policy). Deterministic: NeuroGym's
    trial generators are seeded."""
    import numpy as np
    import pandas as pd

    out = tmp_path / "ngym"
    result = _run("-m", "rewardrnn.cli", "train", f"ngym:{env_id}", "--out", str(out), "--max-updates",
                  str(max_updates), "--checkfreq", "25", "-q")
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"][0]["reached_criterion"], summary
    metrics = pd.read_csv(out / "metrics.csv")
    last = metrics.iloc[-1]
    assert last["performance"] >= 0.8 and last["status"] == "reached criterion"
    assert metrics["criterion_gap"].to_numpy() == pytest.approx(np.maximum(0.0, 0.8 - metrics["performance"]))


def test_neurogym_runs_are_reproducible_and_every_verb_works(tmp_path):
    """The same seed twice gives bit-identical parameters; two seeds train in one run; evaluate,
    plot, record, analyze, report and export exit 0 and write their files."""
    script = f"""
    import numpy as np, jax, warnings
    warnings.simplefilter("ignore")
    from rewardrnn.training import NeuroGymTrainConfig, train
    config = NeuroGymTrainConfig(task="ngym:PerceptualDecisionMaking-v0", N=16, n_gradient=4, n_validation=20,
                                 checkfreq=3, max_updates=6, target=0.99)
    a = train(config, "{tmp_path}/a", progress=False)
    b = train(config, "{tmp_path}/b", progress=False)
    same = all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in
               zip(jax.tree_util.tree_leaves(a.state), jax.tree_util.tree_leaves(b.state)))
    print("identical", same)
    """
    result = _python(script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "identical True" in result.stdout
    run = tmp_path / "two"
    verbs = f"""
    import warnings
    warnings.simplefilter("ignore")
    from typer.testing import CliRunner
    from rewardrnn.cli import app
    runner = CliRunner()
    for args in (["train", "ngym:PerceptualDecisionMaking-v0", "--seeds", "2", "--N", "16", "--max-updates", "4",
                  "--checkfreq", "2", "--n-validation", "20", "-q", "--out", "{run}"],
                 ["evaluate", "{run}", "-n", "10"], ["plot", "{run}"], ["record", "{run}", "-n", "5", "--seed", "2"],
                 ["analyze", "{run}"], ["report", "{run}"], ["export", "{run}", "--format", "safetensors"],
                 ["evaluate", "{run}", "--dt", "20"]):
        result = runner.invoke(app, args)
        print(args[0], result.exit_code, result.output.strip().splitlines()[-1:] if result.output.strip() else "")
    """
    result = _python(verbs)
    assert result.returncode == 0, result.stderr[-3000:]
    codes = [line.split()[:2] for line in result.stdout.splitlines()]
    assert codes == [["train", "0"], ["evaluate", "0"], ["plot", "0"], ["record", "0"], ["analyze", "0"],
                     ["report", "0"], ["export", "0"], ["evaluate", "2"]], result.stdout
    assert "--dt does not apply to a NeuroGym run" in result.stdout.splitlines()[-1]
    summary = json.loads((run / "summary.json").read_text())
    assert [s["seed"] for s in summary["seeds"]] == [1, 2] and all(s["updates"] >= 2 for s in summary["seeds"])
    for written in ("evaluation/trials_seed1.csv", "figures/learning_curve.png", "records/seed2/activity.nc",
                    "analysis/seed1/numbers.json", "report.html", "export/weights_seed1.safetensors"):
        assert (run / written).is_file(), written
    table = __import__("pandas").read_csv(run / "evaluation" / "trials_seed1.csv")
    assert len(table) == 30 and {"ground_truth", "performance", "correct", "reward"} <= set(table.columns)
    numbers = json.loads((run / "analysis" / "seed1" / "numbers.json").read_text())["numbers"]
    assert "performance_by_ground_truth" in numbers


def test_neurogym_names_and_flags_are_checked(tmp_path):
    result = _run("-m", "rewardrnn.cli", "train", "ngym:NoSuchTask-v0", "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and "unknown NeuroGym environment 'NoSuchTask-v0'" in result.stdout + result.stderr
    result = _run("-m", "rewardrnn.cli", "train", "ngym:", "--out", str(tmp_path / "y"))
    assert result.returncode == 2 and "ngym:<environment id>" in result.stdout + result.stderr
    result = _run("-m", "rewardrnn.cli", "train", "ngym:GoNogo-v0", "--dt", "-5", "--out", str(tmp_path / "z"))
    assert result.returncode == 2 and "--dt must be a positive number" in result.stderr, result.stderr[-2000:]
    result = _run("-m", "rewardrnn.cli", "train", "ngym:GoNogo-v0", "--dale", "--out", str(tmp_path / "w"))
    assert result.returncode == 2 and "--dale does not apply to the actor-critic on NeuroGym" in result.stderr
    assert not (tmp_path / "z").exists() and not (tmp_path / "w").exists()


@pytest.mark.slow
def test_supervised_learner_reads_neurogyms_ground_truth_learns_and_every_verb_works(tmp_path):
    """``--learner supervised`` on a NeuroGym environment: each update's trials are NeuroGym's
    ``Dataset`` view (the trial arrays ``ob`` and ``gt``, checked here against a freshly seeded
    environment); the network learns PerceptualDecisionMaking to NeuroGym's performance >= 0.8
    acting greedily; every verb works on the run; wrappers and a plain gymnasium environment are
    refused by name."""
    run = tmp_path / "sup"
    script = f"""
    import json, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    from rewardrnn.keys import env_seed
    from rewardrnn.tasks.neurogym import NeuroGymBatches, make_env
    source = NeuroGymBatches("ngym:PerceptualDecisionMaking-v0", {{}}, 3, 1000)
    batch = source.ground_truth(7, 0, 5)
    env = make_env("ngym:PerceptualDecisionMaking-v0", {{}}).unwrapped
    s = env_seed(7, 0, 5, 2)
    env.seed(s); env.reset(seed=s); env.new_trial()
    n = len(env.gt)
    print("gt", bool(np.array_equal(batch.actions[:n, 2], env.gt)), bool(np.allclose(batch.inputs[:n, 2], env.ob)),
          int(batch.mask[:, 2].sum()) == n, env.gt[0] == 0 and env.gt[-1] in (1, 2))  # fixate, then a choice
    from typer.testing import CliRunner
    from rewardrnn.cli import app
    runner = CliRunner()
    for args in (["train", "ngym:PerceptualDecisionMaking-v0", "--learner", "supervised", "--max-updates", "300",
                  "-q", "--out", "{run}"],
                 ["evaluate", "{run}", "-n", "50"], ["record", "{run}", "-n", "10"], ["analyze", "{run}"],
                 ["fixedpoints", "{run}", "--candidates", "64"], ["perturb", "{run}", "--silence", "readout:5", "-n", "50"],
                 ["report", "{run}"], ["export", "{run}", "--format", "safetensors"],
                 ["train", "ngym:PerceptualDecisionMaking-v0", "--learner", "supervised", "--wrappers", "Noise",
                  "--out", "{tmp_path}/w"]):
        result = runner.invoke(app, args)
        print(args[0], result.exit_code, result.output.strip().splitlines()[-1:] if result.output.strip() else "")
    """
    result = _python(script)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "gt True True True True", lines[0]
    codes = [line.split()[:2] for line in lines[1:]]
    assert codes == [["train", "0"], ["evaluate", "0"], ["record", "0"], ["analyze", "0"], ["fixedpoints", "0"],
                     ["perturb", "0"], ["report", "0"], ["export", "0"], ["train", "2"]], result.stdout
    assert "--wrappers does not apply to supervised learning on NeuroGym" in lines[-1]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["learner"] == "supervised" and summary["kind"] == "supervised/ngym"
    assert summary["seeds"][0]["reached_criterion"], summary
    import pandas as pd
    metrics = pd.read_csv(run / "metrics.csv")
    assert metrics["performance"].iloc[-1] >= 0.8
    for written in ("evaluation/trials_seed1.csv", "records/seed1/activity.nc", "analysis/seed1/fixedpoints.json",
                    "report.html", "export/weights_seed1.safetensors"):
        assert (run / written).is_file(), written
