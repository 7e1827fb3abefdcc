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
  resetting the count by chance. A variant, ``gap_progress`` (off; not a command-line option),
  also counts as progress a distance to the criterion (the rows' ``criterion_gap``) smaller than
  the smallest by more than ``min_delta``. Replayed on wager seeds trained without stall
  detection (benchmarks/stall_replay.py, docs/benchmarks-tasks.md) it saved no seed that the
  reward alone would stop, and kept a seed that never reached the criterion 216,000 trials
  longer, so the reward alone is the rule. Rows without a gap are read from the score alone.

``patience=0`` turns both rules off.

A remedy beyond the papers, off by default: ``--restart-stalled K`` starts a stalled seed afresh
from a new initialisation (attempt k of seed s from ``fold(PRNGKey(s), RESTART_STREAM, k)``), at
most K times; its trials count from the first attempt, and the summary says how many restarts
it took.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Why a seed stalled (the ``stall_reason`` column and the summary's ``status``).
SILENT, NO_PROGRESS = "never decides", "no progress"
#: Status of the validation row at which a stalled seed started afresh (``--restart-stalled``).
RESTARTED = "restarted"


#: Validations without progress before a seed is declared stalled (``--patience``).
DEFAULT_PATIENCE = 40


@dataclass(frozen=True)
class StallRule:
    """The rules' constants (module docstring); ``patience`` is in validations."""

    patience: int = DEFAULT_PATIENCE
    min_delta: float = 0.01
    silent_validations: int = 10
    silent_level: float = 0.01
    gap_progress: bool = False

    @property
    def enabled(self) -> bool:
        return self.patience > 0


def rule_for(patience: int) -> StallRule | None:
    """The stall rule of a run's ``patience`` (0: none)."""
    return StallRule(patience=patience) if patience > 0 else None


def stall_reason(rows: list[dict[str, Any]], rule: StallRule, from_update_zero: bool = True) -> str | None:
    """Why a seed whose validation rows (in order) are ``rows`` has stalled, or None. The first
    row is the untrained network's (update 0) unless ``from_update_zero`` is off (an attempt
    after a restart, whose network was never validated untrained); it does not count as a silent
    validation. The rows' ``score`` is what best tracking maximises; rows without a finite score
    (none yet, or a history written before scores were kept) are not counted."""
    if not rule.enabled or not rows:
        return None
    tail = rows[-rule.silent_validations:]
    needed = rule.silent_validations + (1 if from_update_zero else 0)
    if (len(rows) >= needed and all("p_decision" in r for r in tail)
            and all(_number(r["p_decision"]) <= rule.silent_level for r in tail)):
        return (f"{SILENT}: P(decision) <= {rule.silent_level:g} at the last {rule.silent_validations} "
                f"validations")
    best, closest, since = -math.inf, math.inf, 0
    for row in rows:
        score = _number(row.get("score"))
        if score == -math.inf:
            continue
        gap = _number(row.get("criterion_gap")) if rule.gap_progress else -math.inf  # -inf: none recorded
        better = best == -math.inf or score > best + rule.min_delta
        closer = gap != -math.inf and gap < closest - rule.min_delta
        if better:
            best = score
        if closer:
            closest = gap
        since = 0 if better or closer else since + 1
    if since >= rule.patience:
        gap_text = f" and no criterion gap below {closest:.3f} - {rule.min_delta:g}" if math.isfinite(closest) else ""
        return f"{NO_PROGRESS}: no score above {best:.3f} + {rule.min_delta:g}{gap_text} in {since} validations"
    return None


def stall_reasons(history: list[dict[str, Any]], seeds: tuple[int, ...], rule: StallRule) -> dict[int, str]:
    """Seed index -> reason, for every seed of ``seeds`` that has stalled in ``history`` (rows of
    every seed, as in metrics.csv). A seed that met its criterion never stalls; in a curriculum
    only the rows of a seed's current stage count (scores of two stages' variants are not
    comparable), and a seed that has just ended a stage does not stall."""
    reasons = {}
    by_seed = rows_by_seed(history, seeds)
    for i, seed in enumerate(seeds):
        every = by_seed[seed]
        rows = current_stage(current_attempt(every))
        if any(r.get("criterion_met") or r.get("stage_done") for r in rows):
            continue
        reason = stall_reason(rows, rule, from_update_zero=len(rows) == len(every))
        if reason is not None:
            reasons[i] = reason
    return reasons


def rows_by_seed(history: list[dict[str, Any]], seeds: tuple[int, ...]) -> dict[int, list[dict[str, Any]]]:
    """Each seed's rows of ``history``, in order (one pass over the history)."""
    grouped: dict[int, list[dict[str, Any]]] = {seed: [] for seed in seeds}
    for row in history:
        grouped.setdefault(row["seed"], []).append(row)
    return grouped


def current_attempt(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of a seed's current attempt: those after its last restart (``--restart-stalled``;
    the row of a restart has status ``restarted``)."""
    starts = [k for k, r in enumerate(rows) if r.get("status") == RESTARTED]
    return rows[starts[-1] + 1:] if starts else rows


def current_stage(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the stage a curriculum's seed validated last (rows without a ``stage``: all).
    A stage's rows begin with the validation after the one that ended the stage before."""
    if not rows or rows[-1].get("stage") in (None, ""):
        return rows
    last, k = rows[-1]["stage"], len(rows)
    while k > 0 and rows[k - 1].get("stage") == last:
        k -= 1
    return rows[k:]


def attempts(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """(restarts so far, updates spent before the current attempt) of a seed's rows: a restart
    row's ``updates`` is the total at which the seed started afresh."""
    starts = [r for r in rows if r.get("status") == RESTARTED]
    return len(starts), int(starts[-1]["updates"]) if starts else 0


def _number(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return -math.inf
    return value if math.isfinite(value) else -math.inf
