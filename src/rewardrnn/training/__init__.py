"""Training: config, run folder, checkpoints, progress and the loop."""

from rewardrnn.training.config import TrainConfig
from rewardrnn.training.loop import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]
