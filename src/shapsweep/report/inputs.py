"""Everything a report reads from an experiment set's folder, gathered into one object.

Files (see docs/DESIGN.md): `runs.parquet` (one row per run), `runs/<run>/shards/*.parquet` (one row per
explained dataset row), `data/<data_id>/rows.parquet` (the selected dataset rows) and, when evaluation ran,
`runs/<run>/faithfulness/*.parquet`. Shard files are found from the run ids of `runs.parquet` rather than
passed on the command line: a set can have tens of thousands of them, more than one shell argument holds.
Explanations whose row is no longer in the current selection (`max_samples` lowered) are left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

# Columns of the shard contract the report uses; a shard written before a column existed still loads.
SHARD_COLUMNS = {
    "row_id": pl.Utf8,
    "run_id": pl.Utf8,
    "players": pl.List(pl.Utf8),
    "player_spans": pl.List(pl.List(pl.Int64)),
    "attribution": pl.List(pl.Float64),
    "attribution_normalized": pl.List(pl.Float64),
    "stderr": pl.List(pl.Float64),
    "v_empty": pl.Float64,
    "v_full": pl.Float64,
    "n_evals": pl.Int64,
    "runtime_s": pl.Float64,
    "response": pl.Utf8,
    "status": pl.Utf8,
    "error": pl.Utf8,
}

# Where a run's method and budget may be found, most specific first (runs.parquet columns or spec keys).
METHOD_KEYS = ("shap.method", "method", "explain.shap.method")
BUDGET_KEYS = ("shap.budget", "budget", "explain.shap.budget")


@dataclass
class ReportInputs:
    set_name: str
    runs: pl.DataFrame  # one row per run, as the compare rule wrote it
    explanations: pl.DataFrame  # all shard rows of all runs, SHARD_COLUMNS (+ any extra)
    rows: dict[str, pl.DataFrame]  # data_id -> rows.parquet
    run_data: dict[str, str]  # run_id -> data_id
    run_reference: dict[str, str]  # run_id -> reference run id (runs without one are absent)
    run_specs: dict[str, dict[str, Any]] = field(default_factory=dict)  # run_id -> spec from config.json
    faithfulness: pl.DataFrame | None = None  # row_id, run_id + metric columns
    report_cfg: dict[str, Any] = field(default_factory=dict)

    @property
    def run_ids(self) -> list[str]:
        return self.runs["run_id"].to_list()

    def run_value(self, run_id: str, keys: tuple[str, ...]) -> Any:
        """A run's value under the first of `keys` found in runs.parquet, then in its spec (dotted keys)."""
        row = self.runs.filter(pl.col("run_id") == run_id)
        for key in keys:
            if key in row.columns and row.height and row[key][0] is not None:
                return row[key][0]
        spec = self.run_specs.get(run_id, {})
        for key in keys:
            node: Any = spec
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                return node
            node = spec.get("params", {}).get(key) if isinstance(spec.get("params"), dict) else None
            if node is not None:
                return node
        return None


def _normalise_shard(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    for name in ("row_id", "run_id"):
        if name not in frame.columns:
            raise ValueError(f"shard file {path} has no `{name}` column: it does not follow the shard contract")
    missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in SHARD_COLUMNS.items() if name not in frame.columns]
    frame = frame.with_columns(missing) if missing else frame
    casts = []
    for name, dtype in SHARD_COLUMNS.items():
        if frame.schema[name] != dtype:
            casts.append(pl.col(name).cast(dtype, strict=False))
    frame = frame.with_columns(casts) if casts else frame
    return frame.select(list(SHARD_COLUMNS))


def read_shards(paths: list[Path]) -> pl.DataFrame:
    frames = [_normalise_shard(pl.read_parquet(p), p) for p in sorted(paths)]
    if not frames:
        return pl.DataFrame(schema=SHARD_COLUMNS)
    return pl.concat(frames, how="vertical")


def _read_config(config_path: Path | None) -> dict[str, Any]:
    if config_path is None or not Path(config_path).exists():
        return {}
    return json.loads(Path(config_path).read_text())


def _runs_of_config(config: dict[str, Any], config_path: Path | None) -> tuple[dict[str, dict], dict[str, str]]:
    """run_id -> run spec and run_id -> reference run id, expanded from the rendered config like the
    pipeline does (shapsweep.config), so the report names runs exactly as the rules do."""
    if not config:
        return {}, {}
    from shapsweep.config.experiment_set import from_config

    try:
        exp = from_config(config, str(config_path))
    except Exception as exc:  # the pipeline validated it already; say which file no longer matches
        raise ValueError(f"{config_path}: cannot expand the experiment set's runs: {exc}") from exc
    references = {run_id: ref for run_id, ref in exp.references.items() if ref and ref != run_id}
    return exp.runs, references


def load_report_inputs(set_dir: Path, runs_path: Path | None = None, config_path: Path | None = None) -> ReportInputs:
    set_dir = Path(set_dir)
    runs_path = Path(runs_path) if runs_path else set_dir / "runs.parquet"
    if not runs_path.exists():
        raise FileNotFoundError(f"{runs_path} not found: run the `compare` rule first (snakemake {runs_path})")
    runs = pl.read_parquet(runs_path)
    if "run_id" not in runs.columns:
        raise ValueError(f"{runs_path} has no `run_id` column; it should hold one row per run")
    config_path = Path(config_path) if config_path else set_dir / "config.json"
    config = _read_config(config_path)
    specs, references = _runs_of_config(config, config_path)

    rows: dict[str, pl.DataFrame] = {}
    for rows_path in sorted((set_dir / "data").glob("*/rows.parquet")):
        frame = pl.read_parquet(rows_path)
        if "row_id" not in frame.columns:
            raise ValueError(f"{rows_path} has no `row_id` column (canonical rows need a stable row_id)")
        rows[rows_path.parent.name] = frame.with_columns(pl.col("row_id").cast(pl.Utf8))

    run_ids = runs["run_id"].cast(pl.Utf8).to_list()
    run_data: dict[str, str] = {}
    run_reference: dict[str, str] = {}
    for i, run_id in enumerate(run_ids):
        spec = specs.get(run_id, {})
        data_id = runs["data_id"][i] if "data_id" in runs.columns else spec.get("data_id")
        if data_id is None and len(rows) == 1:
            data_id = next(iter(rows))
        if data_id is not None:
            run_data[run_id] = str(data_id)
        reference = references.get(run_id)
        if reference is None and "reference_run" in runs.columns:
            reference = runs["reference_run"][i]
        if isinstance(reference, str) and reference and reference != run_id:
            run_reference[run_id] = reference

    shard_paths = [p for run_id in run_ids for p in (set_dir / "runs" / run_id / "shards").glob("*.parquet")]
    explanations = read_shards(shard_paths)
    explanations = _keep_selected_rows(explanations, run_data, rows)

    faith_paths = [p for run_id in run_ids for p in (set_dir / "runs" / run_id / "faithfulness").glob("*.parquet")]
    faithfulness = pl.concat([pl.read_parquet(p) for p in sorted(faith_paths)], how="diagonal_relaxed") if faith_paths else None

    return ReportInputs(
        set_name=str(config.get("experiment_set_id") or config.get("name") or set_dir.name),
        runs=runs.with_columns(pl.col("run_id").cast(pl.Utf8)),
        explanations=explanations,
        rows=rows,
        run_data=run_data,
        run_reference=run_reference,
        run_specs=specs,
        faithfulness=faithfulness,
        report_cfg=dict(config.get("report") or {}),
    )


def _keep_selected_rows(explanations: pl.DataFrame, run_data: dict[str, str], rows: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Drop shard rows whose dataset row left the selection; runs with unknown data are kept whole."""
    if not rows or explanations.is_empty():
        return explanations
    keep = []
    for run_id, part in explanations.group_by("run_id", maintain_order=True):
        data_id = run_data.get(run_id[0])
        if data_id in rows:
            part = part.filter(pl.col("row_id").is_in(rows[data_id]["row_id"].implode()))
        keep.append(part)
    return pl.concat(keep, how="vertical")
