"""Heavy imports deferred to their first use, so that a command that does not compute
(``rewardrnn --help``, ``rewardrnn tasks``) answers at once.

- :func:`lazy_exports`: a package's public names imported on first access (PEP 562).
- :data:`jax`, :data:`jnp`: JAX and ``jax.numpy`` imported on the first attribute access. The
  task definitions use them: a protocol is declared at import (its name, epochs, conditions,
  criterion) and its functions (``mean_inputs``, ``correct_action`` …) need JAX only when a task
  is compiled, so listing the tasks imports no JAX (importing ``jax.numpy`` alone costs about
  1.4 CPU-seconds; docs/benchmarks.md, "Start-up").
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any


def lazy_exports(package: str, exports: dict[str, tuple[str, str]]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose public names ``exports`` (name ->
    (module, attribute)) are imported on first access and then kept as plain attributes."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attribute = exports[name]
        value = getattr(importlib.import_module(module), attribute)
        setattr(sys.modules[package], name, value)  # the next access is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__


class DeferredModule:
    """A module imported on the first access to one of its attributes (``jnp.where`` imports
    ``jax.numpy``); afterwards each access is one attribute lookup on the module."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__") or attribute in DeferredModule.__slots__:
            # protocol lookups (copy, pickle) and a half-built instance: not the module's
            raise AttributeError(attribute)
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)

    def __repr__(self) -> str:
        return f"<deferred module {self._name!r} ({'imported' if self._module else 'not imported yet'})>"


jax = DeferredModule("jax")
jnp = DeferredModule("jax.numpy")
