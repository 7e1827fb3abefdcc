"""Config, checkpoints, run folders, resume and the stop criterion of the trainer."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from rewardrnn.errors import CheckpointError, ConfigError, RunFolderError, UnknownNameError
from rewardrnn.training import TrainConfig, checkpoint, train

TINY = dict(N=16, baseline_N=16, p0=0.25, n_validation=100, checkfreq=5)


def test_config_round_trip_and_resolution():
    cfg = TrainConfig(seed=3, n_seeds=2, dt_ms=20.0)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    r = cfg.resolved()
    assert (r.n_gradient, r.n_validation) == (10, 1000)  # rdm-fixed: 10 conditions, 1000 trials
    assert cfg.seeds == [3, 4]


@pytest.mark.parametrize("bad", [dict(N=0), dict(lr=0.0), dict(baseline_lr=-1.0), dict(dt_ms=-1.0),
                                 dict(dt_ms=90.0), dict(dt_ms=200.0), dict(n_seeds=0), dict(p0=0.0),
                                 dict(t0_return="other"), dict(max_updates=0), dict(n_validation=0)])
def test_bad_values_are_rejected_before_any_work(bad):
    with pytest.raises(ConfigError):
        TrainConfig(**bad)


def test_unknown_task_and_keys():
    with pytest.raises(UnknownNameError, match="known tasks"):
        TrainConfig(task="nope")
    with pytest.raises(ConfigError, match="unknown config keys"):
        TrainConfig.from_dict({"task": "rdm-fixed", "learning_rate": 1})
    with pytest.raises(ConfigError, match="32-bit"):
        TrainConfig(seed=2 ** 64)


def test_checkpoint_round_trip_truncation_and_foreign_files(tmp_path):
    tree = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": [np.int32(4), np.ones(2)]}
    path = tmp_path / "c.npz"
    checkpoint.save(path, tree, {"note": "x"})
    loaded, meta = checkpoint.load(path, tree)
    np.testing.assert_array_equal(loaded["a"], tree["a"])
    assert meta == {"note": "x"}
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temporary file left behind
    with pytest.raises(CheckpointError, match="shape"):
        checkpoint.load(path, {"a": np.zeros((3, 3)), "b": [np.int32(0), np.ones(2)]})
    with pytest.raises(CheckpointError, match="structure"):
        checkpoint.load(path, {"a": np.zeros((2, 3))})
    data = path.read_bytes()
    (tmp_path / "t.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        checkpoint.load(tmp_path / "t.npz", tree)
    np.savez(tmp_path / "f.npz", x=np.ones(3))
    with pytest.raises(CheckpointError, match="not a rewardrnn checkpoint"):
        checkpoint.load(tmp_path / "f.npz", tree)
    (tmp_path / "g.npz").write_text("hello")
    with pytest.raises(CheckpointError):
        checkpoint.load(tmp_path / "g.npz", tree)


class Interrupt(Exception):
    pass


def test_resume_after_interruption_gives_the_same_parameters(tmp_path):
    cfg = TrainConfig(max_updates=20, **TINY)
    straight = train(cfg, tmp_path / "a", progress=False)

    def stop_after_two(state, history):
        if len(history) == 2:  # validations at updates 0 and 5
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "b", progress=False, on_validation=stop_after_two)
    meta = checkpoint.read_meta(tmp_path / "b" / "checkpoint.npz")
    assert [row["updates"] for row in meta["history"]] == [0, 5]
    with pytest.raises(RunFolderError, match="already holds a run"):
        train(cfg, tmp_path / "b", progress=False)
    resumed = train(cfg, tmp_path / "b", resume=True, progress=False)
    for a, b in zip(jax.tree_util.tree_leaves(straight.state), jax.tree_util.tree_leaves(resumed.state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    rows = (tmp_path / "b" / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 5  # header + validations at 0, 5, 10, 15, 20
    assert int(resumed.state.learner.updates[0]) == 20


def test_run_folder_rules(tmp_path):
    cfg = TrainConfig(max_updates=5, **TINY)
    train(cfg, tmp_path / "r", progress=False)
    other = dataclasses.replace(cfg, lr=0.001)
    with pytest.raises(RunFolderError, match="lr"):
        train(other, tmp_path / "r", resume=True, progress=False)
    with pytest.raises(RunFolderError, match="holds no run"):
        train(cfg, tmp_path / "empty", resume=True, progress=False)
    # a longer max_updates may be given on resume
    longer = train(dataclasses.replace(cfg, max_updates=10), tmp_path / "r", resume=True, progress=False)
    assert int(longer.state.learner.updates[0]) == 10
    # overwrite replaces the run
    again = train(cfg, tmp_path / "r", overwrite=True, progress=False)
    assert int(again.state.learner.updates[0]) == 5
    (tmp_path / "r" / "checkpoint.npz").write_bytes(b"garbage")
    with pytest.raises(CheckpointError):
        train(cfg, tmp_path / "r", resume=True, progress=False)


def test_seeds_are_vectorised_and_stop_on_their_own(tmp_path):
    """Two seeds in one run: each is the same as when trained alone, and a seed that met the
    criterion is frozen while the other goes on."""
    cfg = TrainConfig(seed=5, n_seeds=2, max_updates=10, **TINY)
    both = train(cfg, tmp_path / "both", progress=False)
    alone = train(dataclasses.replace(cfg, seed=6, n_seeds=1), tmp_path / "alone", progress=False)
    np.testing.assert_allclose(np.asarray(both.state.learner.policy["W_rec"][1]),
                               np.asarray(alone.state.learner.policy["W_rec"][0]), rtol=1e-5, atol=1e-6)
    summary = json.loads((tmp_path / "both" / "summary.json").read_text())
    assert [s["seed"] for s in summary["seeds"]] == [5, 6]


def test_compaction_of_active_seeds():
    from rewardrnn.training.trainer import compact

    index, batch = compact(np.array([True, False, True]))
    assert index.tolist() == [0, 2] and batch.tolist() == [0, 2]
    index, batch = compact(np.array([True, True, True, False, False]))
    assert batch.tolist() == [0, 1, 2, 0]  # padded to a power of two with a frozen copy
    assert compact(np.ones(5, bool))[1].tolist() == [0, 1, 2, 3, 4]


def test_a_chunk_computes_only_the_active_seeds():
    from rewardrnn.training.trainer import Trainer

    config = TrainConfig(n_seeds=3, **TINY)
    trainer = Trainer(config.build_learner(), config.plan())
    steps = trainer.steps
    state = trainer.initial_state().learner
    active = np.array([True, False, True])
    new, metrics, _ = steps.chunk(state, active)
    assert np.asarray(new.updates).tolist() == [5, 0, 5]
    np.testing.assert_array_equal(np.asarray(new.policy["W_rec"][1]), np.asarray(state.policy["W_rec"][1]))
    assert np.isnan(metrics["value_loss"][1]) and np.isfinite(metrics["value_loss"][[0, 2]]).all()
    perf = steps.validate(new, active)
    assert np.isnan(perf["reward"][1]) and np.isfinite(perf["reward"][[0, 2]]).all()
    full, _, _ = steps.chunk(state, np.ones(3, bool))
    np.testing.assert_allclose(np.asarray(new.policy["W_rec"][2]), np.asarray(full.policy["W_rec"][2]),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dt", [1.0, 20.0])
def test_training_runs_at_other_time_steps(tmp_path, dt):
    cfg = TrainConfig(dt_ms=dt, max_updates=2, **dict(TINY, checkfreq=2, n_validation=20))
    result = train(cfg, tmp_path / "r", progress=False)
    assert int(result.state.learner.updates[0]) == 2
    assert np.isfinite(np.asarray(result.state.learner.policy["W_rec"])).all()
