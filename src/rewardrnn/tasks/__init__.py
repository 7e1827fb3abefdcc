"""Tasks: declarative protocols (``protocol``), their duration samplers (``samplers``), the generic
engine that compiles them into pure JAX environments (``engine``) and the registry.

The names below are imported on first use (:func:`rewardrnn.deferred.lazy_exports`): listing the
tasks imports no JAX, compiling one does."""

from rewardrnn.deferred import lazy_exports

_EXPORTS = {
    **{name: ("rewardrnn.tasks.engine", name) for name in ("EnvState", "Outcomes", "TaskEnv", "Trials")},
    **{name: ("rewardrnn.tasks.protocol", name) for name in ("ChoiceOutcome", "Criterion", "Epoch", "Event", "Protocol",
                                                             "Psychometric", "Rewards", "TrainingDefaults")},
    **{name: ("rewardrnn.tasks.registry", name) for name in ("TASKS", "get_task", "list_tasks")},
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
