"""Training: configs, the registry of run kinds, the trainer, run folders, checkpoints, progress.

The names below are imported on first use (:func:`rewardrnn.deferred.lazy_exports`), so that
the registry of run kinds (``rewardrnn.training.kinds``) loads without the learners and JAX."""

from rewardrnn.deferred import lazy_exports

_EXPORTS = {
    "NeuroGymTrainConfig": ("rewardrnn.training.neurogym_config", "NeuroGymTrainConfig"),
    "PerturbationTrainConfig": ("rewardrnn.training.perturbation_config", "PerturbationTrainConfig"),
    "SupervisedTrainConfig": ("rewardrnn.training.config", "SupervisedTrainConfig"),
    "TrainConfig": ("rewardrnn.training.config", "TrainConfig"),
    "TrainResult": ("rewardrnn.training.run", "TrainResult"),
    "train": ("rewardrnn.training.run", "train"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
