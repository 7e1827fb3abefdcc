"""The task registry: every task by name, and the options of the tasks that take some."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from rewardrnn.errors import ConfigError, UnknownNameError
from rewardrnn.tasks.dnms import DNMS_CHOICE
from rewardrnn.tasks import files, variants
from rewardrnn.tasks.economic import ECONOMIC, economic_choice
from rewardrnn.tasks.mante import MANTE
from rewardrnn.tasks.multisensory import MULTISENSORY
from rewardrnn.tasks.protocol import Protocol
from rewardrnn.tasks.rdm import RDM_FIXED, RDM_RT
from rewardrnn.tasks.romo import ROMO
from rewardrnn.tasks.wager import WAGER

#: Every task with its default options, by name.
TASKS: dict[str, Protocol] = {p.name: p for p in (RDM_FIXED, RDM_RT, WAGER, MANTE, MULTISENSORY, ROMO, ECONOMIC,
                                                  DNMS_CHOICE)}
#: Tasks that take options (keyword arguments of the factory), by name.
FACTORIES: dict[str, Callable[..., Protocol]] = {"economic": economic_choice}


def get_task(name: str, **options: Any) -> Protocol:
    """The protocol registered as ``name`` (or defined in a file, ``path/to/file.py:NAME``),
    built with ``options`` if it takes any; an error listing the known names (or the task's
    options) otherwise."""
    if files.is_task_file(name):
        if options:
            raise ConfigError(f"a task from a file takes no options, got {sorted(options)}; set its fields with "
                              f"task settings instead")
        protocol = files.load(name)
        if protocol.name in TASKS:  # the analyses and the report know a task by its name
            raise ConfigError(f"{name} is named {protocol.name!r}, the name of a built-in task; give it another "
                              f"name (Protocol(name=...))")
        return protocol
    if name not in TASKS:
        raise UnknownNameError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    if not options:
        return TASKS[name]
    allowed = task_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"task {name!r} has no option(s) {unknown}; "
                          f"its options: {', '.join(allowed) if allowed else 'none'}")
    return FACTORIES[name](**options)


def build_task(name: str, options: dict[str, Any] | None = None, settings: dict[str, Any] | None = None) -> Protocol:
    """The protocol ``name`` with its ``options`` (factory keyword arguments) and ``settings``
    (a variant, :mod:`rewardrnn.tasks.variants`; normalised) applied."""
    return variants.apply(get_task(name, **(options or {})), settings or {})


def is_protocol_task(name: Any) -> bool:
    """True for a registered protocol's name and for a task file whose name is neither an
    environment (:func:`rewardrnn.tasks.files.names_environment`) nor an episodic task
    (:func:`~rewardrnn.tasks.files.names_episode_task`)."""
    return isinstance(name, str) and (name in TASKS or (files.is_task_file(name) and not files.names_environment(name)
                                                        and not files.names_episode_task(name)))


def task_options(name: str) -> tuple[str, ...]:
    """Names of the options that task ``name`` takes (empty for most tasks)."""
    factory = FACTORIES.get(name)
    return tuple(inspect.signature(factory).parameters) if factory else ()


def list_tasks() -> list[Protocol]:
    """All registered protocols (default options), in the order of the paper's figures."""
    return list(TASKS.values())
