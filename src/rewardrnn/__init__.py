"""rewardrnn: recurrent networks trained with reward on the cognitive and value-based tasks of
systems neuroscience (Song, Yang & Wang 2017; Miconi 2017), in JAX."""

from rewardrnn.analysis.activity import open_activity
from rewardrnn.analysis.pipeline import analyze, record
from rewardrnn.api import evaluate, load_run, plot, train
from rewardrnn.report import build_report as report
from rewardrnn.tasks import get_task, list_tasks
from rewardrnn.training import TrainConfig

__version__ = "0.1.0"
__all__ = ["TrainConfig", "analyze", "evaluate", "get_task", "list_tasks", "load_run", "open_activity", "plot",
           "record", "report", "train"]
