"""Unit groups by name, resolved against one trained network (:class:`NetworkView`).

* ``3,17,42`` and ranges ``0-9`` (mixed: ``0-4,9``): unit indices, 0-based, < N;
* ``all``;
* ``random:K``: K units drawn without replacement (the manipulation's seed);
* ``readout:K``: the K units with the largest readout weights (the norm of each unit's weights
  to all actions, ``||W_out[i, :]||``);
* ``readout:ACTION:K``: the K units that most favour ACTION through the readout, ranked by
  ``W_out[i, ACTION] - mean_b W_out[i, b]`` over the other actions (the logit an active unit adds
  to ACTION over the others, per unit of rate);
* ``dprime:ACTION:K``: the K units most selective for choosing ACTION by their rates (d′ of
  each unit's rate over the stimulus epoch between trials that chose ACTION and trials that
  chose another action, from the run's records: the choice-selective units of ``analyze``);
* ``exc`` / ``inh``: the excitatory / inhibitory units of a network with Dale's principle;
* ``class:NAME``: the units of a class that ``analyze`` assigns (the value network's units on
  the economic task: ``chosen_value``, ``offer_value_A``, ``offer_value_B``, ``offer_value``
  (either), ``choice``; spec §6.8).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from rewardrnn.errors import ConfigError

FORMS = ("indices (3,17,42 or 0-9), all, random:K, readout:K, readout:ACTION:K, dprime:ACTION:K, exc, inh, "
         "class:NAME")
_INDICES = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


@dataclass(frozen=True)
class NetworkView:
    """What groups are resolved against: sizes, names, the readout weights (N, n_actions), the
    Dale signs (+1/-1 per unit, None without Dale's principle) and, lazily, each unit's choice
    d′ for an action (``selectivity(action) -> (N,)``) and the members of a class
    (``classes(name) -> (N,) bool``); None where the run has no such measure."""

    n_units: int
    actions: tuple[str, ...]
    inputs: tuple[str, ...]
    readout: np.ndarray
    dale_signs: np.ndarray | None = None
    selectivity: Callable[[str], np.ndarray] | None = None
    classes: Callable[[str], np.ndarray] | None = None


def units(group: str, net: NetworkView, seed: int = 0) -> np.ndarray:
    """The sorted unit indices of ``group`` (module docstring); one line naming what is wrong."""
    text = str(group).strip()
    n = net.n_units
    if text == "all":
        return np.arange(n)
    if text in ("exc", "inh"):
        if net.dale_signs is None:
            raise ConfigError(f"unit group {text!r}: this network has no Dale's principle (train with --dale); "
                              f"groups: {FORMS}")
        return np.flatnonzero(net.dale_signs > 0 if text == "exc" else net.dale_signs < 0)
    if _INDICES.match(text):
        chosen = []
        for part in text.split(","):
            first, _, last = part.partition("-")
            lo, hi = int(first), int(last or first)
            if hi < lo:
                raise ConfigError(f"unit group {text!r}: the range {part} is empty")
            if hi >= n:
                raise ConfigError(f"unit group {text!r}: unit {hi} is past the network's {n} units (0-{n - 1})")
            chosen.extend(range(lo, hi + 1))
        return np.unique(np.asarray(chosen, int))
    kind, _, rest = text.partition(":")
    if kind == "random":
        k = _count(text, rest, n)
        return np.sort(np.random.default_rng(seed).choice(n, k, replace=False))
    if kind == "readout" and rest.isdigit():
        k = _count(text, rest, n)
        return np.sort(np.argsort(-np.linalg.norm(net.readout, axis=1), kind="stable")[:k])
    if kind == "class":
        if net.classes is None:
            raise ConfigError(f"unit group {text!r}: analyze assigns no classes to this network's units (the value "
                              "network's units on the economic task have them: --network value)")
        members = np.flatnonzero(net.classes(rest))
        if not members.size:
            raise ConfigError(f"unit group {text!r}: no unit of this network is of class {rest!r}")
        return members
    if kind in ("readout", "dprime"):
        action, _, count = rest.rpartition(":")
        if action not in net.actions:
            raise ConfigError(f"unit group {text!r}: {action!r} is not an action of this task "
                              f"({', '.join(net.actions)})")
        k = _count(text, count, n)
        if kind == "readout":
            score = _readout_preference(net.readout, net.actions.index(action))
        else:
            if net.selectivity is None:
                raise ConfigError(f"unit group {text!r}: this run has no choice selectivity of its units")
            score = np.nan_to_num(np.asarray(net.selectivity(action), float), nan=-np.inf)
        return np.sort(np.argsort(-score, kind="stable")[:k])
    raise ConfigError(f"unit group {text!r} is not a group; groups: {FORMS}")


def union(groups, net: NetworkView, seed: int = 0) -> np.ndarray:
    """The sorted indices of every unit in any of ``groups``."""
    chosen = [units(g, net, seed) for g in groups]
    return np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, int)


def _readout_preference(w_out: np.ndarray, action: int) -> np.ndarray:
    others = np.delete(w_out, action, axis=1)
    return w_out[:, action] - (others.mean(axis=1) if others.shape[1] else 0.0)


def _count(text: str, count: str, n: int) -> int:
    if not count.isdigit() or not 1 <= int(count) <= n:
        raise ConfigError(f"unit group {text!r}: K must be an integer in 1..{n} (the network's units), got {count!r}")
    return int(count)
