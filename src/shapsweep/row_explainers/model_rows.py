"""The connector-model kinds' common shape: load the run's model once, explain each row with it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar

from shapsweep.errors import ConfigError
from shapsweep.run_spec import RunSpec


def load_run_model(run: RunSpec):
    """The run's connector model; a bad model/features/value field is a config error (every row would fail)."""
    from shapsweep.models import load_model

    ex = run["explain"]
    try:
        return load_model(ex["model"], ex["features"], ex["value"])
    except ValueError as exc:
        raise ConfigError(f"experiments[{run['variant_index']}] ({run['slug']}).{exc}") from None


class ModelRows:
    """Rows explained one by one by `explain_row(model, row, run, store)` with the run's model."""

    columns: ClassVar[dict] = {}

    def __init__(self, run: RunSpec, explain_row: Callable, store=None):
        self.run, self.explain_row, self.store = run, explain_row, store
        self.computes_with = load_run_model(run)

    def explain(self, rows: Iterable[dict]) -> Iterator[dict]:
        return (self.explain_row(self.computes_with, row, self.run, self.store) for row in rows)
