"""The training display on a terminal: one bar per seed whose seed, bar, rate and times keep
their width, the latest numbers in what is left, and at the end why each seed stopped."""

import io
import re

from rich.console import Console

from rewardrnn.training.progress import Progress


def _row(seed, status, **extra):
    return {"seed": seed, "updates": 50, "trials": 500, "status": status, "criterion_met": False, "new_best": False,
            "reward": 0.7, "p_decision": 0.99, "p_correct": 0.75, "wall_s": 3.0, **extra}


def _screen(rows, width):
    console = Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None)
    with Progress("rdm-fixed", budget_updates=50, trials_per_update=10, console=console) as progress:
        assert progress.wants_ticks()
        progress.update(rows)
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", console.file.getvalue())
    return [line.rstrip() for line in text.replace("\r", "\n").splitlines() if line.startswith("seed")][-len(rows):]


def test_each_bar_says_why_its_seed_stopped():
    lines = _screen([_row(1, "budget spent", new_best=True), _row(2, "stalled", stall_reason="no progress in 40"),
                     _row(3, "reached criterion", criterion_met=True), _row(4, "running")], width=200)
    assert lines[0].startswith("seed   1") and lines[0].endswith("✗ budget spent")  # not the new-best mark
    assert lines[1].endswith("✗ stalled (no progress in 40)")
    assert lines[2].endswith("✓ criterion at 500 trials")
    assert "training  reward 0.700  P(decision) 0.990  P(correct) 0.750" in lines[3]
    assert all("50/50 updates" in line and "trials/s" in line for line in lines)


def test_a_narrow_terminal_shortens_the_numbers_not_the_seed_or_its_bar():
    lines = _screen([_row(1, "running"), _row(12, "running")], width=100)
    assert [line[:8] for line in lines] == ["seed   1", "seed  12"]
    for line in lines:
        assert len(line) <= 100 and "━" * 20 in line and "updates ·" in line and "elapsed · left" in line
        assert line.endswith("…")  # the numbers, cut to the width
