"""rewardrnn: recurrent networks trained with reward on the cognitive and value-based tasks of
systems neuroscience (Song, Yang & Wang 2017; Miconi 2017), in JAX.

The names below are imported on first use (PEP 562), so that ``import rewardrnn`` and
``rewardrnn --help`` answer at once: JAX, matplotlib, pandas and xarray load only when a
function that needs them is called."""

from __future__ import annotations

from rewardrnn.deferred import lazy_exports

#: Public name -> (module, attribute).
_EXPORTS = {
    "analyze": ("rewardrnn.api", "analyze"),
    "evaluate": ("rewardrnn.api", "evaluate"),
    "fixedpoints": ("rewardrnn.api", "fixedpoints"),
    "load_run": ("rewardrnn.api", "load_run"),
    "perturb": ("rewardrnn.api", "perturb"),
    "plot": ("rewardrnn.api", "plot"),
    "record": ("rewardrnn.api", "record"),
    "train": ("rewardrnn.api", "train"),
    "trust": ("rewardrnn.api", "trust"),
    "open_activity": ("rewardrnn.records.activity", "open_activity"),
    "report": ("rewardrnn.reports", "build_report"),
    "get_task": ("rewardrnn.tasks", "get_task"),
    "list_tasks": ("rewardrnn.tasks", "list_tasks"),
    "NeuroGymTrainConfig": ("rewardrnn.training", "NeuroGymTrainConfig"),
    "PerturbationTrainConfig": ("rewardrnn.training", "PerturbationTrainConfig"),
    "TrainConfig": ("rewardrnn.training", "TrainConfig"),
    "__version__": ("rewardrnn.version", "__version__"),
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
