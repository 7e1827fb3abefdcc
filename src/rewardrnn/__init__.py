"""rewardrnn: recurrent networks trained with reward on the cognitive and value-based tasks of
systems neuroscience (Song, Yang & Wang 2017; Miconi 2017), in JAX."""

from rewardrnn.api import analyze, evaluate, fixedpoints, load_run, perturb, plot, record, train, trust
from rewardrnn.records.activity import open_activity
from rewardrnn.report import build_report as report
from rewardrnn.tasks import get_task, list_tasks
from rewardrnn.training import NeuroGymTrainConfig, PerturbationTrainConfig, TrainConfig
from rewardrnn.version import __version__

__all__ = ["NeuroGymTrainConfig", "PerturbationTrainConfig", "TrainConfig", "__version__", "analyze", "evaluate",
           "fixedpoints", "get_task", "list_tasks", "load_run", "open_activity", "perturb", "plot", "record", "report", "train", "trust"]
