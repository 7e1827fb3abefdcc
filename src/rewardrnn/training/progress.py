"""The live progress of a training run, the same display for every learner.

On a terminal (rich): a bar per seed toward its budget of updates, with the updates done, trials
per second, elapsed and remaining time, the latest validation's numbers and the seed's status
(training / ✓ criterion / ✗ stalled; a curriculum's stage), advanced between validations after every update when the
trainer can say so (:meth:`Progress.tick`). Not on a terminal (logs, pipes): one plain line per
seed and validation. Disabled (``-q``): nothing.
"""

from __future__ import annotations

import sys
import threading
import time

from rich.console import Console


def format_row(row: dict) -> str:
    """One line: seed, updates, trials, the performance numbers, the wall time and a flag
    (criterion met, new best, or why the seed stopped)."""
    numbers = _numbers(row)
    return (f"seed {row['seed']:>3}  updates {row['updates']:>6}  trials {row['trials']:>7}  {_stage(row)}{numbers}  "
            f"{row['wall_s']:7.1f} s{_flag(row)}")


def _stage(row: dict) -> str:
    """The curriculum stage validated (nothing without a curriculum)."""
    return f"stage {row['stage']}  " if "stage" in row else ""


def _flag(row: dict) -> str:
    return (" ✓ criterion" if row["criterion_met"] else f" → stage {row['stage'] + 1}" if row.get("stage_done")
            else f" {_why_stopped(row)}" if row["status"] in ("non-finite parameters", "stalled")
            else " *" if row["new_best"] else "")


def _why_stopped(row: dict) -> str:
    """Why a seed stopped short of its criterion: stalled (and why), its budget spent, …"""
    return f"✗ stalled ({row['stall_reason']})" if row["status"] == "stalled" else f"✗ {row['status']}"


def _numbers(row: dict) -> str:
    return "  ".join(f"{label} {row[k]:.3f}" for k, label in _SHOWN.items() if isinstance(row.get(k), float))


#: The performance numbers shown, in this order, with their labels.
_SHOWN = {"reward": "reward", "p_decision": "P(decision)", "p_correct": "P(correct)", "p_sure": "P(sure)",
          "performance": "performance", "p_respond": "P(respond)", "mean_error": "error (last 100)",
          "good_of_last_100": "good of last 100"}


class Progress:
    """Context manager; ``update(rows)`` shows the rows of the latest validation, ``tick(n)``
    (from any thread) says that each training seed has done ``n`` more updates.
    ``budget_updates``: each seed's budget (the bars' length); ``trials_per_update``: for the
    rate in trials/s."""

    def __init__(self, header: str, enabled: bool = True, budget_updates: int | None = None,
                 trials_per_update: int = 1, console: Console | None = None):
        self.enabled = enabled
        self.console = console or Console(file=sys.stderr)
        self.interactive = enabled and self.console.is_terminal
        self.header = header
        self.budget, self.trials_per_update = budget_updates, trials_per_update
        self.bars = self._bars() if self.interactive else None
        self.tasks: dict[int, int] = {}  # seed -> rich task id
        self.training: set[int] = set()
        self.seen: dict[int, int] = {}  # seed -> its updates counted so far (by ticks or validations)
        self.started = time.perf_counter()
        self.done_here = 0  # updates (all seeds) done since this display started: the rate
        self._lock = threading.Lock()

    def _bars(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bars, TextColumn, TimeRemainingColumn
        from rich.table import Column

        def fixed(text: str) -> TextColumn:
            return TextColumn(text, table_column=Column(no_wrap=True))

        # Every column keeps its width; the status (the latest numbers) takes what is left of the
        # terminal's width and ends in an ellipsis when it does not fit.
        return Bars(fixed("seed {task.fields[seed]:>3}"), BarColumn(bar_width=20), MofNCompleteColumn(),
                    fixed("updates · {task.fields[rate]} · {task.fields[elapsed]} · left"),
                    TimeRemainingColumn(compact=True),
                    TextColumn("{task.fields[status]}", table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")),
                    console=self.console, auto_refresh=True, refresh_per_second=4, transient=False, expand=True)

    def __enter__(self) -> Progress:
        if self.enabled:
            self._print(self.header)
        if self.bars:
            self.bars.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.bars:
            self._refresh_fields()
            self.bars.__exit__(*exc)

    def wants_ticks(self) -> bool:
        """Whether updates between validations are shown (a terminal display)."""
        return self.bars is not None

    def _print(self, line: str) -> None:
        if self.interactive:
            self.console.print(line, highlight=False, soft_wrap=True)
        else:  # logs and pipes: one unwrapped line per validation
            print(line, file=sys.stderr, flush=True)

    def _rate_and_elapsed(self) -> tuple[str, str]:
        elapsed = time.perf_counter() - self.started
        rate = self.done_here * self.trials_per_update / elapsed if elapsed > 0 else 0.0
        minutes, seconds = divmod(int(elapsed), 60)
        return f"{rate:,.0f} trials/s", f"{minutes}:{seconds:02d} elapsed"

    def _refresh_fields(self) -> None:
        rate, elapsed = self._rate_and_elapsed()
        for task in self.tasks.values():
            self.bars.update(task, rate=rate, elapsed=elapsed)

    def tick(self, n: int = 1, seed: int | None = None) -> None:
        """Each seed still training (or only ``seed``) has done ``n`` more updates (called
        between validations)."""
        if not self.bars:
            return
        with self._lock:
            for seed in self.training if seed is None else [seed] if seed in self.training else []:
                self.seen[seed] += n
                self.done_here += n
                self.bars.advance(self.tasks[seed], n)
            self._refresh_fields()

    def update(self, rows: list[dict]) -> None:
        if not self.enabled:
            return
        if not self.bars:
            for row in rows:
                self._print(format_row(row))
            return
        with self._lock:
            for row in rows:
                seed, updates = row["seed"], row["updates"]
                if seed not in self.tasks:
                    self.tasks[seed] = self.bars.add_task("", total=self.budget or None, seed=seed, rate="",
                                                          elapsed="", status="")
                self.done_here += max(0, updates - self.seen.get(seed, updates))
                self.seen[seed] = updates
                reached = row["criterion_met"] or row["status"] == "reached criterion"
                stopped = reached or row["status"] not in ("running", "restarted")
                status = (f"✓ criterion at {row['trials']:,} trials" if reached else _why_stopped(row) if stopped
                          else f"training  {_stage(row)}{_numbers(row)}")
                self.bars.update(self.tasks[seed], completed=updates, status=status)
                (self.training.discard if stopped else self.training.add)(seed)
            self._refresh_fields()
