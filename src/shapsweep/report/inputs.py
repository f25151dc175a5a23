"""Everything a report reads from an experiment set's folder, gathered into one object.

The runs, their shard plans and their references come from the experiment set itself
(`shapsweep.config`), exactly as the rules see them; the files are those of `shapsweep.layout`:
`runs.parquet` and `reference_errors.parquet` (compare rule), the shard and faithfulness files each run's
`summary.json` lists (aggregate rule), and the rows files. Only the files a summary was made from are read,
so files left over from an earlier, larger selection never show up.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from shapsweep import layout
from shapsweep.file_schemas import read_faithfulness, read_shards

# Per-row columns of reference_errors.parquet, renamed so they read as "against the reference".
REFERENCE_ERROR_COLUMNS = {
    "rel_l2": "ref_rel_l2",
    "spearman": "ref_spearman",
    "mse": "ref_mse",
    "topk_overlap": "ref_topk_overlap",
}


@dataclass
class RunInfo:
    run_id: str
    method: str
    budget: float | None  # configured shap.budget, else the mean resolved budget of its rows
    reference: str | None  # run id it is compared against
    data_id: str
    params: dict[str, Any]
    spec: dict[str, Any]


@dataclass
class ReportInputs:
    set_name: str
    set_dir: Path
    runs: pl.DataFrame  # one row per run, as the compare rule wrote it
    infos: dict[str, RunInfo]  # in runs.parquet order
    explanations: pl.DataFrame  # all planned shard rows of all runs (SHARD_SCHEMA)
    rows: dict[str, pl.DataFrame]  # data_id -> rows.parquet
    reference_errors: pl.DataFrame | None = None  # run_id, row_id, ref_* columns
    faithfulness: pl.DataFrame | None = None  # run_id, row_id + metric columns
    report_cfg: dict[str, Any] = field(default_factory=dict)


def _required(path: Path, rule: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run the `{rule}` rule first (snakemake {path})")
    return path


def load_report_inputs(experiment, set_dir: str | Path | None = None) -> ReportInputs:
    """`experiment`: an ExperimentSet, or the path of the set's .jsonnet / rendered config.json;
    `set_dir` defaults to the config's `output_root/experiment_set_id`."""
    from shapsweep.config import ExperimentSet, load_experiment_set

    exp = experiment if isinstance(experiment, ExperimentSet) else load_experiment_set(experiment, warn=False)
    set_dir = Path(set_dir) if set_dir else layout.set_dir(exp.config)
    compare = layout.compare_files(set_dir)
    runs = pl.read_parquet(_required(compare["parquet"], "compare"))
    if "run_id" not in runs.columns:
        raise ValueError(f"{compare['parquet']} has no `run_id` column; it should hold one row per run")
    unknown = [r for r in runs["run_id"] if r not in exp.runs]
    if unknown:
        raise ValueError(f"{compare['parquet']}: run {unknown[0]!r} is not in the experiment set; re-run `compare`")

    rows = {}
    for data_id in dict.fromkeys(exp.runs[r]["data_id"] for r in runs["run_id"]):
        frame = pl.read_parquet(_required(layout.rows_file(set_dir, data_id), "rows"))
        rows[data_id] = frame.with_columns(pl.col("row_id").cast(pl.Utf8))

    # Exactly the shard and faithfulness files each run's summary was made from (rule aggregate).
    shard_paths, faith_paths = [], []
    for run_id in runs["run_id"]:
        summary = json.loads(_required(layout.summary_file(set_dir, run_id), "aggregate").read_text())
        for shard_id in summary["shards"]:
            shard_paths.append(_required(layout.shard_file(set_dir, run_id, shard_id), "explain"))
        for shard_id in summary.get("faithfulness_shards", []):
            faith_paths.append(_required(layout.faithfulness_file(set_dir, run_id, shard_id), "evaluate"))
    explanations = read_shards(shard_paths)

    infos = {}
    for run_id in runs["run_id"]:
        spec = exp.runs[run_id]
        shap = spec["explain"]["shap"]
        budget = shap.get("budget")
        if budget is None:
            resolved = explanations.filter(pl.col("run_id") == run_id)["budget"].drop_nulls()
            budget = float(resolved.mean()) if resolved.len() else None
        infos[run_id] = RunInfo(
            run_id=run_id,
            method=shap["method"],
            budget=float(budget) if budget is not None and math.isfinite(float(budget)) else None,
            reference=exp.references.get(run_id),
            data_id=spec["data_id"],
            params=dict(spec["params"]),
            spec=spec,
        )

    reference_errors = None
    if compare["row_errors"].exists():
        errors = pl.read_parquet(compare["row_errors"])
        keep = [c for c in REFERENCE_ERROR_COLUMNS if c in errors.columns]
        reference_errors = errors.select(
            pl.col("run_id").cast(pl.Utf8),
            pl.col("row_id").cast(pl.Utf8),
            *[pl.col(c).alias(REFERENCE_ERROR_COLUMNS[c]) for c in keep],
        )
    faithfulness = read_faithfulness(faith_paths) if faith_paths else None

    return ReportInputs(
        set_name=str(exp.config["experiment_set_id"]),
        set_dir=set_dir,
        runs=runs,
        infos=infos,
        explanations=explanations,
        rows=rows,
        reference_errors=reference_errors,
        faithfulness=faithfulness,
        report_cfg=dict(exp.config.get("report") or {}),
    )
