"""Experiment sets: Jsonnet rendering, schema validation, sweep expansion and run ids."""

from shapsweep.config.experiment_set import ExperimentSet, load_experiment_set
from shapsweep.errors import ConfigError

__all__ = ["ConfigError", "ExperimentSet", "load_experiment_set"]
