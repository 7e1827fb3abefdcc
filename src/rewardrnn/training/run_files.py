"""Run files: a run's whole configuration in one TOML file.

``rewardrnn train --config run.toml`` reads one; ``rewardrnn config RUN`` writes a finished run's
resolved configuration as one, so that ``rewardrnn train --config run.toml`` repeats it with
identical parameters. A run file holds ``task`` and ``learner`` and the fields of the kind's
config (the keys of ``config.json``: :class:`~rewardrnn.training.config.TrainConfig`,
:class:`~rewardrnn.training.perturbation_config.PerturbationTrainConfig`,
:class:`~rewardrnn.training.neurogym_config.NeuroGymTrainConfig`), with the task's options and
its variant as tables::

    task = "rdm-fixed"
    learner = "actor-critic"
    seed = 1
    n_seeds = 4
    max_updates = 2000

    [task_settings]
    "conditions.coherence" = [3.2, 6.4, 12.8, 25.6]
    "stimulus.duration" = "uniform(500, 1000)"

    [[curriculum]]      # optional: stages, each a variant (rewardrnn.training.curriculum)
    set = { "conditions.coherence" = [25.6] }

    [[curriculum]]      # the last stage is the task itself
    set = {}

Options given on the command line override the file's (a ``--set`` key overrides the same key of
``[task_settings]``).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from rewardrnn.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Config fields that are tables of a run file, merged key by key with the command line's.
TABLES = ("task_options", "task_settings", "env_kwargs")


#: Tables of a run file that are not training options: ``[nwb]``, the subject and session metadata
#: of ``rewardrnn export --format nwb --metadata RUN_FILE`` (:class:`rewardrnn.nwb.Metadata`).
NOT_TRAINING = ("nwb",)


def read(path: str | Path, what: str = "--config") -> dict[str, Any]:
    """The run file's keys; a one-line error when it is missing or is not TOML."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path}: no such file")
    return parse(path, what)


def parse(path: Path, what: str) -> dict[str, Any]:
    """A TOML file's content; a one-line error (``what`` names the file's role) when it is not
    text or not TOML."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not a text file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{what} {path} is not valid TOML: {error}") from None


def check_keys(kind, data: dict[str, Any]) -> None:
    """Refuse keys that are not fields of ``kind``'s config, naming the key and the known ones."""
    known = [f.name for f in dataclasses.fields(kind.config_class)]
    if "curriculum" in data and "curriculum" not in known:
        raise ConfigError(f"[[curriculum]] stages are task variants (--set keys); {kind.title} takes none")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} for {kind.title}; known keys: {', '.join(known)}")
    for name in TABLES:
        if name in data and not isinstance(data[name], dict):
            raise ConfigError(f"{name} must be a table ([{name}]), got {data[name]!r}")


def merge(file_fields: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The run file's fields with the command line's on top (tables merged key by key)."""
    merged = dict(file_fields)
    for name, value in given.items():
        if name in TABLES and isinstance(merged.get(name), dict) and isinstance(value, dict):
            merged[name] = {**merged[name], **value}
        else:
            merged[name] = value
    return merged


def to_toml(config) -> str:
    """``config`` (any kind's) as a run file: ``task`` and ``learner`` first, then the fields,
    then the tables; fields that are None (the task's value) are left out."""
    import tomli_w

    data = config.to_dict()
    head = {k: data.pop(k) for k in ("task", "learner") if k in data}
    tables = {k: data.pop(k) for k in TABLES if k in data}
    stages = [{k: v for k, v in stage.items() if v is not None} for stage in data.pop("curriculum", [])]
    body = {k: v for k, v in data.items() if v is not None}
    if stages:  # written last: [[curriculum]] tables
        tables["curriculum"] = stages
    return tomli_w.dumps({**head, **body, **{k: v for k, v in tables.items() if v}})
