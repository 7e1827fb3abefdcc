"""The live progress of a training run (rich when attached to a terminal, one plain line per
validation otherwise, nothing when disabled). The same display for every learner."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.live import Live
from rich.text import Text

def format_row(row: dict) -> str:
    """One line: seed, updates, trials, the performance numbers, the wall time and a flag
    (criterion met, new best, or why the seed stopped)."""
    flag = (" ✓ criterion" if row["criterion_met"] else f" ✗ {row['status']}" if row["status"] == "non-finite parameters"
            else f" ✗ stalled ({row['stall_reason']})" if row["status"] == "stalled"
            else " *" if row["new_best"] else "")
    numbers = "  ".join(f"{label} {row[k]:.3f}" for k, label in _SHOWN.items() if isinstance(row.get(k), float))
    return (f"seed {row['seed']:>3}  updates {row['updates']:>6}  trials {row['trials']:>7}  {numbers}  "
            f"{row['wall_s']:7.1f} s{flag}")


#: The performance numbers shown, in this order, with their labels.
_SHOWN = {"reward": "reward", "p_decision": "P(decision)", "p_correct": "P(correct)", "p_sure": "P(sure)",
          "performance": "performance", "p_respond": "P(respond)", "mean_error": "error (last 100)",
          "good_of_last_100": "good of last 100"}


class Progress:
    """Context manager; ``update(rows)`` shows the rows of the latest validation."""

    def __init__(self, header: str, enabled: bool = True):
        self.enabled = enabled
        self.console = Console(file=sys.stderr)
        self.interactive = enabled and self.console.is_terminal
        self.live = Live(console=self.console, auto_refresh=False) if self.interactive else None
        self.header = header
        self.latest: dict[int, str] = {}

    def __enter__(self) -> Progress:
        if self.enabled:
            self._print(self.header)
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.live.__exit__(*exc)

    def _print(self, line: str) -> None:
        if self.interactive:
            self.console.print(line, highlight=False, soft_wrap=True)
        else:  # logs and pipes: one unwrapped line per validation
            print(line, file=sys.stderr, flush=True)

    def update(self, rows: list[dict]) -> None:
        if not self.enabled:
            return
        for row in rows:
            self.latest[row["seed"]] = format_row(row)
            if not self.interactive or row["criterion_met"] or row["status"] in ("non-finite parameters", "stalled"):
                self._print(self.latest[row["seed"]])
        if self.live:
            self.live.update(Text("\n".join(self.latest.values())), refresh=True)
