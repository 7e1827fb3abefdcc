"""Experiments beyond one run (``rewardrnn experiment ...``): each writes a folder of cells, every
cell a normal run folder, and a page over them."""

from __future__ import annotations

from pathlib import Path

#: Experiment name (its folder's marker) -> (module, experiment class name).
EXPERIMENTS = {"baselines": ("rewardrnn.experiments.baselines", "BaselinesExperiment"),
               "learners": ("rewardrnn.experiments.learners", "LearnersExperiment")}


def rebuild_page(out: Path, name: str) -> Path:
    """Rewrite the tables, figures and ``report.html`` of the experiment folder ``out`` (an
    experiment named ``name``) from its cells, training nothing; returns the page's path."""
    import importlib

    from rewardrnn.errors import RunFolderError
    from rewardrnn.experiments import cells

    if name not in EXPERIMENTS:
        raise RunFolderError(f"{out} is marked as a {name!r} experiment; known experiments: {', '.join(EXPERIMENTS)}")
    module_name, class_name = EXPERIMENTS[name]
    module = importlib.import_module(module_name)
    experiment = cells.saved_experiment(out, name, getattr(module, class_name))
    module.write_results(experiment, out)
    return out / "report.html"
