"""The run folder: what a training run leaves on disk, the rules for reusing one, and
:class:`RunFolder`, which reads a finished or running run for every verb.

::

    RUN/config.json       the config as given (null = the task's value; repeats the run) and,
                          under "_run", the run's identity: kind, run id, package version
    RUN/checkpoint.npz    every seed's state and best parameters, history, per-update trace
    RUN/metrics.csv       one row per (seed, validation)
    RUN/summary.json      per seed: status, trials to criterion...; median and IQR; written at the end
    RUN/errors.npy        per-trial errors of every seed (Miconi's rule; a copy of the checkpoint's trace)
    RUN/task_source.py    a copy of the task file the run was trained on (tasks from a file only;
                          config.json's identity records its path and SHA-256)
    RUN/evaluation/ figures/ records/ analysis/ export/ report.html   derived by the other verbs

Every file of a run is written atomically (temporary file, then rename). A lock
(``RUN/.rewardrnn.lock``) keeps a second process from writing the same run.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rewardrnn import safe_files
from rewardrnn.errors import CheckpointError, ConfigError, RunFolderError
from rewardrnn.safe_files import atomic_write_bytes
from rewardrnn.tasks import files as task_files
from rewardrnn.training import checkpoint
from rewardrnn.training.kinds import BY_NAME, RunKind, kind_of
from rewardrnn.training.trainer import TrainerState, initial_state
from rewardrnn.version import __version__

CONFIG = "config.json"
CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.csv"
SUMMARY = "summary.json"
ERRORS = "errors.npy"  # per-trial errors of a run of Miconi's rule (seeds x trials)
LOCK = ".rewardrnn.lock"
LOCK_OWNER = ".rewardrnn.lock.owner"
#: Files a training run owns; --overwrite removes exactly these and the derived outputs.
RUN_FILES = (CONFIG, CHECKPOINT, METRICS, SUMMARY, ERRORS, task_files.SOURCE_COPY)
#: What the other verbs derive from a run's network: removed with the run it came from.
DERIVED = ("evaluation", "figures", "records", "analysis", "export", "perturbations", "report.html")
#: The tag of a run folder's identity in config.json.
RUN_FORMAT = "rewardrnn-run/2"


def write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(Path(path), lambda f: f.write(json.dumps(data, indent=2, allow_nan=True).encode()))


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows as CSV; the columns are the union of the rows' keys, in order of appearance."""
    buffer = io.StringIO()
    if rows:
        names = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(buffer, fieldnames=names, restval="")
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_bytes(Path(path), lambda f: f.write(buffer.getvalue().encode()))


def check_writable_folder(path: Path, what: str) -> Path:
    """``path`` as a folder that exists or can be created and written, or a one-line error
    naming it (``what``: the flag, e.g. ``--out``)."""
    path = Path(path)
    if str(path) in ("", "."):
        raise ConfigError(f"{what} must name a folder, got {str(path)!r}")
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"{what} {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunFolderError(f"{what} {path} cannot be created ({err.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise RunFolderError(f"{what} {path} is not writable")
    return path


_HELD: set[Path] = set()


@contextmanager
def locked(folder: Path):
    """Hold the run folder's lock (``filelock``, released by the kernel if the process dies, so
    a dead process never leaves a stale lock). A second process is refused with a message naming
    the process that holds it. Nested use in one process is allowed."""
    from filelock import FileLock, Timeout

    folder = Path(folder).resolve()
    if folder in _HELD:
        yield
        return
    lock_path, owner = safe_files.inside(folder, LOCK), safe_files.inside(folder, LOCK_OWNER)  # never a link
    if lock_path.is_file() and lock_path.stat().st_nlink > 1:  # filelock truncates it: never another file's data
        raise RunFolderError(f"{lock_path} is a hard link to another file; remove it and run again")
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        who = owner.read_text(errors="replace").strip()[:200] if owner.is_file() else "another process"
        raise RunFolderError(f"{folder} is in use by {who}; wait for it to finish or choose another folder") from None
    except OSError as err:
        raise RunFolderError(f"{folder} cannot be locked ({err.strerror})") from None
    _HELD.add(folder)
    try:
        safe_files.atomic_write_text(owner, f"process {os.getpid()} ({' '.join(Path(sys.argv[0]).name.split())} "
                                            f"{' '.join(sys.argv[1:3])}), since {time.strftime('%H:%M:%S')}")
        yield
    finally:
        _HELD.discard(folder)
        owner.unlink(missing_ok=True)
        lock.release()


def remove_if_unused(folder: Path) -> None:
    """Remove ``folder`` if it holds nothing but its lock file (a run refused before any write)."""
    folder = Path(folder)
    try:
        if {p.name for p in folder.iterdir()} <= {LOCK, LOCK_OWNER}:
            for name in (LOCK, LOCK_OWNER):
                (folder / name).unlink(missing_ok=True)
            folder.rmdir()
    except OSError:
        pass


def read_config_json(run: Path) -> tuple[dict, dict]:
    """(config fields, identity) of ``run``'s config.json, or a one-line error."""
    run = Path(run)
    path = safe_files.inside(run, CONFIG)  # never read through a link
    if not run.is_dir():
        raise RunFolderError(f"{run} is not a run folder (no such folder)")
    if not path.is_file():
        raise RunFolderError(f"{run} is not a run folder (no {CONFIG})")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFolderError(f"{path} is not a rewardrnn run config (unreadable JSON: {err})") from None
    except RecursionError:
        raise RunFolderError(f"{path} is not a rewardrnn run config (nested too deeply)") from None
    if not isinstance(data, dict) or not isinstance(data.get("_run"), dict):
        raise RunFolderError(f"{run} is not a rewardrnn run folder ({CONFIG} has no run identity; a run of "
                             f"rewardrnn 0.1 must be trained again)")
    identity = data.pop("_run")
    if identity.get("format") != RUN_FORMAT or identity.get("kind") not in BY_NAME:
        raise RunFolderError(f"{run} holds a run of format {identity.get('format')!r} kind "
                             f"{identity.get('kind')!r}; this version reads {RUN_FORMAT!r}")
    return data, identity


def new_identity(config) -> dict:
    """A fresh run identity: kind, random run id, package version, start time, and for a task
    from a file its path and SHA-256."""
    identity = {"format": RUN_FORMAT, "kind": kind_of(config).name, "run_id": uuid.uuid4().hex,
                "version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if task_files.is_task_file(config.task):
        identity["task_source"] = task_files.source_record(config.task)
    return identity


def read_run_config(run: Path) -> tuple[dict, dict]:
    """(config fields, identity) of ``run`` as :func:`read_config_json`, with a task from a file
    replaced by the file it may be loaded from (:func:`rewardrnn.tasks.files.task_for_run`: the
    user's trusted copy, or the recorded absolute path outside the folder, unchanged since
    training); a one-line error for a run whose task file is gone, changed, relative, inside the
    folder or a link. Nothing is imported here."""
    data, identity = read_config_json(run)
    if task_files.is_task_file(data.get("task")) or "task_source" in identity:
        data["task"] = task_files.task_for_run(Path(run), data.get("task"), identity.get("task_source"))
    return data, identity


def write_config(out: Path, config, identity: dict) -> None:
    write_json(Path(out) / CONFIG, {**config.to_dict(), "_run": identity})


class RunFolder:
    """A run folder read from its ``config.json``: the kind, the config as given and resolved
    once (a frozen value), the learner built once, the checkpoint and the per-seed parameters."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        data, self.identity = read_run_config(self.path)
        self.kind: RunKind = BY_NAME[self.identity["kind"]]
        self.config = self.kind.config_class.from_dict(data)
        self.resolved = self.config.resolved()

    @property
    def task(self) -> str:
        return self.config.task

    @property
    def seeds(self) -> list[int]:
        return self.config.seeds

    @functools.cached_property
    def learner(self):
        return self.resolved.build_learner()

    def seed_index(self, seed: int | None) -> tuple[int, int]:
        """(index, seed) of ``seed`` in this run (default: its first seed)."""
        if seed is None:
            return 0, self.seeds[0]
        if seed not in self.seeds:
            raise ConfigError(f"--seed {seed} was not trained in this run; its seeds are {self.seeds}")
        return self.seeds.index(seed), seed

    @functools.cached_property
    def state(self) -> TrainerState:
        """Every seed's saved state, read into a template built from one seed's initialisation."""
        n_stages = max(1, len(getattr(self.resolved, "curriculum", [])))  # a kind without variants has none
        one = initial_state(self.learner, self.seeds[:1], n_stages)
        n = len(self.seeds)
        template = jax_tree_map(lambda a: np.broadcast_to(np.asarray(a), (n,) + np.shape(a)[1:]), one)
        path = safe_files.inside(self.path, CHECKPOINT)
        if not path.is_file():
            raise RunFolderError(f"{self.path} has no {CHECKPOINT}: its training has not saved a state yet")
        state, meta = checkpoint.load(path, template)
        if meta.get("run_id") != self.identity["run_id"]:
            raise CheckpointError(f"{path} belongs to another run (run id {meta.get('run_id')}, this folder's "
                                  f"{self.identity['run_id']}); it was copied in from elsewhere")
        return state

    def best_params(self, seed: int | None = None):
        """The best parameters of ``seed`` (one seed's pytree, numpy); refuses non-finite ones."""
        i, s = self.seed_index(seed)
        params = jax_tree_map(lambda a: np.asarray(a[i]), self.state.best)
        if not all(np.isfinite(leaf).all() for leaf in _float_leaves(params)):
            raise RunFolderError(f"seed {s} of {self.path} has non-finite parameters: it diverged "
                                 f"(see {METRICS}); nothing to evaluate")
        return params

    def learner_state(self, seed: int | None = None):
        """The learner state of ``seed`` at the last checkpoint (masks, optimiser...)."""
        i, _ = self.seed_index(seed)
        return jax_tree_map(lambda a: np.asarray(a[i]), self.state.learner)

    def best_update(self, seed: int | None = None) -> int:
        i, _ = self.seed_index(seed)
        return int(self.state.best_update[i])

    def summary(self) -> dict:
        path = safe_files.inside(self.path, SUMMARY)
        return json.loads(path.read_text()) if path.is_file() else {}

    def trace(self) -> np.ndarray:
        """The per-update trace of the learner's trace metric (seeds x updates; NaN after a seed
        stopped); empty if the learner keeps none."""
        return checkpoint.read_extras(safe_files.inside(self.path, CHECKPOINT)).get("trace", np.zeros((len(self.seeds), 0)))

    def derived_path(self, *parts: str) -> Path:
        """``RUN/parts...``, refused (one line) if any part of it is a link (it may not exist)."""
        return safe_files.inside(self.path, *parts)

    def derived_folder(self, *parts: str) -> Path:
        """The folder ``RUN/parts...``, created if missing; refused (one line) if any part is a link."""
        return safe_files.folder_inside(self.path, *parts)


def jax_tree_map(fn, tree):
    import jax

    return jax.tree_util.tree_map(fn, tree)


def _float_leaves(tree):
    import jax

    return [leaf for leaf in jax.tree_util.tree_leaves(tree) if np.issubdtype(np.asarray(leaf).dtype, np.floating)]


def _has_history(out: Path) -> bool:
    path = out / METRICS
    return path.is_file() and len(path.read_text().strip().splitlines()) > 1


def prepare(out: Path, config, resume: bool, overwrite: bool, before_write=lambda: None) -> tuple[Any, dict, bool]:
    """Check ``out`` before any work; returns (config to run, identity, whether to load the
    checkpoint). ``before_write()`` runs after the checks and before anything is written or
    removed (the caller builds its learner there, so that a task that cannot be built leaves the
    folder as it was). Writes nothing but the fresh run's config.json (and, with ``overwrite``,
    removes the replaced rewardrnn run and everything derived from it).

    A fresh folder (or ``overwrite``) starts a new run. ``resume`` continues the run saved in
    ``out``; its config must equal ``config`` except for the kind's resumable keys. A folder
    that holds a run is never silently reused, and a folder that holds something that is not a
    rewardrnn run is never deleted."""
    out = Path(out)
    kind = kind_of(config)
    has_run = (out / CONFIG).exists() or (out / CHECKPOINT).exists()
    if resume:
        if not (out / CONFIG).exists():
            raise RunFolderError(f"cannot resume: {out} holds no run (no {CONFIG})")
        data, identity = read_run_config(out)
        if identity["kind"] != kind.name:
            raise RunFolderError(f"{out} holds a run of {BY_NAME[identity['kind']].title}; choose another --out")
        saved = kind.config_class.from_dict(data).to_dict()
        differing = [k for k, v in config.to_dict().items() if k not in _resumable(kind) and saved.get(k) != v]
        if differing:
            details = ", ".join(f"{k}: saved {saved.get(k)!r} vs given {config.to_dict()[k]!r}" for k in differing)
            raise RunFolderError(f"{out} holds a different run ({details}); resume it with the same "
                                 f"options or choose another --out")
        if not (out / CHECKPOINT).exists():
            if _has_history(out):
                raise RunFolderError(f"cannot resume: {out} has a training history but no {CHECKPOINT} (deleted?); "
                                     f"pass --overwrite to train it again from the start")
            before_write()
            return config, identity, False
        before_write()
        return config, identity, True
    if has_run:
        if not overwrite:
            what = "a checkpoint"
            if (out / CONFIG).exists():
                try:
                    data, _ = read_config_json(out)
                    what = f"task {data.get('task')}, seed {data.get('seed')}"
                except RunFolderError:
                    what = f"a {CONFIG} that is not a rewardrnn run"
            raise RunFolderError(f"{out} already holds a run ({what}); pass --resume to continue it, "
                                 f"--overwrite to replace it, or choose another --out")
        if (out / CONFIG).exists():
            read_config_json(out)  # never delete what is not a rewardrnn run
        elif not (out / METRICS).exists():
            raise RunFolderError(f"{out} holds a {CHECKPOINT} but no {CONFIG}; not replacing what may not be "
                                 f"a rewardrnn run: choose another --out")
        safe_files.check_removable(out, RUN_FILES + DERIVED)  # every check before anything is deleted
        before_write()
        for name in RUN_FILES + DERIVED:
            safe_files.remove_inside(out, name)
    else:
        others = sorted(p.name for p in out.iterdir() if p.name not in (LOCK, LOCK_OWNER))
        if others:  # never spread a run's files among someone else's
            raise RunFolderError(f"{out} is not empty and holds no run ({', '.join(others[:3])}"
                                 f"{', ...' if len(others) > 3 else ''}); choose a new or empty --out")
        before_write()
    identity = new_identity(config)
    write_config(out, config, identity)
    if "task_source" in identity:
        atomic_write_bytes(out / task_files.SOURCE_COPY, lambda f: f.write(Path(identity["task_source"]["path"]).read_bytes()))
    return config, identity, False


def _resumable(kind: RunKind) -> tuple[str, ...]:
    import importlib

    return importlib.import_module(kind.config_class.__module__).RESUMABLE_CHANGES
