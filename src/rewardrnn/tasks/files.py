"""Tasks defined outside the package: a :class:`~rewardrnn.tasks.protocol.Protocol` held by a
module-level name in a Python file, named ``path/to/my_task.py:MY_TASK``.

The file is imported once per content (a module named after its hash, so a changed file is a
new module and an unchanged one is not run twice). A run folder records the file's absolute
path and SHA-256 and keeps a copy (``RUN/task_source.py``): :func:`check_source` refuses, with one
line, a run whose file is gone or has changed since it was trained.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from rewardrnn.errors import ConfigError, RunFolderError
from rewardrnn.tasks.protocol import Protocol

#: The copy of a task file kept in a run folder.
SOURCE_COPY = "task_source.py"
SYNTAX = "path/to/file.py:NAME"


def is_task_file(task: Any) -> bool:
    """True for a task written ``path/to/file.py:NAME``."""
    if not isinstance(task, str) or ":" not in task:
        return False
    path, _, name = task.rpartition(":")
    return path.endswith(".py") and bool(name)


def split(task: str) -> tuple[Path, str]:
    """(file, name) of ``path/to/file.py:NAME``."""
    path, _, name = task.rpartition(":")
    return Path(path), name


def canonical(task: str) -> str:
    """The task with its file's absolute path (what a run folder saves)."""
    path, name = split(task)
    return f"{path.expanduser().resolve()}:{name}"


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load(task: str) -> Protocol:
    """The protocol named ``NAME`` in ``path/to/file.py``; a one-line error when the file is
    missing, cannot be imported, has no such name or the name is not a Protocol."""
    path, name = split(task)
    if not path.is_file():
        raise ConfigError(f"task file {path} does not exist (a task from a file is written {SYNTAX})")
    module = _import(path)
    if not name.isidentifier() or not hasattr(module, name):
        found = [k for k, v in vars(module).items() if isinstance(v, Protocol)]
        raise ConfigError(f"task file {path} defines no {name!r}; its protocols: {', '.join(found) or 'none'}")
    protocol = getattr(module, name)
    if not isinstance(protocol, Protocol):
        raise ConfigError(f"{path}:{name} is a {type(protocol).__name__}, not a rewardrnn Protocol")
    return protocol


def _import(path: Path):
    """Import ``path`` as a module named after its content, once."""
    data = path.read_bytes()
    module_name = f"rewardrnn_task_{hashlib.sha256(data).hexdigest()[:16]}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses defined in the file look their module up
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's code: report it in one line
        del sys.modules[module_name]
        raise ConfigError(f"task file {path} failed to import: {type(error).__name__}: {error}") from None
    return module


def locate(protocol: Protocol) -> str:
    """``path/to/file.py:NAME`` of a protocol object held by a module-level name of a file
    (how ``rewardrnn.train(my_protocol)`` finds it again), or a one-line error."""
    modules = [sys.modules.get(getattr(protocol.mean_inputs, "__module__", ""))]
    modules += [m for m in list(sys.modules.values()) if m is not modules[0]]
    for module in modules:
        path = getattr(module, "__file__", None)
        if not path or not str(path).endswith(".py"):
            continue
        for name, value in list(vars(module).items()):
            if value is protocol and name.isidentifier():
                return canonical(f"{path}:{name}")
    raise ConfigError(f"protocol {protocol.name!r} is not held by a module-level name of a .py file; define it in "
                      f"a file (so that the run folder can load it again) and train that object or {SYNTAX!r}")


# ---- run folders -------------------------------------------------------------------------------
def source_record(task: str) -> dict[str, str]:
    """What a run folder records of its task file: absolute path, name and SHA-256."""
    path, name = split(task)
    return {"path": str(path), "name": name, "sha256": digest(path)}


def check_source(run: Path, record: dict[str, str]) -> None:
    """Refuse a run whose task file is gone or has changed since it was trained."""
    path = Path(record["path"])
    copy = Path(run) / SOURCE_COPY
    restore = f"the version it was trained with is in {copy}" if copy.is_file() else "its copy is missing too"
    if not path.is_file():
        raise RunFolderError(f"the task file of {run}, {path}, is gone; {restore}: put it back there")
    if digest(path) != record["sha256"]:
        raise RunFolderError(f"the task file of {run}, {path}, has changed since the run was trained; "
                             f"{restore}: restore it, or train the new version into another folder")
