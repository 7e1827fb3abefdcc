"""Tasks defined outside the package: a :class:`~rewardrnn.tasks.protocol.Protocol`, or an
environment (a gymnasium ``Env`` class such as a NeuroGym ``TrialEnv``, or a function returning
one: :mod:`rewardrnn.tasks.neurogym`), held by a module-level name in a Python file, named
``path/to/my_task.py:MY_TASK``.

The file is imported once per path and content (a module named after their hash, so a changed
file is a new module and an unchanged one is not run twice). A run folder records the file's absolute
path and SHA-256 and keeps a copy (``RUN/task_source.py``): :func:`check_source` refuses, with one
line, a run whose file is gone or has changed since it was trained.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import sys
import types
from pathlib import Path
from typing import Any, Callable

from rewardrnn.errors import ConfigError, RunFolderError
from rewardrnn.tasks import trust
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
    missing, is a link, is not trusted (:mod:`rewardrnn.tasks.trust`), cannot be imported, has no
    such name or the name is not a Protocol."""
    path, name = split(task)
    protocol = _load_object(task)
    if not isinstance(protocol, Protocol):
        hint = (f"; an environment trains as `rewardrnn train {path}:{name}` with the actor-critic"
                if environment_maker(protocol) is not None else "")
        raise ConfigError(f"{path}:{name} is a {type(protocol).__name__}, not a rewardrnn Protocol{hint}")
    return protocol


def names_environment(task: str) -> bool:
    """True when the task file's name holds an environment (a gymnasium ``Env`` class, e.g. a
    NeuroGym ``TrialEnv``, or a factory function returning one) rather than a Protocol. A file
    that does not exist is not one (its error comes when it is loaded); an untrusted one is
    refused here, since deciding imports it."""
    if not is_task_file(task) or not split(task)[0].is_file():
        return False
    return environment_maker(_load_object(task)) is not None


def names_episode_task(task: str) -> bool:
    """True when the task file's name holds an episodic task (a
    :class:`rewardrnn.tasks.episodes.EpisodeTask`: episodes of trials, docs/episodes.md) rather
    than a Protocol. A file that does not exist is not one; an untrusted one is refused here."""
    if not is_task_file(task) or not split(task)[0].is_file():
        return False
    from rewardrnn.tasks.episodes import EpisodeTask

    return isinstance(_load_object(task), EpisodeTask)


def load_episode_task(task: str):
    """The :class:`~rewardrnn.tasks.episodes.EpisodeTask` named ``NAME`` in ``path/to/file.py``
    (the trust rules of :func:`load`)."""
    from rewardrnn.tasks.episodes import EpisodeTask

    path, name = split(task)
    value = _load_object(task)
    if not isinstance(value, EpisodeTask):
        raise ConfigError(f"{path}:{name} is a {type(value).__name__}, not an EpisodeTask")
    return value


def load_environment(task: str) -> Callable[..., Any]:
    """The environment class or factory named ``NAME`` in ``path/to/file.py`` (the trust rules of
    :func:`load`), called with the environment's keyword arguments to build one."""
    path, name = split(task)
    maker = environment_maker(_load_object(task))
    if maker is None:
        raise ConfigError(f"{path}:{name} is neither a gymnasium environment class nor a function returning one")
    return maker


def environment_maker(value: Any) -> Callable[..., Any] | None:
    """``value`` itself when it is a gymnasium ``Env`` subclass, or a factory: a plain function
    callable with keyword arguments alone (every parameter has a default; what it returns is
    checked when called), else None (a task file's helper such as ``mean_inputs(v, on)`` is not
    a factory). gymnasium is imported only for a class."""
    if inspect.isclass(value):
        try:
            import gymnasium
        except ImportError:
            return None
        return value if issubclass(value, gymnasium.Env) else None
    if not inspect.isfunction(value):
        return None
    required = [p for p in inspect.signature(value).parameters.values()
                if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return None if required else value


def _load_object(task: str) -> Any:
    """The object held by ``NAME`` in ``path/to/file.py``, imported under the trust rules."""
    path, name = split(task)
    if not path.is_file():
        raise ConfigError(f"task file {path} does not exist (a task from a file is written {SYNTAX})")
    trust.check_not_a_link(path)
    data = path.read_bytes()  # hashed and imported from the same bytes
    sha = trust.digest_bytes(data)
    if not trust.is_trusted(sha):
        if not trust.trusting_now():
            raise ConfigError(trust.untrusted_message(path, sha))
        trust.trust(path)
    module = _import(path, data, sha)
    if not name.isidentifier() or not hasattr(module, name):
        found = [k for k, v in vars(module).items() if isinstance(v, Protocol)]
        found += [k for k, v in vars(module).items()  # environment classes (a factory is any function: not listed)
                  if inspect.isclass(v) and v.__module__ == module.__name__ and environment_maker(v) is not None]
        raise ConfigError(f"task file {path} defines no {name!r}; its protocols and environments: "
                          f"{', '.join(found) or 'none'}")
    return getattr(module, name)


class _ExitCalled(Exception):
    pass


def _refuse_exit(code=0):
    raise _ExitCalled(f"it called os._exit({code})")


def _import(path: Path, data: bytes, sha: str):
    """Import ``data`` (the content of ``path``) as a module named after its path and content, once
    (two copies of one file are two modules, each knowing its own file). A file that exits at
    import (``sys.exit``, ``os._exit``) is an import error, not the end of the run."""
    key = hashlib.sha256(f"{path.absolute()}|{sha}".encode()).hexdigest()
    module_name = f"rewardrnn_task_{key[:16]}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    sys.modules[module_name] = module  # dataclasses defined in the file look their module up
    real_exit = os._exit
    os._exit = _refuse_exit
    try:
        exec(compile(data, str(path), "exec"), module.__dict__)
    except (Exception, SystemExit) as error:  # the user's code: report it in one line
        del sys.modules[module_name]
        what = f"it called sys.exit({error.code!r})" if isinstance(error, SystemExit) else \
            str(error) if isinstance(error, _ExitCalled) else f"{type(error).__name__}: {error}"
        raise ConfigError(f"task file {path} failed to import: {what}") from None
    finally:
        os._exit = real_exit
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
        raise RunFolderError(f"the task file of {run}, {path}, is gone; {restore}: put it back there, or read it, "
                             f"copy it outside the run folder and `rewardrnn trust` the copy")
    if digest(path) != record["sha256"]:
        raise RunFolderError(f"the task file of {run}, {path}, has changed since the run was trained; "
                             f"{restore}: restore it, or train the new version into another folder")


def task_for_run(run: Path, task: Any, record: Any) -> str:
    """The task file a run folder's task is loaded from: ``path:NAME`` of the user's trusted copy
    of the recorded content (:mod:`rewardrnn.tasks.trust`), else of the recorded path itself.
    Whatever the folder's config says, the path must be absolute, outside the run folder and not
    a link, and its content the one the run was trained with; a one-line error otherwise (nothing
    is imported here: :func:`load` then imports it only if it is trusted)."""
    run = Path(run)
    if not (isinstance(record, dict) and all(isinstance(record.get(k), str) for k in ("path", "name", "sha256"))
            and len(record["sha256"]) == 64 and is_task_file(task)):
        raise RunFolderError(f"{run} names a task file ({task!r}) without a valid record of it in its identity; "
                             f"rewardrnn does not load it")
    name, path = record["name"], Path(record["path"])  # never the config's own path: the recorded one, or the user's copy
    if split(task)[1] != name:
        raise RunFolderError(f"{run}: its task {task!r} is not the recorded task file {record['path']}:{name}; "
                             f"rewardrnn does not load it")
    copy = trust.trusted_copy(record["sha256"])
    if copy is not None and copy.is_file() and not _inside(copy, run) and digest(copy) == record["sha256"]:
        return f"{copy}:{name}"
    if not path.is_absolute():
        raise RunFolderError(f"{run} names its task file by a relative path ({path}); rewardrnn imports a run's task "
                             f"file only from an absolute path outside the run folder: read {run / SOURCE_COPY}, copy "
                             f"it elsewhere and `rewardrnn trust` the copy")
    if _inside(path, run):
        raise RunFolderError(f"{run} names a task file inside itself ({path}); rewardrnn never imports code a run "
                             f"folder carries: read {run / SOURCE_COPY}, copy it elsewhere and `rewardrnn trust` the copy")
    if path.is_symlink():
        raise RunFolderError(f"the task file of {run}, {path}, is a link; rewardrnn imports a task file only by its real path")
    check_source(run, record)
    return canonical(f"{path}:{name}")


def _inside(path: Path, folder: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except OSError:
        return True
