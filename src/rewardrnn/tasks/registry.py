"""The task registry: every task by name."""

from __future__ import annotations

from rewardrnn.errors import UnknownNameError
from rewardrnn.tasks.protocol import Protocol
from rewardrnn.tasks.rdm import RDM_FIXED, RDM_RT

TASKS: dict[str, Protocol] = {p.name: p for p in (RDM_FIXED, RDM_RT)}


def get_task(name: str) -> Protocol:
    """The protocol registered as ``name``; an error listing the known names otherwise."""
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownNameError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}") from None


def list_tasks() -> list[Protocol]:
    """All registered protocols, sorted by name."""
    return [TASKS[n] for n in sorted(TASKS)]
