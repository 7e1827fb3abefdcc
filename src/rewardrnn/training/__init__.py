"""Training: config, run folder, checkpoints, progress and the loop."""

from rewardrnn.training import run_folder
from rewardrnn.training.config import TrainConfig
from rewardrnn.training.loop import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "run_folder", "train"]
