"""A run folder (sweep file, run file) from someone else is data: opening it with any verb never
runs code the user did not trust, never writes, reads or deletes outside the folder, never
exhausts the machine, and every refusal is one line with exit 2 (docs/run-folders.md, "Threat
model"). Each case builds its hostile folder from a real trained run and checks that a marker
file does not appear, that a victim file outside stays byte-identical and that the run's
checkpoint is intact."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rewardrnn
from rewardrnn.cli import app
from rewardrnn.errors import RewardRNNError
from refusals import assert_refused
from waiting import LIMIT_S

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--N", "16", "--max-updates", "2", "--checkfreq", "1", "--n-validation", "20", "-q"]
PAYLOAD = "\nopen({marker!r}, 'w').write('the folder ran code')\n"


def _refused(args, message):
    result = runner.invoke(app, [str(a) for a in args])
    assert_refused(result.exit_code, result.output, message)
    return result


def _cli(args, file_size_limit=None, env=None):
    """The CLI in a subprocess (for what must not happen in this process: an import, a limit).
    ``file_size_limit`` (bytes): a write past it fails (EFBIG) as on a full disk; set by a small
    launcher that then execs the CLI (no preexec_fn: this process runs JAX's threads)."""
    command = [sys.executable, "-m", "rewardrnn.cli", *map(str, args)]
    if file_size_limit is not None:
        launcher = ("import os, resource, signal, sys\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
                    f"resource.setrlimit(resource.RLIMIT_FSIZE, ({file_size_limit}, {file_size_limit}))\n"
                    "os.execv(sys.executable, sys.argv[1:])\n")
        command = [sys.executable, "-c", launcher, *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=LIMIT_S, env=env or dict(os.environ),
                          cwd=ROOT)


def _digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("security") / "run"
    result = runner.invoke(app, ["train", "rdm-fixed", "--out", str(out)] + TINY)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def trained_from_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("security_task")
    task = folder / "pro_anti.py"
    shutil.copy(ROOT / "examples" / "tasks" / "pro_anti.py", task)
    out = folder / "hrun"
    result = runner.invoke(app, ["train", f"{task}:PRO_ANTI", "--out", str(out)] + TINY)
    assert result.exit_code == 0, result.output
    return out, task


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text("a colleague's data\n")
    return path


def _hostile_task_run(trained_from_file, tmp_path, absolute: bool):
    """The run trained from a task file, with one line added to its task_source.py and config.json
    pointing at that file (relative or absolute, inside the folder), hashed by the attacker."""
    source, _ = trained_from_file
    run = tmp_path / "hrun"
    shutil.copytree(source, run)
    marker = tmp_path / "MARKER"
    copy = run / "task_source.py"
    copy.write_text(copy.read_text() + PAYLOAD.format(marker=str(marker)))
    path = str(copy) if absolute else "hrun/task_source.py"
    config = json.loads((run / "config.json").read_text())
    config["task"] = f"{path}:PRO_ANTI"
    config["_run"]["task_source"] = {"path": path, "name": "PRO_ANTI", "sha256": _digest(copy)}
    (run / "config.json").write_text(json.dumps(config))
    return run, marker


# ---- no code because a folder says so -----------------------------------------------------------
@pytest.mark.parametrize("absolute", [False, True], ids=["relative path", "absolute path inside the folder"])
def test_a_task_file_planted_in_the_run_folder_never_runs(trained_from_file, tmp_path, monkeypatch, absolute):
    run, marker = _hostile_task_run(trained_from_file, tmp_path, absolute)
    monkeypatch.chdir(tmp_path)  # where the relative path would find the planted file
    checkpoint = _digest(run / "checkpoint.npz")
    message = "relative path" if not absolute else "inside itself"
    for verb in (["evaluate", "hrun"], ["config", "hrun"], ["report", "hrun"], ["export", "hrun"],
                 ["evaluate", "hrun", "--trust-code"], ["report", "hrun", "--trust-code"]):
        _refused(verb, message)
    for trust_code in (False, True):
        with pytest.raises(RewardRNNError, match=message):
            rewardrnn.load_run("hrun", trust_code=trust_code)
    assert not marker.exists() and _digest(run / "checkpoint.npz") == checkpoint


def test_a_task_file_runs_only_when_this_user_trusts_its_content(trained_from_file, tmp_path, monkeypatch):
    source, task = trained_from_file
    run = tmp_path / "hrun"
    shutil.copytree(source, run)
    monkeypatch.setenv("REWARDRNN_TRUST_FILE", str(tmp_path / "colleague-trust.json"))  # another user
    _refused(["evaluate", run, "-n", "1"], f"task file {task} (sha256")
    _refused(["config", run], "rewardrnn trust")
    with pytest.raises(RewardRNNError, match="not in your list of trusted task files"):
        rewardrnn.load_run(run)
    run_file = tmp_path / "theirs.toml"  # a run file from someone else is data too
    run_file.write_text(f'task = "{task}:PRO_ANTI"\nN = 16\n')
    _refused(["train", "--config", run_file, "--out", tmp_path / "out"], "not in your list of trusted task files")
    assert not (tmp_path / "out").exists()
    result = runner.invoke(app, ["evaluate", str(run), "-n", "1", "--trust-code"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["evaluate", str(run), "-n", "1"]).exit_code == 0  # remembered


def test_a_colleagues_run_opens_from_the_users_reviewed_copy(trained_from_file, tmp_path, monkeypatch):
    source, task = trained_from_file
    run = tmp_path / "hrun"
    shutil.copytree(source, run)
    monkeypatch.setenv("REWARDRNN_TRUST_FILE", str(tmp_path / "colleague-trust.json"))
    config = json.loads((run / "config.json").read_text())  # the recorded path is on another machine
    elsewhere = "/nonexistent/lab/pro_anti.py"
    config["task"], config["_run"]["task_source"]["path"] = f"{elsewhere}:PRO_ANTI", elsewhere
    (run / "config.json").write_text(json.dumps(config))
    _refused(["evaluate", run, "-n", "1"], "is gone")
    mine = tmp_path / "mine" / "pro_anti.py"
    mine.parent.mkdir()
    shutil.copy(run / "task_source.py", mine)
    result = runner.invoke(app, ["trust", str(mine)])
    assert result.exit_code == 0 and "trusted" in result.output, result.output
    result = runner.invoke(app, ["evaluate", str(run), "-n", "1"])
    assert result.exit_code == 0, result.output
    # a trusted copy inside the run folder is never used
    monkeypatch.setenv("REWARDRNN_TRUST_FILE", str(tmp_path / "third-trust.json"))
    assert runner.invoke(app, ["trust", str(run / "task_source.py")]).exit_code == 0
    _refused(["evaluate", run, "-n", "1"], "is gone")


def test_a_task_file_is_never_imported_through_a_link(trained_from_file, tmp_path):
    _, task = trained_from_file
    link = tmp_path / "link.py"
    link.symlink_to(task)
    _refused(["train", f"{link}:PRO_ANTI", "--out", tmp_path / "out"] + TINY, "is a link")
    _refused(["trust", link], "is a link")
    assert not (tmp_path / "out").exists()


def test_a_task_file_that_exits_or_fails_at_import_or_on_a_trial_is_one_line(trained_from_file, tmp_path):
    _, task = trained_from_file
    cases = {"os_exit.py": ("import os\nos._exit(0)\n", "it called os._exit(0)"),
             "sys_exit.py": ("import sys\nsys.exit(3)\n", "it called sys.exit(3)"),
             "mean_raises.py": (task.read_text().replace("def mean_inputs(v, on):\n",
                                                         "def mean_inputs(v, on):\n    raise ValueError('broken')\n")
                                .replace('name="pro-anti"', 'name="raises"'), "fails on a trial: ValueError: broken")}
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        out = tmp_path / f"out_{name}"
        _refused(["train", f"{path}:PRO_ANTI", "--out", out] + TINY, message)  # in this process: it must survive
        assert not out.exists()  # no config.json left behind


def test_ngym_ids_never_import_a_module(trained, tmp_path):
    marker = tmp_path / "MARKER"
    result = _cli(["train", "ngym:this:Foo-v0", "--out", tmp_path / "out"])
    assert result.returncode == 2 and "Beautiful is better than ugly" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    # a folder whose config names gymnasium's module:Env form: opened from the Python API
    hrun = tmp_path / "hrun"
    hrun.mkdir()
    (hrun / "__init__.py").write_text("")
    (hrun / "payload.py").write_text(PAYLOAD.format(marker=str(marker)))
    identity = json.loads((trained / "config.json").read_text())["_run"]
    identity["kind"] = "actor-critic/ngym"
    (hrun / "config.json").write_text(json.dumps({"task": "ngym:hrun.payload:Foo-v0", "_run": identity}))
    script = ("import sys, rewardrnn\nfrom rewardrnn.errors import RewardRNNError\ntry:\n    rewardrnn.load_run('hrun')\n"
              "except RewardRNNError as error:\n    print('refused', error)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=LIMIT_S, cwd=tmp_path)
    assert out.stdout.startswith("refused"), out.stdout + out.stderr
    assert not marker.exists()


def test_a_typo_in_neurogym_timing_is_refused(tmp_path):
    pytest.importorskip("neurogym")
    result = _cli(["train", "ngym:PerceptualDecisionMaking-v0", "--env-kwargs", '{"timing": {"sampel": 500}}',
                   "--out", tmp_path / "out"])
    assert_refused(result.returncode, result.stderr, "has no epoch(s) ['sampel'] in timing")
    assert not (tmp_path / "out").exists()


# ---- writes stay inside the folder -------------------------------------------------------------
@pytest.mark.parametrize("name", [".rewardrnn.lock.owner", ".rewardrnn.lock", "config.json", "checkpoint.npz"])
def test_a_linked_lock_or_run_file_is_refused(run, victim, name):
    before = victim.read_bytes()
    (run / name).unlink(missing_ok=True)
    (run / name).symlink_to(victim)
    _refused(["evaluate", run, "-n", "1"], "is a link")
    assert victim.read_bytes() == before


def test_planted_temporaries_are_never_written_through(run, victim):
    before = victim.read_bytes()
    (run / "records" / "seed1").mkdir(parents=True)
    for planted in (run / "records" / "seed1" / "trials.csv.partial", run / "report.html.partial",
                    run / ".checkpoint.npz.tmp"):
        planted.symlink_to(victim)
    for verb in (["record", run, "-n", "1"], ["analyze", run, "--behaviour-trials", "1"], ["report", run],
                 ["train", "rdm-fixed", "--resume", "--max-updates", "3", "--out", run, "-q"]):
        result = runner.invoke(app, [str(a) for a in verb])
        assert result.exit_code == 0, result.output
    assert victim.read_bytes() == before


@pytest.mark.parametrize("folder, verb", [("evaluation", ["evaluate", "-n", "1"]), ("figures", ["plot"]),
                                          ("records", ["record", "-n", "1"]), ("export", ["export"]),
                                          ("analysis", ["analyze", "--behaviour-trials", "1"])])
def test_a_linked_derived_folder_is_refused(run, tmp_path, folder, verb):
    outside = tmp_path / "outside"
    outside.mkdir()
    (run / folder).symlink_to(outside, target_is_directory=True)
    _refused([verb[0], run, *verb[1:]], "is a link")
    assert list(outside.iterdir()) == []


def test_overwrite_with_a_linked_folder_deletes_nothing(run, tmp_path, victim):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(victim, outside / "kept.txt")
    (run / "figures").symlink_to(outside, target_is_directory=True)
    before = {name: _digest(run / name) for name in ("config.json", "checkpoint.npz", "metrics.csv")}
    _refused(["train", "rdm-fixed", "--overwrite", "--out", run] + TINY, "is a link")
    assert {name: _digest(run / name) for name in before} == before
    assert (outside / "kept.txt").read_bytes() == victim.read_bytes()


def test_a_sweep_never_deletes_outside_itself(trained, tmp_path):
    victim_run = tmp_path / "victim_run"
    shutil.copytree(trained, victim_run)
    sweep = tmp_path / "sw.toml"
    sweep.write_text("[base]\ntask = 'rdm-fixed'\nN = 16\n[grid]\nseed = [1]\n")
    trav = tmp_path / "trav"
    trav.mkdir()
    (trav / "sweep.json").write_text(json.dumps({"axes": ["seed"], "base": {}, "jobs": [{"name": "../victim_run"}]}))
    before = _digest(victim_run / "checkpoint.npz")
    _refused(["sweep", sweep, "--overwrite", "-o", trav], "does not lie inside")
    _refused(["report", trav], "does not lie inside")
    assert _digest(victim_run / "checkpoint.npz") == before and (victim_run / "config.json").is_file()


def test_the_report_embeds_no_file_from_outside(run, victim):
    result = runner.invoke(app, ["analyze", str(run), "--behaviour-trials", "1"])
    assert result.exit_code == 0, result.output
    png = next((run / "analysis" / "seed1").glob("*.png"))
    png.unlink()
    png.symlink_to(victim)
    _refused(["report", run], "is a link")
    assert not (run / "report.html").exists()


def test_train_never_writes_into_a_folder_of_other_files(tmp_path, victim):
    before = victim.read_bytes()
    _refused(["train", "rdm-fixed", "--out", tmp_path] + TINY, "is not empty and holds no run (victim.txt)")
    assert victim.read_bytes() == before and not (tmp_path / "config.json").exists()


def test_an_experiment_never_writes_into_a_run_folder(run):
    before = _digest(run / "summary.json")
    _refused(["experiment", "baselines", "-o", run, "--seeds", "1", "--trials", "100"], "holds a run")
    assert _digest(run / "summary.json") == before and not (run / "dnms").exists()


# ---- bounded resources, refused up front --------------------------------------------------------
def test_sizes_beyond_the_machine_are_refused_up_front(run, tmp_path):
    sweep = tmp_path / "huge.toml"
    axes = "\n".join(f"{key} = [{', '.join(str(v) for v in values)}]" for key, values in {
        "seed": range(1, 11), "lr": [0.001 * i for i in range(1, 11)], "baseline_lr": [0.001 * i for i in range(1, 11)],
        "N": range(10, 20), "n_validation": range(10, 20), "checkfreq": range(1, 11), "patience": range(1, 11)}.items())
    sweep.write_text(f"[base]\ntask = 'rdm-fixed'\n[grid]\n{axes}\n")
    _refused(["sweep", sweep, "-o", tmp_path / "sw"], "has 10,000,000 points, more than the 10,000 allowed")
    assert runner.invoke(app, ["record", str(run), "-n", "1"]).exit_code == 0
    _refused(["fixedpoints", run, "--candidates", "1000000000"], "--candidates 1,000,000,000 (16 units) needs about")
    _refused(["train", "rdm-fixed", "--set", "tmax_ms=1e12", "--out", tmp_path / "long"], "at most 20,000 steps")
    config = json.loads((run / "config.json").read_text())
    config["n_seeds"] = 1_000_000_000
    (run / "config.json").write_text(json.dumps(config))
    _refused(["evaluate", run], "n_seeds must be at most 4,096")
    assert not (tmp_path / "sw").exists() and not (tmp_path / "long").exists()


# ---- one line where a traceback was --------------------------------------------------------------
def test_a_full_disk_keeps_the_last_checkpoint_and_resume_works_after(run):
    checkpoint = run / "checkpoint.npz"
    before = _digest(checkpoint)
    env = dict(os.environ, REWARDRNN_COMPILATION_CACHE="0")  # no cache entry is cut short either
    result = _cli(["train", "rdm-fixed", "--resume", "--max-updates", "4", "--out", run, "-q"],
                  checkpoint.stat().st_size // 2, env)
    assert_refused(result.returncode, result.stderr, f"cannot write {run / 'checkpoint.npz'}")
    assert _digest(checkpoint) == before and not list(run.glob(".checkpoint.npz.*"))
    result = _cli(["record", run, "-n", "20"], 20_000, env)
    assert_refused(result.returncode, result.stderr, "cannot write")
    assert not (run / "records" / "seed1" / "activity.nc").exists() and not list(run.rglob("*.tmp*"))
    result = runner.invoke(app, ["train", "rdm-fixed", "--resume", "--max-updates", "4", "--out", str(run), "-q"])
    assert result.exit_code == 0, result.output  # space freed: the run continues


def test_unreadable_records_and_checkpoints_are_one_line(run):
    assert runner.invoke(app, ["record", str(run), "-n", "1"]).exit_code == 0
    activity = run / "records" / "seed1" / "activity.nc"
    activity.write_bytes(activity.read_bytes()[:3000])
    for verb in (["analyze", run], ["fixedpoints", run], ["export", run, "--format", "nwb"]):
        if verb[-1] == "nwb":
            pytest.importorskip("pynwb")
        _refused(verb, "is truncated or not an activity dataset")
    import numpy as np

    saved = dict(np.load(run / "checkpoint.npz"))
    header = json.loads(saved["__header__"].tobytes())
    for damage, message in ((lambda h, a: h.pop("names"), "lacks or mangles names"),
                            (lambda h, a: a.update(leaf0=a["leaf0"].astype(np.float64)), "is float64, this run expects")):
        arrays, head = dict(saved), json.loads(json.dumps(header))
        damage(head, arrays)
        arrays["__header__"] = np.frombuffer(json.dumps(head).encode(), np.uint8)
        with open(run / "checkpoint.npz", "wb") as f:
            np.savez(f, **arrays)
        _refused(["evaluate", run], message)
    (run / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    _refused(["evaluate", run], "nested too deeply")


# ---- silently accepted before ---------------------------------------------------------------------
def test_an_entropy_bonus_that_overflows_is_refused(tmp_path):
    _refused(["train", "rdm-fixed", "--entropy-bonus", "1e30", "--out", tmp_path / "out"], "--entropy-bonus must be")
    assert not (tmp_path / "out").exists()
