"""NeuroGym environments played as sessions of trials (``--episode-trials K``): the network's state
carries over from trial to trial, the return runs across them, discounted at each trial's end;
the behaviour table's trial variables are those of the trial played. NeuroGym imports PyTorch,
which slows JAX in the same process, so the NeuroGym parts run in subprocesses (as
tests/test_neurogym.py)."""

import importlib.util
import json

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from rewardrnn.learners.actor_critic import returns_to_go
from test_neurogym import _python

needs_neurogym = pytest.mark.skipif(importlib.util.find_spec("neurogym") is None,
                                    reason="the neurogym extra is not installed")


def test_returns_with_a_discount_at_trial_ends_match_a_hand_computation():
    """G_t = R_t + f_t G_{t+1}: two trials of two steps, rewards 1, 0 | 0, 2, discount 0.5 at the
    first trial's last step: G = (1 + 0.5 * 2, 0.5 * 2, 2, 2) = (2, 1, 2, 2); without factors,
    Song's undiscounted sum (3, 2, 2, 2)."""
    reward = jnp.array([[1.0], [0.0], [0.0], [2.0]])
    factor = jnp.array([[1.0], [0.5], [1.0], [1.0]])
    np.testing.assert_allclose(np.asarray(returns_to_go(reward, factor))[:, 0], [2.0, 1.0, 2.0, 2.0])
    np.testing.assert_allclose(np.asarray(returns_to_go(reward))[:, 0], [3.0, 2.0, 2.0, 2.0])


@needs_neurogym
def test_sessions_chain_whole_trials_and_each_row_holds_its_own_trials_variables():
    """PerceptualDecisionMaking (fixed timing: 22 steps of 100 ms per trial) with random actions:
    in one trial per episode the reset has taken the first step (21 steps are the network's); in
    sessions of 3 every trial is whole (22 steps), the trials follow one another with no gap in
    one sequence of steps, and the discount sits at the first two trials' last steps. Every
    row's performance is that of its choice against its own ground truth (NeuroGym's
    ``info["trial"]`` at a trial's end is the next trial's)."""
    script = """
    import warnings
    warnings.simplefilter("ignore")
    import numpy as np
    from rewardrnn.tasks.neurogym import NeuroGymBatches
    for K in (1, 3):
        source = NeuroGymBatches("ngym:PerceptualDecisionMaking-v0", {}, 40, 1000 * K, trials=K)
        rng, steps = np.random.default_rng(0), []
        def act(obs, t):
            steps.append(t)
            return rng.integers(0, 3, len(obs))
        b = source.run(act, 1, 2, 3)
        gt = np.array([row["ground_truth"] for row in b.info])
        choice = b.actions[b.end_step, b.episode]
        lengths = b.end_step - b.start_step + 1
        print(K, len(b.info), bool(np.all(b.performance == (choice == gt + 1))), sorted(set(lengths.tolist())),
              steps == list(range(b.actions.shape[0])), b.trial_in_episode[:6].tolist(), b.start_step[:3].tolist())
        if K == 3:
            f = b.trial_end_discount(0.5)
            print("discount", np.flatnonzero(f[:, 0] != 1).tolist() == [21, 43], int((f != 1).sum()) == 80,
                  float(f[b.end_step[0], 0]))
    """
    result = _python(script)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "1 40 True [21] True [1, 1, 1, 1, 1, 1] [0, 0, 0]", lines[0]
    assert lines[1] == "3 120 True [22] True [1, 2, 3, 1, 2, 3] [0, 22, 44]", lines[1]
    assert lines[2] == "discount True True 0.5", lines[2]


@needs_neurogym
def test_daw_two_step_sessions_train_every_verb_works_and_bad_flags_are_refused(tmp_path):
    """DawTwoStep-v0 over sessions of 5 trials: 10 updates (1,000 trials) take NeuroGym's
    performance from the untrained network's (below 0.35, it fixates on the first stage too
    often) past 0.45 (seeded); the records are sessions (``episode``, ``trial_in_episode``,
    each trial's own window of 2 steps); evaluate, record, analyze, perturb, fixedpoints and
    report work. ``--episode-trials`` is refused for the supervised learner, below 1, and when
    the session could exceed the step limit."""
    run = tmp_path / "daw"
    script = f"""
    import warnings
    warnings.simplefilter("ignore")
    from typer.testing import CliRunner
    from rewardrnn.cli import app
    runner = CliRunner()
    for args in (["train", "ngym:DawTwoStep-v0", "--episode-trials", "5", "--max-updates", "10", "--checkfreq", "10",
                  "--n-validation", "500", "-q", "--out", "{run}"],
                 ["evaluate", "{run}", "-n", "10"], ["record", "{run}", "-n", "4"], ["analyze", "{run}"],
                 ["perturb", "{run}", "--silence", "readout:5", "-n", "10"],
                 ["fixedpoints", "{run}", "--candidates", "32"], ["report", "{run}"],
                 ["train", "ngym:DawTwoStep-v0", "--learner", "supervised", "--episode-trials", "5",
                  "--out", "{tmp_path}/s"],
                 ["train", "ngym:DawTwoStep-v0", "--episode-trials", "0", "--out", "{tmp_path}/z"],
                 ["train", "ngym:DawTwoStep-v0", "--episode-trials", "101", "--out", "{tmp_path}/l"]):
        result = runner.invoke(app, args)
        print(args[0], result.exit_code, result.output.strip().splitlines()[-1:] if result.output.strip() else "")
    """
    result = _python(script)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:7]] == [[verb, "0"] for verb in (
        "train", "evaluate", "record", "analyze", "perturb", "fixedpoints", "report")], result.stdout
    assert [line.split()[:2] for line in lines[7:]] == [["train", "2"]] * 3, result.stdout
    assert "--episode-trials does not apply to supervised learning on NeuroGym" in lines[7]
    assert "--episode-trials must be an integer >= 1" in lines[8]
    assert "episode steps (episode_trials x max_trial_steps) must be at most 100,000" in lines[9]
    assert not any((tmp_path / name).exists() for name in ("s", "z", "l"))
    history = pd.read_csv(run / "metrics.csv").dropna(subset=["performance"])
    assert history["performance"].iloc[0] < 0.35 < 0.45 < history["performance"].max(), history
    assert json.loads((run / "summary.json").read_text())["seeds"][0]["updates"] == 10
    table = pd.read_csv(run / "evaluation" / "trials_seed1.csv")
    assert len(table) == 30 and table["trial_in_episode"].tolist()[:6] == [1, 2, 3, 4, 5, 1]
    assert table.groupby("episode").size().eq(5).all() and (table["end_time_ms"] == 100).all()
    import xarray as xr
    with xr.open_dataset(run / "records" / "seed1" / "activity.nc") as ds:
        assert ds.sizes["trial"] == 15 and ds.sizes["time"] == 2 and ds.attrs["episode_trials"] == 5
        assert ds["trial_in_episode"].values.tolist()[:5] == [1, 2, 3, 4, 5]


def test_a_run_file_cannot_give_the_supervised_learner_sessions():
    """The supervised learner reads NeuroGym's trial arrays one trial at a time: a config (a run
    file's fields) with sessions is refused in one line."""
    from rewardrnn.errors import ConfigError
    from rewardrnn.training.neurogym_config import SupervisedNeuroGymTrainConfig

    with pytest.raises(ConfigError, match="episode_trials must be 1 for the supervised learner"):
        SupervisedNeuroGymTrainConfig(task="ngym:DawTwoStep-v0", episode_trials=5)
