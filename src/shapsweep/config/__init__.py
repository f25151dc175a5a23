"""Experiment sets: Jsonnet rendering, schema validation, sweep expansion and run ids."""

from shapsweep.config.errors import ConfigError
from shapsweep.config.experiment_set import ExperimentSet, load_experiment_set

__all__ = ["ConfigError", "ExperimentSet", "load_experiment_set"]
