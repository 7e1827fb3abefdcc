"""Tasks: declarative protocols (``protocol``), their duration samplers (``samplers``), the generic
engine that compiles them into pure JAX environments (``engine``) and the registry."""

from rewardrnn.tasks.engine import EnvState, Outcomes, TaskEnv, Trials
from rewardrnn.tasks.protocol import (ChoiceOutcome, Criterion, Epoch, Event, Protocol, Psychometric, Rewards,
                                      TrainingDefaults)
from rewardrnn.tasks.registry import TASKS, get_task, list_tasks

__all__ = ["ChoiceOutcome", "Criterion", "EnvState", "Epoch", "Event", "Outcomes", "Protocol", "Psychometric",
           "Rewards", "TASKS", "TaskEnv", "TrainingDefaults", "Trials", "get_task", "list_tasks"]
