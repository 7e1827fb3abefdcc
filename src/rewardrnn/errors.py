"""Errors raised for bad input. The CLI turns each into a one-line message and exit code 2."""


class RewardRNNError(Exception):
    """Base class of the errors rewardrnn raises for bad input or bad files."""


class ConfigError(RewardRNNError, ValueError):
    """A configuration value is invalid; the message names the value and what is allowed."""


class UnknownNameError(RewardRNNError, KeyError):
    """A name (task, option, run) does not exist; the message lists what does."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class CheckpointError(RewardRNNError):
    """A checkpoint file is truncated, foreign or does not match the run's configuration."""


class RunFolderError(RewardRNNError):
    """A run folder is missing, or already holds a different run."""
