"""The package version (also in pyproject.toml); written into every run folder and checkpoint."""

__version__ = "0.2.0"
