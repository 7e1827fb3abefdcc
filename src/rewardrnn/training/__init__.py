"""Training: configs, the registry of run kinds, the trainer, run folders, checkpoints, progress."""

from rewardrnn.training.config import SupervisedTrainConfig, TrainConfig
from rewardrnn.training.neurogym_config import NeuroGymTrainConfig
from rewardrnn.training.perturbation_config import PerturbationTrainConfig
from rewardrnn.training.run import TrainResult, train

__all__ = ["NeuroGymTrainConfig", "PerturbationTrainConfig", "SupervisedTrainConfig", "TrainConfig", "TrainResult",
           "train"]
