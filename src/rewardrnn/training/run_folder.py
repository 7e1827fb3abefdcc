"""The run folder: what a training run leaves on disk, and the rules for reusing one.

::

    RUN/config.json       the TrainConfig as given (null = the task's value; TrainConfig.from_dict repeats it)
    RUN/checkpoint.npz    current and best parameters of every seed, optimiser and RNG state
    RUN/metrics.csv       one row per (seed, validation)
    RUN/summary.json      trials and seconds to criterion per seed and the resolved config, written at the end
    RUN/errors.npy        per-trial errors of every seed (Miconi's rule only)
    RUN/evaluation/       `rewardrnn evaluate` output
    RUN/figures/          `rewardrnn plot` output
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

from rewardrnn.errors import RunFolderError
from rewardrnn.training.checkpoint import atomic_write_bytes
from rewardrnn.training.config import RESUMABLE_CHANGES, TrainConfig

CONFIG = "config.json"
CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.csv"
SUMMARY = "summary.json"
ERRORS = "errors.npy"  # per-trial errors of a run of Miconi's rule (seeds x trials)
#: Files a training run owns; --overwrite removes exactly these (and the analysis folders).
RUN_FILES = (CONFIG, CHECKPOINT, METRICS, SUMMARY, ERRORS)
OUTPUT_DIRS = ("evaluation", "figures")


def write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(Path(path), lambda f: f.write(json.dumps(data, indent=2).encode()))


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_bytes(Path(path), lambda f: f.write(buffer.getvalue().encode()))


def read_config(run: Path):
    """The config saved in a run folder: a :class:`TrainConfig` (actor-critic) or, for a run of
    Miconi's rule, a :class:`~rewardrnn.training.perturbation_run.PerturbationTrainConfig`."""
    path = Path(run) / CONFIG
    if not path.is_file():
        raise RunFolderError(f"{run} is not a run folder (no {CONFIG})")
    data = json.loads(path.read_text())
    if data.get("learner") == "perturbation":
        from rewardrnn.training.perturbation_run import PerturbationTrainConfig

        return PerturbationTrainConfig.from_dict(data)
    if data.get("learner") == "neurogym":
        from rewardrnn.training.neurogym_run import NeuroGymTrainConfig

        return NeuroGymTrainConfig.from_dict(data)
    return TrainConfig.from_dict(data)


def _resumable_changes(config) -> tuple[str, ...]:
    if isinstance(config, TrainConfig):
        return RESUMABLE_CHANGES
    if config.learner == "neurogym":
        return ("max_updates",)
    from rewardrnn.training import perturbation_run

    return perturbation_run.RESUMABLE_CHANGES


def prepare(out: Path, config, resume: bool, overwrite: bool):
    """Check ``out`` before any work and return the config to run.

    A fresh folder (or ``overwrite``) starts a new run. ``resume`` continues the run saved in
    ``out``; its config must equal ``config`` except for the resumable keys. A folder that
    already holds a run is never silently reused.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} exists and is not a folder")
    has_run = (out / CONFIG).exists() or (out / CHECKPOINT).exists()
    if resume:
        if not has_run:
            raise RunFolderError(f"cannot resume: {out} holds no run (no {CONFIG})")
        saved = read_config(out)
        if type(saved) is not type(config):
            raise RunFolderError(f"{out} holds a run of another learner; choose another --out")
        differing = [k for k, v in config.to_dict().items()
                     if k not in _resumable_changes(config) and saved.to_dict()[k] != v]
        if differing:
            details = ", ".join(f"{k}: saved {saved.to_dict()[k]!r} vs given {config.to_dict()[k]!r}"
                                for k in differing)
            raise RunFolderError(f"{out} holds a different run ({details}); resume it with the same "
                                 f"options or choose another --out")
        write_json(out / CONFIG, config.to_dict())
        return config
    if has_run:
        if not overwrite:
            saved = read_config(out) if (out / CONFIG).exists() else None
            what = f"task {saved.task}, seed {saved.seed}" if saved else "a checkpoint"
            raise RunFolderError(f"{out} already holds a run ({what}); pass --resume to continue it, "
                                 f"--overwrite to replace it, or choose another --out")
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
        for name in OUTPUT_DIRS:
            shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / CONFIG, config.to_dict())
    return config
