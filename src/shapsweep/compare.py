"""One table over all runs (swept parameters and metrics as columns) and errors against reference runs."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl

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
    # Different player sets are not comparable; rows with the same player count are scored as one array
    # (a Python loop with a scipy call per row took minutes at 100k rows).
    joined = (
        joined.filter(pl.col("players") == pl.col("ref_players"))
        .with_row_index("_order")
        .with_columns(pl.col("attribution").list.len().alias("_n"))
    )
    full, ref_full = (
        {} if frame is None else {r["row_id"]: r for r in frame.iter_rows(named=True)}
        for frame in (matrices, ref_matrices)
    )
    parts = [
        _errors_of_equal_length(part, top_k, full, ref_full) for _, part in joined.group_by("_n", maintain_order=True)
    ]
    if not parts:
        return pl.DataFrame(schema=ROW_ERROR_SCHEMA)
    return pl.concat(parts).sort("_order").select(list(ROW_ERROR_SCHEMA)).cast(ROW_ERROR_SCHEMA)


def _errors_of_equal_length(part: pl.DataFrame, top_k: int, full: dict, ref_full: dict) -> pl.DataFrame:
    """row_errors' metrics for rows that all have the same number of players, as (rows x players) arrays;
    `full` / `ref_full`: row id -> whole interaction matrix (side file rows), where written."""
    n = int(part["_n"][0])
    phi = np.asarray(part["attribution"].to_list(), dtype=np.float64).reshape(part.height, n)
    ref = np.asarray(part["ref_attribution"].to_list(), dtype=np.float64).reshape(part.height, n)
    diff = phi - ref
    norm = np.linalg.norm(ref, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel_l2 = np.where(norm > 0, np.linalg.norm(diff, axis=1) / np.where(norm > 0, norm, 1.0), np.nan)
    k = min(top_k, n)
    out = {
        "_order": part["_order"],
        "row_id": part["row_id"],
        "mse": (diff**2).mean(axis=1) if n else np.full(part.height, np.nan),
        "rel_l2": rel_l2,
        "spearman": _spearman_rows(phi, ref),
        "topk_overlap": _top_overlap(phi, ref, k) if k else np.full(part.height, np.nan),
    }
    frame = pl.DataFrame(out).with_columns(pl.col(pl.Float64).fill_nan(None))
    both = part["pairs"].struct.field("interaction_index").is_not_null() & (
        part["ref_pairs"].struct.field("interaction_index").is_not_null()
    )
    pairs = (
        [
            interaction_errors(a, b, full.get(row_id), ref_full.get(row_id)) if kept else {}
            for row_id, a, b, kept in zip(part["row_id"], part["pairs"], part["ref_pairs"], both, strict=True)
        ]
        if both.any()
        else [{}] * part.height
    )
    return frame.with_columns(
        pl.Series("interaction_rel_l2", [e.get("interaction_rel_l2") for e in pairs], dtype=pl.Float64),
        pl.Series("interaction_overlap", [e.get("interaction_overlap") for e in pairs], dtype=pl.Float64),
        pl.Series("interaction_coverage", [e.get("interaction_coverage") for e in pairs], dtype=pl.Float64),
    )


def _spearman_rows(phi: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair (Pearson of average ranks, as scipy's spearmanr); NaN where a row
    is constant or has one player."""
    if phi.shape[1] < 2:
        return np.full(phi.shape[0], np.nan)
    a = average_ranks(phi) - (phi.shape[1] + 1) / 2
    b = average_ranks(ref) - (ref.shape[1] + 1) / 2
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    constant = (np.ptp(phi, axis=1) == 0) | (np.ptp(ref, axis=1) == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (a * b).sum(axis=1) / denominator
    return np.where(constant, np.nan, np.clip(rho, -1.0, 1.0))


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks along each row, ties sharing their mean rank (scipy's rankdata(method='average'),
    without importing scipy.stats, which costs compare a few seconds of start-up)."""
    rows, n = x.shape
    order = np.argsort(x, axis=1, kind="stable")
    ordered = np.take_along_axis(x, order, axis=1)
    position = np.broadcast_to(np.arange(n), (rows, n))
    starts = np.ones((rows, n), dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends = np.ones((rows, n), dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, position, n - 1)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty((rows, n), dtype=np.float64)
    np.put_along_axis(ranks, order, (first + last) / 2 + 1, axis=1)
    return ranks


def _top_overlap(phi: np.ndarray, ref: np.ndarray, k: int) -> np.ndarray:
    """Share of the k largest |values| of each row that the reference row's k largest share (ties: first)."""
    rows = np.arange(phi.shape[0])[:, None]
    mine = np.zeros(phi.shape, dtype=bool)
    theirs = np.zeros(ref.shape, dtype=bool)
    mine[rows, np.argsort(-np.abs(phi), axis=1, kind="stable")[:, :k]] = True
    theirs[rows, np.argsort(-np.abs(ref), axis=1, kind="stable")[:, :k]] = True
    return (mine & theirs).sum(axis=1) / k


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
