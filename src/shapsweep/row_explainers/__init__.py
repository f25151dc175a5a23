"""Row explainers: the kinds of thing that turn a shard's rows into shard records.

A kind is one module here plus one line in `KINDS`. The module defines `load(run, inputs) -> RowExplainer`;
the explain job (`shapsweep.explain`) loads the kind of its run once and feeds it each shard's rows. Every
shard method that is not a kind of its own (exact, kernel, permutation, ... Shapley estimators) is a game.

The columns a kind adds to the common shard columns are declared once, in `shapsweep.file_schemas`, and named
by the kind module's `COLUMNS` (its explainer's `columns`); a record with a column no kind declared is
refused when the shard is written.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from shapsweep.run_spec import RunSpec

# shap.method -> the module of its kind; any other method is an estimator of the game kind
KINDS = {
    "game": "shapsweep.row_explainers.game",
    "integrated_gradients": "shapsweep.row_explainers.gradients",
    "empirical": "shapsweep.row_explainers.empirical",
    "path_kernel": "shapsweep.row_explainers.path_kernel",
    "update_game": "shapsweep.row_explainers.update_game",
    "ablation_game": "shapsweep.row_explainers.ablation_game",
}


@dataclass(frozen=True)
class ExplainInputs:
    """What a job may hand a kind beyond the run spec: the shared evaluation store and input folders."""

    store: Any = None  # shapsweep.store.EvaluationStore, shared by the game and component-game runs
    explainer_dir: Path | None = None  # an empirical run's trained explainer
    step_block: int | None = None  # a path_kernel run's block of trace steps (run["trace"]["step_blocks"])
    rows_path: Path | None = None  # the run's rows file (an ablation_game run's reference rows)


class RowExplainer(Protocol):
    """A loaded explainer for one run: rows in, one shard record per row out, in order."""

    columns: Mapping[str, Any]  # the shard columns this kind adds (file_schemas), name -> polars dtype
    computes_with: Any  # what the provenance reads the device and dtype from (a model, a module)

    def explain(self, rows: Iterable[dict]) -> Iterator[dict]: ...


def kind_of(method: str) -> str:
    return method if method in KINDS else "game"


def kind_module(method: str):
    return importlib.import_module(KINDS[kind_of(method)])


def open_row_explainer(run: RunSpec, inputs: ExplainInputs | None = None) -> RowExplainer:
    """The row explainer of `run`'s `shap.method`, loaded (model, explainer, trace) once for all its shards."""
    return kind_module(run["explain"]["shap"]["method"]).load(run, inputs or ExplainInputs())


def explain_loaded_row(model, row: dict, run: RunSpec, store=None) -> dict:
    """One shard record from an already loaded connector model (games and gradients; the Python API's path)."""
    module = kind_module(run["explain"]["shap"]["method"])
    if not hasattr(module, "explain_row"):
        raise ValueError(f"shap.method {run['explain']['shap']['method']!r} does not explain one row of a loaded model")
    return module.explain_row(model, row, run, store)
