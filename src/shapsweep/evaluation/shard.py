"""Faithfulness of every explanation of one shard file, with the run's own model loaded once.

Output (one row per shard row, Parquet): `row_id`, `run_id`, the metrics of
`shapsweep.evaluation.faithfulness.METRICS`, `deletion_curve`/`insertion_curve` (list<float64>),
`n_coalitions`, `eval_runtime_s`, `status` and `error`. A row that was not explained (status other than
`ok`), whose game cannot be built again, or whose players differ from the shard's (the model or feature
config changed since) gets null metrics and a status saying why: one bad row never loses the others.
"""

from __future__ import annotations

import time
from typing import Any

import polars as pl

from shapsweep.evaluation.faithfulness import DEFAULT_FRACTIONS, evaluate
from shapsweep.file_schemas import FAITHFULNESS_SCHEMA


def _empty_result(row_id: str, run_id: str, status: str, error: str | None) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(FAITHFULNESS_SCHEMA)
    out.update(row_id=row_id, run_id=run_id, status=status, error=error)
    return out


def evaluate_shard(model, shard: pl.DataFrame, rows: pl.DataFrame, fractions=DEFAULT_FRACTIONS) -> pl.DataFrame:
    """`model` from `shapsweep.models.load_model`; `shard` a shard file's rows; `rows` the run's rows.parquet."""
    from shapsweep.models import RowError

    # rows.parquet holds the whole selection: turn only this shard's rows into dicts.
    ids = shard["row_id"].cast(pl.Utf8).to_list()
    mine = rows.with_columns(pl.col("row_id").cast(pl.Utf8)).filter(pl.col("row_id").is_in(ids))
    by_id = {r["row_id"]: r for r in mine.iter_rows(named=True)}
    results = []
    for explained in shard.iter_rows(named=True):
        row_id, run_id = str(explained["row_id"]), explained["run_id"]
        status = explained.get("status") or "ok"
        if status != "ok":
            results.append(_empty_result(row_id, run_id, f"not_explained:{status}", explained.get("error")))
            continue
        row = by_id.get(row_id)
        if row is None:
            results.append(_empty_result(row_id, run_id, "missing_row", f"row {row_id!r} is not in rows.parquet"))
            continue
        started = time.perf_counter()
        try:
            game = model.game(row)
        except RowError as exc:
            results.append(_empty_result(row_id, run_id, exc.kind, str(exc)))
            continue
        players = list(explained["players"] or [])
        if list(game.players) != players:
            results.append(
                _empty_result(
                    row_id,
                    run_id,
                    "players_mismatch",
                    f"the model now gives {game.n_players} players {game.players[:5]}..., the shard has {len(players)}: "
                    "the run's model or features changed since it was explained; re-run explain",
                )
            )
            continue
        try:
            result = evaluate(game, explained["attribution"], fractions)
        except ValueError as exc:
            results.append(_empty_result(row_id, run_id, "bad_attribution", str(exc)))
            continue
        results.append(
            {
                "row_id": row_id,
                "run_id": run_id,
                **result.metrics(),
                "deletion_curve": result.deletion_curve,
                "insertion_curve": result.insertion_curve,
                "n_coalitions": result.n_coalitions,
                "eval_runtime_s": time.perf_counter() - started,
                "status": "ok",
                "error": None,
            }
        )
    return pl.DataFrame(results, schema=FAITHFULNESS_SCHEMA)
