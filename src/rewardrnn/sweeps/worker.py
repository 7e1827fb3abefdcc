"""What a sweep's worker runs for one job: train its config into its run folder, resuming the
folder's last checkpoint when it holds one (a retried job after its worker died, or a sweep run
again with ``--resume``). Runs in a fresh process that Ray started (never forked from a process
in which JAX had started), with the thread budget of :func:`rewardrnn.runtime.worker_environment`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def train_job(kind_name: str, config: dict[str, Any], out: str, perturbations: list[dict] = ()) -> dict[str, Any]:
    """Train the job, then run the sweep's ``perturbations`` (:class:`rewardrnn.sweeps.spec.Perturbation`
    as dicts) on every seed's best network; returns its summary plus ``resumed`` (whether it
    continued a checkpoint), ``perturbation_errors`` ({``NAME__seedS``: the one-line error of a
    perturbation the trained network could not take}) and ``job_wall_s`` (seconds in this
    call, JAX start and compilation included)."""
    started = time.perf_counter()
    from rewardrnn import runtime

    runtime.enable_compilation_cache()
    from rewardrnn.training import run_folder
    from rewardrnn.training.kinds import BY_NAME
    from rewardrnn.training.run import train

    folder = Path(out)
    resume = (folder / run_folder.CONFIG).is_file()
    result = train(BY_NAME[kind_name].config_class.from_dict(config), folder, resume=resume, progress=False)
    errors = perturb_seeds(folder, [int(s["seed"]) for s in result.summary["seeds"]], perturbations)
    return {**result.summary, "resumed": resume, "perturbation_errors": errors,
            "job_wall_s": time.perf_counter() - started}


def perturb_seeds(folder: Path, seeds: list[int], perturbations: list[dict]) -> dict[str, str]:
    """Each perturbation on each seed's best network, into ``perturbations/NAME__seedS``
    (replacing an earlier try's); returns the one-line errors of those that could not run."""
    from rewardrnn.errors import ConfigError, RunFolderError
    from rewardrnn.perturbations import perturb
    from rewardrnn.sweeps.spec import Perturbation

    errors = {}
    for entry in perturbations:
        spec = Perturbation(**entry)
        for seed in seeds:
            name = f"{spec.name}__seed{seed}"
            try:
                perturb(folder, spec.manipulation(), seed=seed, trials_per_condition=spec.trials_per_condition,
                        name=name, overwrite=True)
            except (ConfigError, RunFolderError) as error:
                errors[name] = str(error)
    return errors
