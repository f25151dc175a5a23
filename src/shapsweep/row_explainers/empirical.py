"""The learned-explainer kind: a trained explainer predicts each shard's attributions in batched passes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from shapsweep.errors import ConfigError
from shapsweep.file_schemas import EMPIRICAL_COLUMNS
from shapsweep.run_spec import RunSpec

COLUMNS = EMPIRICAL_COLUMNS


class EmpiricalKind:
    columns = COLUMNS

    def __init__(self, run: RunSpec, explainer_dir):
        from shapsweep.empirical.explain_rows import EmpiricalRows

        self.rows = EmpiricalRows(run, explainer_dir)
        self.computes_with = self.rows.explainer

    def explain(self, rows: Iterable[dict]) -> Iterator[dict]:
        return iter(self.rows.explain(list(rows)))


def load(run: RunSpec, inputs) -> EmpiricalKind:
    if inputs.explainer_dir is None:
        raise ConfigError(f"run {run['run_id']} is empirical: its explainer folder is needed (--explainer)")
    return EmpiricalKind(run, inputs.explainer_dir)
