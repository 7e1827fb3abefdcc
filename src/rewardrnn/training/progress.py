"""The live progress line of a training run (rich when attached to a terminal, one plain line
per validation otherwise, nothing when disabled)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.live import Live
from rich.text import Text

from rewardrnn.training.config import TrainConfig


def format_row(row: dict) -> str:
    flag = " ✓ criterion" if row["criterion_met"] else (" *" if row["new_best"] else "")
    return (f"seed {row['seed']:>3}  updates {row['updates']:>6}  trials {row['trials']:>7}  "
            f"reward {row['reward']:+.3f}  P(decision) {row['p_decision']:.3f}  "
            f"P(correct) {row['p_correct']:.3f}  "
            + (f"P(sure) {row['p_sure']:.3f}  " if "p_sure" in row else "")
            + f"{row['wall_s']:7.1f} s{flag}")


class Progress:
    """Context manager; ``update(rows)`` shows the rows of the latest validation."""

    def __init__(self, config: TrainConfig, enabled: bool = True):
        self.enabled = enabled
        self.console = Console(file=sys.stderr)
        self.interactive = enabled and self.console.is_terminal
        self.live = Live(console=self.console, auto_refresh=False) if self.interactive else None
        self.header = f"training {config.task} · {config.n_seeds} seed(s) · validation every {config.checkfreq} updates"
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
            if not self.interactive or row["criterion_met"]:
                self._print(self.latest[row["seed"]])
        if self.live:
            self.live.update(Text("\n".join(self.latest.values())), refresh=True)
