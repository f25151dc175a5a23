"""Shard-record fields that several kinds write the same way."""

from __future__ import annotations

import json

import numpy as np


def spans(spans) -> list | None:
    return None if spans is None else [None if s is None else list(map(int, s)) for s in spans]


def regions(regions) -> list | None:
    return None if regions is None else [None if r is None else list(map(float, r)) for r in regions]


def component_game_record(
    row_id: str, run_id: str, game, result, normalizer, details: dict, forward_passes: int, runtime_s: float
) -> dict:
    """The shard record of a game over model components (the update and ablation games): every coalition
    the estimator asked for is a model evaluation (no evaluation store: its keys are input coalitions)."""
    from shapsweep.estimators import normalize

    values = np.asarray(result.values, dtype=np.float64)
    return {
        "row_id": row_id,
        "run_id": run_id,
        "players": list(game.players),
        "attribution": values.tolist(),
        "attribution_normalized": np.asarray(normalize(values, normalizer), dtype=np.float64).tolist(),
        "estimator_details": json.dumps(details, sort_keys=True, default=str),
        "v_empty": float(result.v_empty),
        "v_full": float(result.v_full),
        "n_players": game.n_players,
        "n_evals": int(result.n_evals),
        "model_evals": int(result.n_evals),
        "store_hits": 0,
        "forward_passes": int(forward_passes),
        "efficiency_gap": float(values.sum() - (result.v_full - result.v_empty)),
        "runtime_s": runtime_s,
        "status": "ok",
        "error": None,
    }
