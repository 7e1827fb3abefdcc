"""What this machine can hold, and the sizes refused up front because they exceed it.

Sizes that come from a user or from someone else's file (seeds, units, trial length, sweep
points, fixed-point candidates) are checked before any work, with one line that names the limit:
a fixed ceiling where a larger value is surely a mistake, and the available memory (Linux's
``MemAvailable``) where the size needed can be computed.
"""

from __future__ import annotations

import os

from rewardrnn.errors import ConfigError

#: Seeds trained together in one run (vmapped); a sweep over seeds splits more into jobs.
MAX_SEEDS = 4096
#: Units of one network.
MAX_UNITS = 10_000
#: Trials of one batch (gradient or validation).
MAX_BATCH_TRIALS = 100_000
#: Time steps of one trial (200 s at 10 ms).
MAX_TRIAL_STEPS = 20_000
#: Longest episode of trials in steps (a NeuroGym session: ``episode_trials x max_trial_steps``).
MAX_EPISODE_STEPS = 100_000
#: Points of one sweep file (raise with ``rewardrnn sweep --max-points``).
MAX_SWEEP_POINTS = 10_000


def available_memory_bytes() -> int:
    """Memory a new allocation can take now: ``MemAvailable`` of /proc/meminfo, else the physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2 ** 62


def check_fits(needed_bytes: float, what: str, remedy: str) -> None:
    """Refuse (one line) ``what`` when it needs more than half the available memory."""
    available = available_memory_bytes()
    if needed_bytes > available / 2:
        raise ConfigError(f"{what} needs about {needed_bytes / 2 ** 30:,.1f} GiB and this machine has "
                          f"{available / 2 ** 30:,.1f} GiB available (at most half is used); {remedy}")


def check_at_most(name: str, value: int, limit: int, remedy: str = "") -> None:
    """Refuse ``value`` of ``name`` above ``limit``, naming the limit."""
    if value > limit:
        raise ConfigError(f"{name} must be at most {limit:,}, got {value:,}" + (f"; {remedy}" if remedy else ""))
