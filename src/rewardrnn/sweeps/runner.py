"""Run a sweep's jobs on Ray: a local instance by default (no dashboard, one worker per core, each
with its share of the cores), or a running cluster (``--address auto``, ``ray://HOST:PORT``).

The sweep folder::

    DIR/sweep.json        the jobs (name, varied values, seeds, kind, config): what --resume checks
    DIR/sweep.toml        a copy of the sweep file
    DIR/<job>/            one normal run folder per job (every verb works on it)
    DIR/results.csv       one row per point and seed, rewritten as jobs finish
    DIR/report.html       trials to criterion against each swept option, and the table

A job that raises is recorded with its message and the others go on; a job whose worker dies is
retried by Ray (``max_retries``) and resumes from its last checkpoint; Ctrl-C cancels the running
jobs and keeps every finished one; ``--resume`` skips finished jobs and resumes the others.
"""

from __future__ import annotations

import dataclasses

import json
import sys
import time
from pathlib import Path
from typing import Any

from rewardrnn import safe_files
from rewardrnn.errors import ConfigError, RunFolderError
from rewardrnn.sweeps import results
from rewardrnn.sweeps.spec import Job, Sweep
from rewardrnn.training import run_folder

SWEEP_JSON = "sweep.json"
SWEEP_COPY = "sweep.toml"
#: Retries of a job whose worker died (kill -9, out of memory, a lost node).
MAX_RETRIES = 3


def run(sweep: Sweep, sweep_file: Path, out: Path, *, address: str | None = None, resume: bool = False,
        overwrite: bool = False, workers: int | None = None, gpus_per_job: float | None = None,
        progress: bool = True):
    """Run every job of ``sweep`` not finished yet into ``out``; returns the results table."""
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other: continue the sweep or replace it")
    out = Path(out)
    _check_folder(out, sweep, resume, overwrite)
    _check_gpu_share(gpus_per_job)
    todo = [job for job in sweep.jobs if not (resume and results.finished(out / job.name))]
    running = {job.name for job in todo}
    ray = _import_ray()
    started_ray = _connect(ray, address, workers, bool(todo))  # before anything is written
    try:
        out = run_folder.check_writable_folder(out, "--out")
        for job in sweep.jobs:  # a job folder planted as a link is refused, never trained through
            safe_files.inside(out, job.name)
        with run_folder.locked(out):
            if overwrite and (out / SWEEP_JSON).is_file():
                _remove_previous(out)
            _write_sweep(out, sweep, sweep_file)
            outcomes = {job.name: results.outcome_of_folder(out / job.name, perturbations=sweep.perturbations)
                        for job in sweep.jobs if job.name not in running}
            table = results.write(out, sweep, outcomes)
            if todo:
                table = _run_jobs(ray, sweep, todo, out, outcomes, gpus_per_job, progress)
            results.write_page(out, sweep, table)
    finally:
        if started_ray:
            ray.shutdown()
    return table


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("rewardrnn sweep runs on Ray: pip install 'rewardrnn[sweep]'") from None
    return ray


def _connect(ray, address: str | None, workers: int | None, needed: bool) -> bool:
    """Start a local Ray instance (or join ``address``); returns whether this call started it."""
    from rewardrnn import runtime

    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"--workers must be an integer >= 1, got {workers!r}")
    if not needed:
        return False
    if ray.is_initialized():
        return False
    cores = runtime.cores()
    n_workers = workers or cores
    env = runtime.worker_environment(max(1, cores // n_workers))
    env["REWARDRNN_COMPILATION_CACHE"] = _cache_setting()
    from rewardrnn.tasks import trust

    env["REWARDRNN_TRUST_FILE"] = str(trust.store_path())  # the workers trust what this user trusts
    options = dict(include_dashboard=False, log_to_driver=False, configure_logging=False,
                   runtime_env={"env_vars": env})
    import warnings

    warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)  # Ray's fork+exec of its daemons
    try:
        if address is None:
            ray.init(num_cpus=n_workers, **options)
        else:
            if workers is not None:
                raise ConfigError("--workers sets up a local Ray instance; a cluster at --address has its own")
            ray.init(address=address, **options)
    except ConfigError:
        raise
    except Exception as error:  # Ray's own errors for unreachable or malformed addresses
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"cannot start or reach Ray at --address {address}: {message}") from None
    return True


def _cache_setting() -> str:
    import os

    return os.environ.get("REWARDRNN_COMPILATION_CACHE", "")


def _check_folder(out: Path, sweep: Sweep, resume: bool, overwrite: bool) -> None:
    """A folder that holds another sweep is never reused silently; ``resume`` needs the same jobs."""
    saved = out / SWEEP_JSON
    if resume:
        if not saved.is_file():
            raise RunFolderError(f"cannot resume: {out} holds no sweep (no {SWEEP_JSON})")
        from rewardrnn.sweeps.spec import read_saved

        before = read_saved(out)["jobs"]
        now = _jobs_json(sweep)
        if before != now:
            old, new = {j["name"]: j for j in before}, {j["name"]: j for j in now}
            differing = sorted(set(old) ^ set(new)) or sorted(k for k in old if old[k] != new[k])
            raise RunFolderError(f"{out} holds a different sweep (jobs {differing[:3]} differ); resume it with the "
                                 f"same sweep file or choose another --out")
        return
    if saved.is_file() and not overwrite:
        raise RunFolderError(f"{out} already holds a sweep; pass --resume to continue it, --overwrite to replace "
                             f"it, or choose another --out")
    if saved.is_file():  # --overwrite: what it will remove is checked now, before Ray starts
        safe_files.check_removable(out, saved_job_names(out))
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} exists and is not a folder")
    if not saved.is_file() and out.is_dir() and any(out.iterdir()):
        raise RunFolderError(f"{out} is not empty and holds no sweep; choose another --out")


def _remove_previous(out: Path) -> None:
    """Remove the run folders and files of the sweep saved in ``out`` (nothing else). Every job
    folder named by ``sweep.json`` must be a plain name inside ``out`` (never a link, never ``..``)
    and hold a rewardrnn run; all are checked before anything is removed."""
    names = saved_job_names(out)
    files = (results.RESULTS, results.PAGE, SWEEP_JSON, SWEEP_COPY)
    safe_files.check_removable(out, names + list(files))
    for name in names:
        if (out / name).is_dir():
            run_folder.read_config_json(out / name)  # never delete what is not a rewardrnn run
    for name in names + list(files):
        safe_files.remove_inside(out, name)


def saved_job_names(out: Path) -> list[str]:
    """The job folders of the sweep saved in ``out``, each checked to be one plain name inside it."""
    from rewardrnn.sweeps.spec import read_saved

    return [job["name"] for job in read_saved(out)["jobs"]]


def _jobs_json(sweep: Sweep) -> list[dict[str, Any]]:
    return json.loads(json.dumps([{"name": j.name, "varied": j.varied, "seeds": list(j.seeds), "kind": j.kind.name,
                                   "config": j.config.to_dict()} for j in sweep.jobs]))


def _write_sweep(out: Path, sweep: Sweep, sweep_file: Path) -> None:
    run_folder.write_json(out / SWEEP_JSON, {"axes": list(sweep.axes), "base": sweep.base, "jobs": _jobs_json(sweep),
                                             "perturbations": [dataclasses.asdict(p) for p in sweep.perturbations]})
    run_folder.atomic_write_bytes(out / SWEEP_COPY, lambda f: f.write(Path(sweep_file).read_bytes()))


def _run_jobs(ray, sweep: Sweep, todo: list[Job], out: Path, outcomes: dict, gpus_per_job: float | None,
              progress: bool):
    from rewardrnn.sweeps.worker import train_job

    gpus = _gpus_per_job(ray, gpus_per_job)
    remote = ray.remote(train_job).options(num_cpus=1, num_gpus=gpus, max_retries=MAX_RETRIES,
                                           retry_exceptions=False)
    perturbations = [dataclasses.asdict(p) for p in sweep.perturbations]
    pending = {remote.remote(job.kind.name, job.config.to_dict(), str(out / job.name), perturbations): job
               for job in todo}
    slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
    display = _Display(len(sweep.jobs), len(sweep.jobs) - len(todo), slots, enabled=progress)
    table = None
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=2.0)
            for ref in ready:
                job = pending.pop(ref)
                try:
                    summary = ray.get(ref)
                    outcomes[job.name] = results.outcome_of_folder(out / job.name, summary["resumed"],
                                                                   summary["job_wall_s"], sweep.perturbations,
                                                                   summary.get("perturbation_errors"))
                    display.finished(job, ok=True)
                except Exception as error:  # the job raised (or died more often than its retries)
                    outcomes[job.name] = results.outcome_of_error(_one_line(error))
                    display.finished(job, ok=False, message=_one_line(error))
                table = results.write(out, sweep, outcomes)
            display.show(len(pending))
    except KeyboardInterrupt:
        for ref, job in pending.items():
            ray.cancel(ref, force=True)
            if (out / job.name / run_folder.CONFIG).is_file():  # started: "interrupted", resumable
                outcomes[job.name] = {"error": None, "seeds": {}}
        results.write(out, sweep, outcomes)
        raise
    return table if table is not None else results.write(out, sweep, outcomes)


def _check_gpu_share(gpus_per_job: float | None) -> None:
    if gpus_per_job is not None and (isinstance(gpus_per_job, bool) or not 0 <= gpus_per_job <= 1):
        raise ConfigError(f"--gpus-per-job must be a number in [0, 1], got {gpus_per_job!r}")


def _gpus_per_job(ray, gpus_per_job: float | None) -> float:
    """The GPU share of a job: as given, or a quarter of a GPU when the cluster has GPUs."""
    if gpus_per_job is not None:
        return float(gpus_per_job)
    return 0.25 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0


def _one_line(error: BaseException) -> str:
    """The job's own error in one line (Ray wraps it in a traceback)."""
    cause = getattr(error, "cause", None) or error
    text = str(cause).strip().splitlines()
    last = [line for line in text if line.strip()]
    return f"{type(cause).__name__}: {last[-1].strip() if last else ''}"[:300]


class _Display:
    """Done / running / failed, with an ETA from the mean time per finished job."""

    def __init__(self, total: int, done: int, slots: int, enabled: bool):
        self.total, self.done, self.failed, self.slots, self.enabled = total, done, 0, slots, enabled
        self.started, self.finished_here = time.perf_counter(), 0
        self.interactive = sys.stderr.isatty()
        self.last = ""

    def finished(self, job: Job, ok: bool, message: str = "") -> None:
        self.done += 1
        self.finished_here += 1
        self.failed += not ok
        if self.enabled:
            state = "done" if ok else f"FAILED ({message})"
            print(f"  {job.name}: {state}", file=sys.stderr, flush=True)

    def show(self, pending: int) -> None:
        """One status line: in place on a terminal, printed when it changes otherwise."""
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        left = self.total - self.done
        running = min(pending, self.slots)
        eta = f"ETA {left * elapsed / self.finished_here:.0f} s" if self.finished_here and left else "ETA –"
        state = (f"sweep: {self.done - self.failed}/{self.total} done, {running} running, {pending - running} queued, "
                 f"{self.failed} failed")
        if self.interactive:
            print(f"\r{state} · {elapsed:.0f} s · {eta}   ", end="" if left else "\n", file=sys.stderr, flush=True)
        elif state != self.last:
            print(f"{state} · {elapsed:.0f} s · {eta}", file=sys.stderr, flush=True)
        self.last = state
