"""The shape of a concrete run's spec, as the config layer builds it and every stage reads it.

Specs stay plain dicts (they are JSON in config.json, spec.json and W&B configs), typed here so that a
reader and a type checker know every key. A leaf module: the stages below the config layer import it.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class ExplainSpec(TypedDict):
    """What an explain job needs: the resolved blocks (docs/config.md lists their fields)."""

    model: dict[str, Any]
    features: dict[str, Any]
    value: dict[str, Any]
    shap: dict[str, Any]
    dataset: dict[str, Any]
    selection: dict[str, Any]


class EmpiricalSpec(TypedDict):
    """Where an empirical run's explainer comes from: its target run and the explainer trained on it."""

    target_run: str  # run id whose attributions the explainer learns (also in `hashed`)
    target_data_id: str  # the rows it was trained on; rows of other data are never `in_train`
    explainer_id: str  # <set>/explainers/<explainer_id>/ (layout.explainer_dir)


class TraceSpec(TypedDict):
    """Where a path_kernel run's training run lies: the set's trace and its training rows (config/training.py)."""

    trace_id: str  # also in `hashed`: a re-trace re-explains
    root: str  # <set>/traces/<trace_id>/ (layout.trace_dir)
    done: str  # the trace rule's marker (layout.trace_done)
    rows: str  # the training rows' rows.parquet
    max_samples: int | None  # the first rows of it that were trained on
    target: str  # the training rows' target column
    step_blocks: list[list[int]] | None  # path_kernel with options.step_block: the [a, b) of each block job


class RunSpec(TypedDict):
    run_id: str  # slug + "-" + hash
    hash: str  # short hash of `hashed`
    hashed: dict[str, Any]  # exactly what the hash covers: model, features, value, shap, data_id, shard_size
    slug: str  # variant name + swept values
    variant: str
    variant_index: int  # its place in `experiments`
    reference: bool  # other runs are compared against it
    params: dict[str, Any]  # swept dotted path -> value
    data_id: str
    shard_size: int
    explain: ExplainSpec
    resources: dict[str, Any]
    empirical: NotRequired[EmpiricalSpec]  # only for shap.method 'empirical' (config/methods.py)
    trace: NotRequired[TraceSpec]  # only for shap.method 'path_kernel' (config/training.py)
