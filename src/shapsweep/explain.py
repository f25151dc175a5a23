"""Explain shards of one run: load the model once, explain each row, write each shard atomically.

One bad row (empty input, too many players, an estimator error) is written with its status and
message; the rest of the shard goes on. A shard file appears only when all its rows are done.
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from shapsweep.atomic_outputs import write_parquet
from shapsweep.errors import ConfigError
from shapsweep.file_schemas import SHARD_SCHEMA

BUDGET_KNOBS = ("budget", "num_samples", "fraction", "linear")


@dataclass(frozen=True)
class ShardJob:
    shard_id: str
    start: int
    end: int
    out: Path


def row_seed(seed: int, row_id: str) -> int:
    """Per-row estimator seed: fixed by (seed, row_id), so shard layout never changes the numbers."""
    digest = hashlib.sha256(f"{seed}:{row_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _failed(row_id: str, run_id: str, status: str, error: str, runtime: float, players=None) -> dict:
    return {
        "row_id": row_id,
        "run_id": run_id,
        "players": players,
        "status": status,
        "error": error,
        "runtime_s": runtime,
    }


def _spans(spans) -> list | None:
    return None if spans is None else [None if s is None else list(map(int, s)) for s in spans]


def _regions(regions) -> list | None:
    return None if regions is None else [None if r is None else list(map(float, r)) for r in regions]


def explain_row(model, row: dict, run: dict) -> dict:
    """One shard row (DESIGN.md shard contract) for one dataset row; never raises for a bad row."""
    from shapsweep.estimators import estimate, normalize, resolve_budget
    from shapsweep.models import RowError

    shap, selection = run["explain"]["shap"], run["explain"]["selection"]
    row_id, run_id = str(row["row_id"]), run["run_id"]
    started = time.perf_counter()
    try:
        game = model.game(row)
    except RowError as exc:
        return _failed(row_id, run_id, exc.kind, exc.message, time.perf_counter() - started)
    n = game.n_players
    low, high = selection.get("min_players"), selection.get("max_players")
    if (low is not None and n < low) or (high is not None and n > high):
        return _failed(
            row_id,
            run_id,
            "skipped",
            f"{n} players is outside selection.min_players/max_players [{low}, {high}]",
            time.perf_counter() - started,
            game.players,
        )
    try:
        knobs = {k: shap[k] for k in BUDGET_KNOBS if shap.get(k) is not None}
        budget = resolve_budget(n, **knobs) if knobs else None
        result = estimate(
            game,
            n,
            method=shap["method"],
            budget=budget,
            seed=row_seed(shap["seed"], row_id),
            batch_size=shap["batch_size"],
            **shap["options"],
        )
        normalized = normalize(result.values, shap["normalizer"])
    except ValueError as exc:
        return _failed(row_id, run_id, "estimator_error", str(exc), time.perf_counter() - started, game.players)
    values = np.asarray(result.values, dtype=np.float64)
    return {
        "row_id": row_id,
        "run_id": run_id,
        "players": list(game.players),
        "player_spans": _spans(game.spans),
        "player_regions": _regions(getattr(game, "regions", None)),
        "attribution": values.tolist(),
        "attribution_normalized": np.asarray(normalized, dtype=np.float64).tolist(),
        "stderr": None if result.stderr is None else np.asarray(result.stderr, dtype=np.float64).tolist(),
        "v_empty": float(result.v_empty),
        "v_full": float(result.v_full),
        "n_players": n,
        "n_evals": int(result.n_evals),
        "budget": budget,
        "forward_passes": int(game.stats.get("forward_passes", 0)),
        "efficiency_gap": float(values.sum() - (result.v_full - result.v_empty)),
        "runtime_s": time.perf_counter() - started,
        "response": game.response,
        "status": "ok",
        "error": None,
    }


def shard_frame(records: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(
        [{col: rec.get(col) for col in SHARD_SCHEMA} for rec in records], schema=SHARD_SCHEMA, orient="row"
    )


def explain_shards(
    run: dict, rows_path: str | Path, jobs: list[ShardJob], threads: int | None = None, log=sys.stderr
) -> None:
    """Explain each shard's rows and write its file as soon as it is done (model loaded once)."""
    import torch

    from shapsweep.models import load_model

    if threads:
        torch.set_num_threads(threads)
    rows = pl.read_parquet(rows_path)
    ex = run["explain"]
    started = time.perf_counter()
    try:
        model = load_model(ex["model"], ex["features"], ex["value"])
    except ValueError as exc:  # a bad model/features/value field: every row would fail the same way
        raise ConfigError(f"experiments[{run['variant_index']}] ({run['slug']}).{exc}") from None
    print(f"model loaded in {time.perf_counter() - started:.2f}s", file=log, flush=True)
    for job in jobs:
        part = rows.slice(job.start, max(0, job.end - job.start))
        records = []
        for i, row in enumerate(part.iter_rows(named=True)):
            rec = explain_row(model, row, run)
            records.append(rec)
            print(
                f"shard {job.shard_id} row {i + 1}/{part.height} {rec['row_id']}: {rec['status']} "
                f"{rec['runtime_s']:.2f}s",
                file=log,
                flush=True,
            )
        write_parquet(job.out, shard_frame(records))
        print(f"shard {job.shard_id} written: {job.out}", file=log, flush=True)
