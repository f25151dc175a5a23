"""Columns of the Parquet files the stages hand each other, and the one way to read shard files.

A leaf module (polars only): the explain stage writes shards in `SHARD_SCHEMA`; aggregate, compare,
report and export read them with `read_shards`, so none of them imports the stage that wrote them.
docs/DESIGN.md ("Shard file contract") describes the columns.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import polars as pl

# The columns only some row explainers fill (shapsweep.row_explainers: each kind names its own); null elsewhere.
# empirical runs: the row was one of the explainer's training rows (metrics keep to the others)
EMPIRICAL_COLUMNS = {"in_train": pl.Boolean}
# path_kernel runs (players = training data groups): the same change split over parameter groups and steps
PATH_KERNEL_COLUMNS = {
    "trace_id": pl.Utf8,  # the trace explained
    "components": pl.List(pl.Utf8),  # parameter groups (options.components), trace order
    "component_scores": pl.List(pl.Float64),  # per component: data + momentum + weight decay
    "trace_steps": pl.List(pl.Int64),  # the update steps explained, s0 .. s1-1
    "step_totals": pl.List(pl.Float64),  # per update step: f(θ_{s+1}) − f(θ_s) by the midpoint rule
    "component_step_scores": pl.List(pl.List(pl.Float64)),  # component × step
    "momentum_score": pl.Float64,  # Adam's first moment carried into the window
    "weight_decay_score": pl.Float64,  # AdamW's decoupled weight decay over the window
    # classifier rows, players = examples: the mean score of the training examples labelled with the class
    # the row's value is about, and of the others (the run page's sanity figure); null otherwise
    "same_label_mean": pl.Float64,
    "other_label_mean": pl.Float64,
}
KIND_COLUMNS = {**EMPIRICAL_COLUMNS, **PATH_KERNEL_COLUMNS}

SHARD_SCHEMA = {
    "row_id": pl.Utf8,
    "run_id": pl.Utf8,
    "players": pl.List(pl.Utf8),
    "player_spans": pl.List(pl.List(pl.Int64)),
    # media players' regions: pixel box [y0, x0, y1, x1], [superpixel id] or [start_s, end_s]; null for text
    "player_regions": pl.List(pl.List(pl.Float64)),
    "attribution": pl.List(pl.Float64),
    "attribution_normalized": pl.List(pl.Float64),
    "stderr": pl.List(pl.Float64),
    "max_stderr": pl.Float64,  # the largest player's standard error (what shap.target_stderr stops on)
    "index": pl.Utf8,  # the estimand of `attribution`: shapley or banzhaf (null: integrated gradients, empirical)
    # shap.interactions: the top-k pairs by |index| (players' positions i < j, value, stderr: null where the method gives none)
    "interaction_index": pl.Utf8,
    "interaction_i": pl.List(pl.Int64),
    "interaction_j": pl.List(pl.Int64),
    "interaction_value": pl.List(pl.Float64),
    "interaction_stderr": pl.List(pl.Float64),
    "estimator_details": pl.Utf8,  # JSON: what the method chose and why, rounds, budget left unspent
    "v_empty": pl.Float64,
    "v_full": pl.Float64,
    "n_players": pl.Int64,
    "n_evals": pl.Int64,
    "budget": pl.Int64,
    "forward_passes": pl.Int64,
    "model_evals": pl.Int64,  # coalitions this job sent to the model for the row (the rest came from the store)
    "store_hits": pl.Int64,
    "generations_reused": pl.Int64,  # values computed from stored generations (null: value needs none)
    "efficiency_gap": pl.Float64,
    "runtime_s": pl.Float64,
    "response": pl.Utf8,
    **KIND_COLUMNS,
    "status": pl.Utf8,
    "error": pl.Utf8,
}

# Faithfulness of one shard's explanations (rule evaluate): per-row metrics, curves and cost.
FAITHFULNESS_METRICS = ("deletion_auc", "insertion_auc", "aopc_comprehensiveness", "aopc_sufficiency", "loo_spearman")
FAITHFULNESS_SCHEMA = {
    "row_id": pl.Utf8,
    "run_id": pl.Utf8,
    **dict.fromkeys(FAITHFULNESS_METRICS, pl.Float64),
    "deletion_curve": pl.List(pl.Float64),
    "insertion_curve": pl.List(pl.Float64),
    "n_coalitions": pl.Int64,
    "eval_runtime_s": pl.Float64,
    "status": pl.Utf8,
    "error": pl.Utf8,
}

# <shard>.interactions.parquet (shap.interactions.full_matrix; layout.interaction_matrix_file): one row per
# shard row with a matrix; `matrix` and `stderr` are the n x n matrix row-major (stderr null where the
# method gives none, NaN for a pair it did not estimate).
INTERACTION_MATRIX_KEY = "interaction_matrix"  # the key a shard record hands its side-file row under (explain.py)
INTERACTION_MATRIX_SCHEMA = {
    "row_id": pl.Utf8,
    "run_id": pl.Utf8,
    "interaction_index": pl.Utf8,
    "n_players": pl.Int64,
    "matrix": pl.List(pl.Float64),
    "stderr": pl.List(pl.Float64),
}

# Per-row errors of a run against its reference run (compare.row_errors).
ROW_ERROR_SCHEMA = {
    "row_id": pl.Utf8,
    "mse": pl.Float64,
    "rel_l2": pl.Float64,
    "spearman": pl.Float64,
    "topk_overlap": pl.Float64,
    # shap.interactions in both runs, same index: relative L2 between the rows' kept top-k pairs (as sparse
    # matrices, pairs not kept are 0) and the share of the reference's kept pairs the run also kept
    "interaction_rel_l2": pl.Float64,
    "interaction_overlap": pl.Float64,
    # the share of the pairs both kept whose reference value lies in the run's value +- 1.96 stderr
    # (null: the run's pairs have no standard errors)
    "interaction_coverage": pl.Float64,
}
# reference_errors.parquet: the per-row errors of every compared run, stacked.
REFERENCE_ERRORS_SCHEMA = {**ROW_ERROR_SCHEMA, "run_id": pl.Utf8, "reference_run": pl.Utf8}


def failed_row(row_id: str, run_id: str, status: str, error: str, runtime_s: float = 0.0, players=None) -> dict:
    """A shard row that holds no attributions: its status (a RowError kind, `skipped`, ...) and why.

    The shard's other columns are null for it (SHARD_SCHEMA fills them when the shard is written).
    """
    return {
        "row_id": row_id,
        "run_id": run_id,
        "players": players,
        "status": status,
        "error": error,
        "runtime_s": runtime_s,
    }


def _normalise(frame: pl.DataFrame, schema: dict, path: Path) -> pl.DataFrame:
    """`frame` in the contract's columns and types: a file written before a column existed still loads."""
    for name in ("row_id", "run_id"):
        if name not in frame.columns:
            raise ValueError(f"{path} has no `{name}` column: it does not follow the file contract")
    missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in schema.items() if name not in frame.columns]
    frame = frame.with_columns(missing) if missing else frame
    casts = [pl.col(n).cast(t, strict=False) for n, t in schema.items() if frame.schema[n] != t]
    frame = frame.with_columns(casts) if casts else frame
    return frame.select(list(schema))


def read_files(paths: list[str | Path], schema: dict) -> pl.DataFrame:
    """All rows of these Parquet files in `schema` (an empty frame of that schema for none)."""
    # One read (and one normalise) per run of consecutive files with the same on-disk schema: per-file
    # reads dominated loading at dataset scale, and the files of one sweep nearly always share a schema.
    # Consecutive runs keep the files' order; a file written before a column existed starts a new run.
    if len(paths) > 1:
        try:  # one read when every file has the same columns and types (polars refuses any mismatch)
            return _normalise(pl.read_parquet(paths), schema, Path(paths[0]))
        except (pl.exceptions.SchemaError, pl.exceptions.ColumnNotFoundError):
            pass
    frames = []
    for _file_schema, group in itertools.groupby(paths, key=lambda p: tuple(pl.read_parquet_schema(p).items())):
        group = list(group)
        frame = pl.read_parquet(group) if len(group) > 1 else pl.read_parquet(group[0])
        frames.append(_normalise(frame, schema, Path(group[0])))
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames, how="vertical")


def read_shards(paths: list[str | Path]) -> pl.DataFrame:
    """All rows of these shard files, in SHARD_SCHEMA."""
    return read_files(paths, SHARD_SCHEMA)


def read_interaction_matrices(shard_paths: list[str | Path]) -> pl.DataFrame:
    """The whole interaction matrices beside these shards (INTERACTION_MATRIX_SCHEMA); shards without a side
    file (shap.interactions.full_matrix not asked) add nothing."""
    from shapsweep.layout import interaction_matrix_file

    return read_files([p for p in map(interaction_matrix_file, shard_paths) if p.exists()], INTERACTION_MATRIX_SCHEMA)


def held_out(shards: pl.DataFrame) -> pl.DataFrame:
    """The rows an attribution metric may use: all of them, but an empirical run's training rows."""
    return shards.filter(~pl.col("in_train").fill_null(False))


def read_faithfulness(paths: list[str | Path]) -> pl.DataFrame:
    """All rows of these faithfulness files, in FAITHFULNESS_SCHEMA."""
    return read_files(paths, FAITHFULNESS_SCHEMA)
