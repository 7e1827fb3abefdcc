"""A run folder can never be lost, mixed up or silently stale: locks, identity, overwrite rules,
atomic and ordered writes, non-finite parameters, clear errors. Each case asserts both the
message and that nothing on disk was lost."""

import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app
from waiting import LIMIT_S, rows, wait_for

runner = CliRunner()
TINY = ["--N", "16", "--max-updates", "2", "--checkfreq", "1", "--n-validation", "20", "-q"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("safety") / "run"
    result = runner.invoke(app, ["train", "rdm-fixed", "--out", str(out)] + TINY)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def _fails(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    return result


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and not p.name.startswith(".rewardrnn.lock")}


# ---- lost work -----------------------------------------------------------------------------------
def test_export_never_replaces_a_file_of_the_run(run):
    before = _snapshot(run)
    _fails(["export", str(run), "-o", str(run / "checkpoint.npz")], "would replace the run's own checkpoint.npz")
    _fails(["export", str(run), "-o", str(run / "config.json")], "must end in .npz")
    _fails(["export", str(run), "-o", str(run / "weights.bin")], "must end in .npz")
    _fails(["report", str(run), "-o", str(run / "metrics.csv")], "would replace the run's own metrics.csv")
    assert _snapshot(run) == before


def test_overwrite_never_deletes_what_is_not_a_rewardrnn_run(tmp_path):
    folder = tmp_path / "mine"
    (folder / "figures").mkdir(parents=True)
    (folder / "config.json").write_text('{"experiment": "my own"}')
    (folder / "figures" / "fig1.png").write_bytes(b"png")
    before = _snapshot(folder)
    _fails(["train", "rdm-fixed", "--overwrite", "--out", str(folder)] + TINY, "not a rewardrnn run folder")
    assert _snapshot(folder) == before
    (folder / "config.json").write_text("not json {")
    _fails(["evaluate", str(folder)], "not a rewardrnn run config (unreadable JSON")
    (folder / "config.json").write_text("[1, 2]")
    _fails(["evaluate", str(folder)], "not a rewardrnn run folder")


def test_a_checkpoint_of_another_run_is_refused_by_name(run, tmp_path):
    other = tmp_path / "other"
    assert runner.invoke(app, ["train", "rdm-fixed", "--seed", "5", "--out", str(other)] + TINY).exit_code == 0
    shutil.copy(other / "checkpoint.npz", run / "checkpoint.npz")  # same shapes, another run
    history = (run / "metrics.csv").read_bytes()
    for verb in (["evaluate", str(run)], ["export", str(run)], ["record", str(run), "-n", "1"]):
        _fails(verb, "belongs to another run")
    _fails(["train", "rdm-fixed", "--resume", "--max-updates", "4", "--out", str(run)], "belongs to another run")
    assert (run / "metrics.csv").read_bytes() == history


def test_two_trainings_into_one_folder_are_refused_and_the_first_is_kept(tmp_path):
    out = tmp_path / "shared"
    cmd = [sys.executable, "-m", "rewardrnn.cli", "train", "rdm-fixed", "--N", "16", "--checkfreq", "2",
           "--n-validation", "20", "--patience", "0", "-q", "--out", str(out)]  # no stall stop: "long" runs on
    env = dict(os.environ)  # the session's compilation cache (conftest.py)
    # started together: one trains, the other is refused
    a = subprocess.Popen(cmd + ["--max-updates", "6"], env=env, stderr=subprocess.PIPE, text=True)
    b = subprocess.Popen(cmd + ["--max-updates", "6"], env=env, stderr=subprocess.PIPE, text=True)
    (_, err_a), (_, err_b) = a.communicate(timeout=LIMIT_S), b.communicate(timeout=LIMIT_S)
    assert sorted([a.returncode, b.returncode]) == [0, 2], (err_a, err_b)
    loser = err_a if a.returncode == 2 else err_b
    # the lock's owner file may not be written yet when the loser looks: "by process N" or "by another process"
    assert "is in use by" in loser or "already holds a run" in loser, loser
    run_id = json.loads((out / "config.json").read_text())["_run"]["run_id"]
    # --overwrite while a training runs: refused, naming the process; the running training goes on
    long = subprocess.Popen(cmd + ["--overwrite", "--max-updates", "100000"], env=env, stderr=subprocess.PIPE,
                            text=True)
    # the event: the new run has saved two validations (however long that takes on a busy machine)
    wait_for(lambda: json.loads((out / "config.json").read_text())["_run"]["run_id"] != run_id
             and rows(out / "metrics.csv") >= 2 and (out / "checkpoint.npz").is_file(),
             "two validations of the overwriting run", long)
    running_id = json.loads((out / "config.json").read_text())["_run"]["run_id"]
    # the intruders run in this process: the lock is the kernel's, held by the other process
    _fails(["train", "rdm-fixed", "--overwrite", "--out", str(out)] + TINY, f"in use by process {long.pid}")
    _fails(["evaluate", str(out)], "in use by process")
    long.send_signal(signal.SIGTERM)
    _, err = long.communicate(timeout=LIMIT_S)
    assert long.returncode == 130, err
    assert json.loads((out / "config.json").read_text())["_run"]["run_id"] == running_id
    assert len(pd.read_csv(out / "metrics.csv")) >= 2 and (out / "checkpoint.npz").is_file()


# ---- silently wrong ---------------------------------------------------------------------------
def test_overwrite_removes_everything_derived_from_the_replaced_run(run):
    for verb in (["record", str(run), "-n", "1"], ["export", str(run)]):
        assert runner.invoke(app, verb).exit_code == 0
    (run / "report.html").write_text("<html>old</html>")
    result = runner.invoke(app, ["train", "rdm-fixed", "--overwrite", "--out", str(run)] + TINY[:-1] + ["-q"])
    assert result.exit_code == 0, result.output
    for derived in ("records", "export", "report.html", "evaluation", "analysis", "figures"):
        assert not (run / derived).exists(), derived


def test_derived_records_of_another_run_are_rebuilt(run):
    assert runner.invoke(app, ["record", str(run), "-n", "1"]).exit_code == 0
    identity = run / "records" / "seed1" / "identity.json"
    data = json.loads(identity.read_text())
    identity.write_text(json.dumps({**data, "run_id": "someone-else"}))
    result = runner.invoke(app, ["analyze", str(run), "--behaviour-trials", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(identity.read_text())["run_id"] == data["run_id"]  # recorded again from this run


def test_resume_without_its_checkpoint_is_refused_and_a_failed_resume_changes_nothing(run):
    before = _snapshot(run)
    (run / "checkpoint.npz").write_bytes(b"garbage")
    _fails(["train", "rdm-fixed", "--resume", "--max-updates", "10", "--out", str(run)], "truncated or not a rewardrnn")
    assert (run / "config.json").read_bytes() == before[run.relative_to(run) / "config.json"]  # not rewritten
    (run / "checkpoint.npz").unlink()
    _fails(["train", "rdm-fixed", "--resume", "--max-updates", "10", "--out", str(run)], "no checkpoint.npz")


def test_diverging_parameters_stop_the_seed_and_are_never_kept_as_best(tmp_path):
    out = tmp_path / "diverge"
    result = runner.invoke(app, ["train", "rdm-fixed", "--lr", "1e39", "--out", str(out)] + TINY[:3] + ["6"] + TINY[4:])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"][0]["status"] == "non-finite parameters", summary
    assert "non-finite parameters" in result.output
    from rewardrnn.training.run_folder import RunFolder
    best = RunFolder(out).best_params(1)
    assert all(np.isfinite(v).all() for part in best.values() for v in part.values())
    assert runner.invoke(app, ["evaluate", str(out), "-n", "1"]).exit_code == 0  # the last finite best


def test_evaluation_at_another_dt_keeps_the_default_file(run):
    assert runner.invoke(app, ["evaluate", str(run), "-n", "1"]).exit_code == 0
    default = (run / "evaluation" / "trials_seed1.csv").read_bytes()
    assert runner.invoke(app, ["evaluate", str(run), "-n", "1", "--dt", "20"]).exit_code == 0
    assert (run / "evaluation" / "trials_seed1_dt20.csv").is_file()
    assert (run / "evaluation" / "trials_seed1.csv").read_bytes() == default


def test_perturbation_errors_come_from_the_checkpoint(tmp_path):
    out = tmp_path / "dnms"
    assert runner.invoke(app, ["train", "dnms", "--N", "20", "--trials", "20", "--checkfreq", "10", "-q",
                               "--out", str(out)]).exit_code == 0
    (out / "errors.npy").unlink()  # a copy for numpy users; the checkpoint holds the truth
    assert runner.invoke(app, ["plot", str(out)]).exit_code == 0
    result = runner.invoke(app, ["train", "dnms", "--resume", "--trials", "40", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert np.load(out / "errors.npy").shape == (1, 40)


# ---- one line, exit 2, before any work --------------------------------------------------------
@pytest.mark.parametrize("args,message", [
    (["analyze", "{run}", "--behaviour-trials", "0"], "--behaviour-trials must be an integer >= 1"),
    (["record", "{run}", "-n", "0"], "--trials-per-condition must be an integer >= 1"),
    (["evaluate", "{run}", "--dt", "-3"], "--dt must be a positive number"),
    (["evaluate", "{run}", "--seed", "9"], "--seed 9 was not trained in this run"),
    (["train", "rdm-fixed", "--out", ""], "--out must name a folder"),
    (["train", "rdm-fixed", "--resume", "--overwrite", "--out", "{run}"], "--resume and --overwrite exclude each other"),
    (["train", "rdm-fixed", "--seed", str(2 ** 64), "--out", "{tmp}/s"], "32-bit"),
    (["train", "rdm-fixed", "--out", "{run}/config.json"], "exists and is not a folder"),
    (["train", "rdm-fixed", "--out", "/proc/rewardrnn"], "cannot be created"),
    (["train", "rdm-fixed", "--lr", "inf", "--out", "{tmp}/i"], "--lr must be a positive number"),
    (["train", "rdm-fxed", "--out", "{tmp}/u"], "dnms, dnms-long-delay"),
    (["train", "rdm-fxed", "--out", "{tmp}/u"], "ngym:<NeuroGym environment id>"),
    (["train", "dnms", "--trials", "0", "--out", "{tmp}/t"], "--trials must be an integer >= 1"),
    (["report", "{run}", "-o", "{run}/config.json/x.html"], "exists and is not a folder"),
])
def test_bad_input_is_one_line_and_exit_2(run, tmp_path, args, message):
    before = _snapshot(run)
    args = [a.format(run=run, tmp=tmp_path) for a in args]
    _fails(args, message)
    assert _snapshot(run) == before


def test_an_old_checkpoint_is_refused_naming_its_version(tmp_path):
    from rewardrnn.errors import CheckpointError
    from rewardrnn.training import checkpoint

    header = {"format": "rewardrnn-checkpoint/1", "names": [], "meta": {}}
    np.savez(tmp_path / "old.npz", __header__=np.frombuffer(json.dumps(header).encode(), np.uint8))
    with pytest.raises(CheckpointError, match="written by rewardrnn 0.1"):
        checkpoint.load(tmp_path / "old.npz", {})
