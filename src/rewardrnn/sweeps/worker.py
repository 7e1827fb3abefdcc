"""What a sweep's worker runs for one job: train its config into its run folder, resuming the
folder's last checkpoint when it holds one (a retried job after its worker died, or a sweep run
again with ``--resume``). Runs in a fresh process that Ray started (never forked from a process
in which JAX had started), with the thread budget of :func:`rewardrnn.runtime.worker_environment`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def train_job(kind_name: str, config: dict[str, Any], out: str) -> dict[str, Any]:
    """Train the job; returns its summary plus ``resumed`` (whether it continued a checkpoint)
    and ``job_wall_s`` (seconds in this call, JAX start and compilation included)."""
    started = time.perf_counter()
    from rewardrnn import runtime

    runtime.enable_compilation_cache()
    from rewardrnn.training import run_folder
    from rewardrnn.training.kinds import BY_NAME
    from rewardrnn.training.run import train

    folder = Path(out)
    resume = (folder / run_folder.CONFIG).is_file()
    result = train(BY_NAME[kind_name].config_class.from_dict(config), folder, resume=resume, progress=False)
    return {**result.summary, "resumed": resume, "job_wall_s": time.perf_counter() - started}
