"""One table over all runs (swept parameters and metrics as columns) and errors against reference runs."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
from scipy.stats import spearmanr

from shapsweep.file_schemas import ROW_ERROR_SCHEMA, held_out


def interaction_errors(
    pairs: dict | None, ref_pairs: dict | None, full: dict | None = None, ref_full: dict | None = None
) -> dict:
    """Errors of a row's kept interaction pairs against the reference row's (same index), else nulls.

    With both rows' whole matrices (`full`, `ref_full`: side-file rows of shap.interactions.full_matrix),
    the relative L2 and the coverage are over every pair instead of the kept ones.
    """
    none = {"interaction_rel_l2": None, "interaction_overlap": None, "interaction_coverage": None}
    if not pairs or not ref_pairs or pairs["interaction_index"] is None:
        return none
    if pairs["interaction_index"] != ref_pairs["interaction_index"]:
        return none

    def as_dict(p):
        return {
            (i, j): v for i, j, v in zip(p["interaction_i"], p["interaction_j"], p["interaction_value"], strict=True)
        }

    mine, ref = as_dict(pairs), as_dict(ref_pairs)
    stderr = dict(zip(zip(pairs["interaction_i"], pairs["interaction_j"]), pairs.get("interaction_stderr") or []))
    covered = [abs(mine[k] - ref[k]) <= 1.96 * se for k, se in stderr.items() if se is not None and k in ref]
    keys = sorted(set(mine) | set(ref))
    norm = math.sqrt(sum(v * v for v in ref.values()))
    diff = math.sqrt(sum((mine.get(k, 0.0) - ref.get(k, 0.0)) ** 2 for k in keys))
    if full and ref_full and full["n_players"] == ref_full["n_players"]:
        n = full["n_players"]
        upper = np.triu_indices(n, 1)
        matrix, ref_matrix = (np.asarray(f["matrix"], dtype=np.float64).reshape(n, n)[upper] for f in (full, ref_full))
        norm, diff = float(np.linalg.norm(ref_matrix)), float(np.linalg.norm(matrix - ref_matrix))
        if full["stderr"] is not None:
            se = np.asarray(full["stderr"], dtype=np.float64).reshape(n, n)[upper]
            known = np.isfinite(se)
            covered = list(np.abs(matrix - ref_matrix)[known] <= 1.96 * se[known])
    return {
        "interaction_rel_l2": diff / norm if norm > 0 else None,
        "interaction_overlap": len(set(mine) & set(ref)) / len(ref) if ref else None,
        # share of the pairs both kept whose reference value lies in the run's 95% interval
        "interaction_coverage": sum(covered) / len(covered) if covered else None,
    }


def row_errors(
    run: pl.DataFrame,
    reference: pl.DataFrame,
    top_k: int,
    matrices: pl.DataFrame | None = None,
    ref_matrices: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per row (ok in both, same players): MSE, relative L2, Spearman and top-k overlap against the reference.

    `matrices` / `ref_matrices` (file_schemas.read_interaction_matrices): the runs' whole interaction
    matrices where they wrote them; the interaction errors then cover every pair.

    An empirical run is scored on its held-out rows only (its explainer learnt the others). A path_kernel run
    is scored by its component scores (its reference is an update_game run, whose players are the components).
    """
    if run["components"].null_count() < run.height:
        run = run.with_columns(players=pl.col("components"), attribution=pl.col("component_scores"))
    pair_cols = ["interaction_index", "interaction_i", "interaction_j", "interaction_value", "interaction_stderr"]
    run, reference = (
        frame.with_columns(pl.lit(None).alias(c) for c in pair_cols if c not in frame.columns)
        for frame in (run, reference)
    )
    joined = (
        held_out(run)
        .filter(pl.col("status") == "ok")
        .select("row_id", "players", "attribution", pl.struct(pair_cols).alias("pairs"))
        .join(
            reference.filter(pl.col("status") == "ok").select(
                "row_id",
                pl.col("players").alias("ref_players"),
                pl.col("attribution").alias("ref_attribution"),
                pl.struct(pair_cols).alias("ref_pairs"),
            ),
            on="row_id",
            how="inner",
        )
    )
    full, ref_full = (
        {} if frame is None else {r["row_id"]: r for r in frame.iter_rows(named=True)}
        for frame in (matrices, ref_matrices)
    )
    out = []
    for row_id, players, phi, pairs, ref_players, ref, ref_pairs in joined.iter_rows():
        if list(players) != list(ref_players):
            continue  # different player sets: not comparable
        phi, ref = np.asarray(phi, dtype=np.float64), np.asarray(ref, dtype=np.float64)
        diff = phi - ref
        norm = np.linalg.norm(ref)
        rho = spearmanr(phi, ref).statistic if len(phi) > 1 and np.ptp(phi) > 0 and np.ptp(ref) > 0 else None
        k = min(top_k, len(phi))
        top = set(np.argsort(-np.abs(phi), kind="stable")[:k])
        ref_top = set(np.argsort(-np.abs(ref), kind="stable")[:k])
        out.append(
            {
                "row_id": row_id,
                "mse": float(np.mean(diff**2)),
                "rel_l2": float(np.linalg.norm(diff) / norm) if norm > 0 else None,
                "spearman": None if rho is None or math.isnan(rho) else float(rho),
                "topk_overlap": len(top & ref_top) / k if k else None,
                **interaction_errors(pairs, ref_pairs, full.get(row_id), ref_full.get(row_id)),
            }
        )
    return pl.DataFrame(out, schema=ROW_ERROR_SCHEMA, orient="row")


def _column(values: list) -> list:
    """Keep numbers and strings as they are; anything else (lists, dicts, mixed) becomes JSON text."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int} or kinds <= {int, float} or kinds <= {str} or kinds <= {bool}:
        return [float(v) if kinds == {int, float} and v is not None else v for v in values]
    return [None if v is None else json.dumps(v, sort_keys=True) for v in values]


def runs_table(
    summaries: list[dict], errors: dict[str, pl.DataFrame], references: dict[str, str | None]
) -> pl.DataFrame:
    param_names = list(dict.fromkeys(k for s in summaries for k in s["params"]))
    metric_names = list(dict.fromkeys(k for s in summaries for k in s["metrics"]))
    columns: dict[str, list] = {
        "run_id": [s["run_id"] for s in summaries],
        "slug": [s["slug"] for s in summaries],
        "variant": [s["variant"] for s in summaries],
        "method": [s["method"] for s in summaries],
        "index": [s.get("index") for s in summaries],
        "reference": [s["reference"] for s in summaries],
        "compared_to": [references.get(s["run_id"]) for s in summaries],
    }
    for name in param_names:
        columns[name] = _column([s["params"].get(name) for s in summaries])
    for name in metric_names:
        columns[name] = _column([s["metrics"].get(name) for s in summaries])
    for stat in (
        "mse",
        "rel_l2",
        "spearman",
        "topk_overlap",
        "interaction_rel_l2",
        "interaction_overlap",
        "interaction_coverage",
    ):
        col = []
        for s in summaries:
            err = errors.get(s["run_id"])
            col.append(
                None
                if err is None or err.height == 0 or stat not in err.columns or err[stat].null_count() == err.height
                else float(err[stat].mean())
            )
        columns[f"ref_{stat}"] = col
    columns["ref_rows"] = [errors[s["run_id"]].height if s["run_id"] in errors else None for s in summaries]
    columns.update(provenance_columns(summaries))
    return pl.DataFrame(columns, strict=False)


# summary["provenance"] key -> runs.parquet column; lists (distinct values) are joined with PROVENANCE_SEP.
# The rest of the roll-up (dtypes, config hashes, Slurm job ids) stays in summary.json.
PROVENANCE_COLUMNS = {
    "first_start": "first_start",
    "last_end": "last_end",
    "duration_s": "shard_time_s",
    "code_commits": "code_commits",
    "devices": "devices",
    "hosts": "hosts",
    "shapsweep_versions": "shapsweep_versions",
    "shards_without_provenance": "shards_without_provenance",
}
PROVENANCE_SEP = "; "


def provenance_columns(summaries: list[dict]) -> dict[str, list]:
    """The run-level provenance roll-up of each summary as flat columns (null for summaries without one)."""
    out: dict[str, list] = {}
    for key, column in PROVENANCE_COLUMNS.items():
        values = []
        for s in summaries:
            value = (s.get("provenance") or {}).get(key)
            values.append((PROVENANCE_SEP.join(map(str, value)) or None) if isinstance(value, list) else value)
        out[column] = values
    return out
