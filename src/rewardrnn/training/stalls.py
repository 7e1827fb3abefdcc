"""Stall detection: a seed that has stopped learning is stopped and marked ``stalled`` with its
reason, and the other seeds go on (beyond both papers, which train until a budget runs out).

Two rules, read from the validation history alone (``metrics.csv``'s rows, also kept in the
checkpoint), so that a resumed run finds the same stalls and a resume with another ``--patience``
re-decides them:

* **silent**: P(decision) at or below ``silent_level`` (0.01) at each of the last
  ``silent_validations`` (10) validations. This is the absorbing state seen on romo (seeds 3 and
  5 of docs/benchmarks-tasks.md): every trial ends at tmax with the abort reward, the value
  network predicts it, every advantage is 0 and the gradient vanishes, so training spins until
  the budget. A fresh network also starts silent (pyrl's initial policy breaks fixation at once),
  and healthy seeds leave it within a few validations (measured in docs/benchmarks-tasks.md).
  Applies to learners that report ``p_decision`` (the native tasks).
* **no progress**: no new best score higher than the best by more than ``min_delta`` (0.01) for
  ``patience`` validations (a local optimum, e.g. wager seed 3: the sure target on every wager
  trial, guessing on the rest, for 112,800 trials). The margin keeps a noisy validation from
  resetting the count by chance.

``patience=0`` turns both rules off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Why a seed stalled (the ``stall_reason`` column and the summary's ``status``).
SILENT, NO_PROGRESS = "never decides", "no progress"


#: Validations without progress before a seed is declared stalled (``--patience``).
DEFAULT_PATIENCE = 40


@dataclass(frozen=True)
class StallRule:
    """The rules' constants (module docstring); ``patience`` is in validations."""

    patience: int = DEFAULT_PATIENCE
    min_delta: float = 0.01
    silent_validations: int = 10
    silent_level: float = 0.01

    @property
    def enabled(self) -> bool:
        return self.patience > 0


def rule_for(patience: int) -> StallRule | None:
    """The stall rule of a run's ``patience`` (0: none)."""
    return StallRule(patience=patience) if patience > 0 else None


def stall_reason(rows: list[dict[str, Any]], rule: StallRule) -> str | None:
    """Why a seed whose validation rows (in order, update 0 first) are ``rows`` has stalled, or
    None. The rows' ``score`` is what best tracking maximises; rows without a finite score (none
    yet, or a history written before scores were kept) are not counted."""
    if not rule.enabled or not rows:
        return None
    tail = rows[-rule.silent_validations:]
    if (len(rows) > rule.silent_validations and all("p_decision" in r for r in tail)
            and all(_number(r["p_decision"]) <= rule.silent_level for r in tail)):
        return (f"{SILENT}: P(decision) <= {rule.silent_level:g} at the last {rule.silent_validations} "
                f"validations")
    best, since = -math.inf, 0
    for row in rows:
        score = _number(row.get("score"))
        if score == -math.inf:
            continue
        if best == -math.inf or score > best + rule.min_delta:
            best, since = score, 0
        else:
            since += 1
    if since >= rule.patience:
        return f"{NO_PROGRESS}: no score above {best:.3f} + {rule.min_delta:g} in {since} validations"
    return None


def stall_reasons(history: list[dict[str, Any]], seeds: tuple[int, ...], rule: StallRule) -> dict[int, str]:
    """Seed index -> reason, for every seed of ``seeds`` that has stalled in ``history`` (rows of
    every seed, as in metrics.csv). A seed that met its criterion never stalls."""
    reasons = {}
    for i, seed in enumerate(seeds):
        rows = [r for r in history if r["seed"] == seed]
        if any(r.get("criterion_met") for r in rows):
            continue
        reason = stall_reason(rows, rule)
        if reason is not None:
            reasons[i] = reason
    return reasons


def _number(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return -math.inf
    return value if math.isfinite(value) else -math.inf
