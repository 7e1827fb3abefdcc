"""Waiting for events, never for the clock: what the tests that drive a process use.

A test that needs a process to reach a state (a checkpoint written, a validation row, a Ray job
started) polls for that state with :func:`wait_for`, and fails (naming the state and the
process's last words) only if the process ends first or the generous overall limit passes. The
limits are sized for a machine many times slower than a quiet one (the suite run beside two
CPU-bound processes, `make test-under-load`): they are a guard against a hang, not a measure of
speed. ``REWARDRNN_TEST_LIMIT_S`` raises or lowers them all.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable

#: Overall limit of one wait or one subprocess, s: a hang guard, far above a loaded machine's time.
LIMIT_S = float(os.environ.get("REWARDRNN_TEST_LIMIT_S", 3600))


def wait_for(ready: Callable[[], bool], what: str, process: subprocess.Popen | None = None,
             limit_s: float = LIMIT_S, poll_s: float = 0.1) -> None:
    """Return as soon as ``ready()`` is true. Fails if ``process`` ends before (with its stderr,
    when it was piped) or after ``limit_s`` seconds. ``ready`` may raise while a file is being
    written; that counts as not ready yet."""
    deadline = time.monotonic() + limit_s
    while True:
        try:
            if ready():
                return
        except (OSError, ValueError, KeyError):  # a file half-written or not there yet
            pass
        if process is not None and process.poll() is not None:
            err = process.stderr.read()[-3000:] if process.stderr is not None else ""
            raise AssertionError(f"the process ended (exit {process.returncode}) before {what}: {err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {limit_s:.0f} s")
        time.sleep(poll_s)


def rows(path) -> int:
    """Data rows of a CSV file (0 if it is not there yet)."""
    return max(0, len(path.read_text().strip().splitlines()) - 1) if path.is_file() else 0
