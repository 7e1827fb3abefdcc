"""Sweeps on Ray (``rewardrnn sweep``): a 4-point sweep on the local Ray instance, the results
table and page, --resume skipping finished points, a worker killed with SIGKILL mid-point whose
point resumes from its checkpoint, a point that raises recorded while the others finish, and bad
sweep files refused in one line before any work."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app
from refusals import assert_refused
from waiting import LIMIT_S, wait_for

pytest.importorskip("ray")
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
TINY = 'task = "rdm-fixed"\nN = 16\nn_validation = 20\npatience = 0\n'


def _sweep(args, timeout=LIMIT_S):
    env = dict(os.environ)  # the session's compilation cache (conftest.py)
    return subprocess.run([sys.executable, "-m", "rewardrnn.cli", "sweep", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def four_points(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    path = folder / "sweep.toml"
    # each trained network is also perturbed: one perturbation it takes, one it cannot (a unit past N = 16)
    path.write_text(f"[base]\n{TINY}max_updates = 4\ncheckfreq = 2\n\n[grid]\nlr = [0.002, 0.004]\nseed = [1, 2]\n"
                    "\n[[perturbations]]\nsilence = 'readout:4'\ntrials_per_condition = 2\n"
                    "\n[[perturbations]]\nname = 'past-n'\nsilence = ['20']\ntrials_per_condition = 2\n")
    out = folder / "out"
    # two jobs of two vectorised seeds each, on one Ray worker: the sweep's behaviour (four points,
    # two seeds per job) at one worker's start-up and compilation (two workers side by side are in
    # the killed-worker test below)
    result = _sweep([path, "-o", out, "--workers", "1", "--seeds-per-job", "2"])
    assert result.returncode == 0, result.stderr[-3000:]
    return path, out, result


def test_a_four_point_sweep_runs_on_local_ray(four_points):
    _, out, result = four_points
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 4 and set(table["lr"]) == {0.002, 0.004} and set(table["seed"]) == {1, 2}
    assert (table["status"] == "budget spent").all() and (table["updates"] == 4).all()
    assert "error" not in table or table["error"].isna().all()
    assert table["folder"].nunique() == 2  # one job per lr, seeds 1 and 2 trained together
    for folder, rows in table.groupby("folder"):
        config = json.loads((out / folder / "config.json").read_text())
        assert config["lr"] == rows["lr"].iloc[0] and rows["lr"].nunique() == 1
        assert (config["seed"], config["n_seeds"]) == (1, 2) and sorted(rows["seed"]) == [1, 2]
    assert "4 points: 0 reached the criterion, 0 failed" in result.stdout
    # the perturbations of every seed: intact and perturbed numbers, or the one that could not run
    assert table["silence_readout-4:intact_p_decision"].notna().all()
    assert table["silence_readout-4:perturbed_p_correct"].notna().all()
    assert table["past-n:error"].str.contains("unit 20 is past the network's 16 units").all()
    for folder, seed in zip(table["folder"], table["seed"]):
        summary = json.loads((out / folder / "perturbations" / f"silence_readout-4__seed{seed}" / "summary.json")
                             .read_text())
        assert summary["seed"] == seed and summary["manipulation"]["words"] == "silence readout:4"
    page = (out / "report.html").read_text()
    assert "<h2>lr</h2>" in page and page.count("data:image/png;base64,") == 1
    # every point is a normal run folder: the verbs work on it
    first = out / table["folder"].iloc[0]
    assert runner.invoke(app, ["evaluate", str(first), "-n", "2"]).exit_code == 0
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0


def test_resume_skips_finished_points(four_points):
    path, out, _ = four_points
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/checkpoint.npz")}
    result = _sweep([path, "-o", out, "--resume", "--seeds-per-job", "2"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/checkpoint.npz")} == stamps
    again = _sweep([path, "-o", out])
    assert again.returncode == 2 and "already holds a sweep" in again.stderr


def test_a_killed_worker_resumes_its_point_and_a_failing_point_is_recorded(tmp_path):
    broken = tmp_path / "broken.py"
    # a point that passes the sweep file's checks (which trace every task once, in the driver, before
    # Ray is imported) and fails in its worker, where Ray is loaded
    broken.write_text('import sys\nif "ray" in sys.modules:\n    raise RuntimeError("this task is broken on purpose")\n'
                      + (ROOT / "examples" / "tasks" / "pro_anti.py").read_text().replace('name="pro-anti"',
                                                                                         'name="broken"'))
    path = tmp_path / "sweep.toml"
    base = TINY.replace('task = "rdm-fixed"\n', "")
    path.write_text(f"[base]\n{base}max_updates = 400\ncheckfreq = 10\n\n[grid]\ntask = ['rdm-fixed', '{broken}:PRO_ANTI']\n")
    out = tmp_path / "out"
    env = dict(os.environ)  # the session's compilation cache (conftest.py)
    process = subprocess.Popen([sys.executable, "-m", "rewardrnn.cli", "sweep", str(path), "-o", str(out),
                                "--workers", "2", "--trust-code"],  # --trust-code: the task file this test wrote
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    killed = []

    def kill_a_worker_with_a_checkpoint() -> bool:
        for job in out.glob("task-rdm-fixed*"):
            owner = job / ".rewardrnn.lock.owner"
            if (job / "checkpoint.npz").is_file() and owner.is_file():
                words = owner.read_text().split()  # "process PID (...)", may be half-written
                if len(words) < 2 or not words[1].isdigit():
                    continue
                os.kill(int(words[1]), signal.SIGKILL)
                killed.append(job)
                return True
        return False

    # the event: a worker holds the rdm-fixed point and has saved a checkpoint
    wait_for(kill_a_worker_with_a_checkpoint, "a checkpoint of the rdm-fixed point", process, poll_s=0.05)
    killed = killed[0]
    stdout, stderr = process.communicate(timeout=LIMIT_S)
    assert process.returncode == 0, stderr[-3000:]
    table = pd.read_csv(out / "results.csv").set_index("folder")
    good = table.loc[killed.name]
    assert good["status"] == "budget spent" and good["updates"] == 400 and bool(good["resumed"])
    metrics = pd.read_csv(killed / "metrics.csv")
    assert list(metrics["updates"]) == list(range(0, 401, 10))  # one history, continued, not restarted
    bad = table.drop(killed.name).iloc[0]
    assert bad["status"] == "failed" and "this task is broken on purpose" in str(bad["error"]), table.to_csv()
    assert "1 failed" in stdout


BAD_SWEEPS = [
    ("[base]\ntask = 'rdm-fixed'\n[grid]\nlearning_rate = [0.1]\n", "unknown key(s) ['learning_rate']"),
    ("[base]\ntask = 'rdm-fixed'\n[grid]\nlr = []\n", "grid lr must be a non-empty list"),
    ("[base]\ntask = 'rdm-fixed'\n[grid]\nlr = 0.1\n", "grid lr must be a non-empty list"),
    ("[base]\ntask = 'rdm-fixed'\n[grid]\nlr = ['fast']\n", "lr must be a positive number, got 'fast'"),
    ("[base]\ntask = 'rdm-fixed'\n[grid]\nnonlinearity = ['cube']\n",
     "unknown key(s) ['nonlinearity'] for the actor-critic"),
    ("[base]\ntask = 'dnms'\n[grid]\ndale = [true]\n", "unknown key(s) ['dale'] for the perturbation rule"),
    ("[base]\ntask = 'rdm-fixed'\n[grid]\nseed = [1, 1]\n", "repeats a value"),
    ("[base]\ntask = 'rdm-fixed'\n", "no points"),
    ("[base]\ntask = 'rdm-fixed'\n[grids]\nlr = [0.1]\n", "unknown section(s) ['grids']"),
    ("[base]\nlr = 0.1\n[grid]\nseed = [1]\n", "no task"),
    ("[base]\ntask = 'rdm-fixed'\n[grid]\nseed = [1]\n[[points]]\nseed = 2\n", "is both a grid axis and a key"),
    ("[base]\ntask = 'rdm-fixed'\nn_seeds = 4\n[grid]\nlr = [0.1]\n", "n_seeds must be 1 in a sweep"),
    ("[base]\ntask = 'rdm-fixed'\n[grid]\n'task_settings.rewards.correct' = ['two']\n",
     "rewards.correct must be a number"),
    ("[base]\ntask = 'rdm-fixed\n", "is not valid TOML"),
    ("[base]\ntask = 'no-such-task'\n[grid]\nseed = [1]\n", "unknown task 'no-such-task'"),
    ("[base]\ntask = 'rdm-fixed'\n[grid]\nseed = [1]\n[[perturbations]]\ncut = 'recurrent:2'\n",
     "perturbation 1: --cut 'recurrent:2': the fraction must be in [0, 1]"),
    ("[base]\ntask = 'rdm-fixed'\n[grid]\nseed = [1]\n[[perturbations]]\nlesion = 'all'\n",
     "perturbation 1: unknown key(s) ['lesion']"),
]


@pytest.mark.parametrize("text, message", BAD_SWEEPS, ids=[m for _, m in BAD_SWEEPS])
def test_bad_sweep_files_are_refused_before_any_work(tmp_path, text, message):
    path, out = tmp_path / "sweep.toml", tmp_path / "out"
    path.write_text(text)
    result = runner.invoke(app, ["sweep", str(path), "-o", str(out)])
    assert_refused(result.exit_code, result.output, message)
    assert not out.exists()


def test_bad_options_and_an_unreachable_address_are_refused_before_any_work(tmp_path):
    path, out = tmp_path / "sweep.toml", tmp_path / "out"
    path.write_text("[base]\ntask = 'rdm-fixed'\n[grid]\nseed = [1]\n")
    for args, message in ((["--seeds-per-job", "0"], "--seeds-per-job must be an integer >= 1"),
                          (["--workers", "0"], "--workers must be an integer >= 1"),
                          (["--address", "ray://127.0.0.1:9"], "cannot start or reach Ray at --address")):
        result = _sweep([path, "-o", out, *args])
        assert result.returncode == 2, result.stderr[-2000:]
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert not out.exists()


def test_seeds_that_differ_only_by_seed_share_a_job(tmp_path):
    from rewardrnn.sweeps.spec import read

    path = tmp_path / "sweep.toml"
    path.write_text("[base]\ntask = 'rdm-fixed'\n[grid]\nlr = [0.002, 0.004]\nseed = [1, 2, 3, 5]\n")
    sweep = read(path, seeds_per_job=4)
    assert [(job.varied["lr"], job.seeds) for job in sweep.jobs] == [(0.002, (1, 2, 3)), (0.002, (5,)),
                                                                    (0.004, (1, 2, 3)), (0.004, (5,))]
    assert sweep.jobs[0].config.n_seeds == 3 and sweep.jobs[0].name == "lr-0.002_seed-1-3"
    assert sweep.n_points == 8
