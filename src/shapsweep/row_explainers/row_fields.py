"""Shard-record fields that several kinds write the same way."""

from __future__ import annotations

import json

import numpy as np

from shapsweep.file_schemas import INTERACTION_MATRIX_KEY


def spans(spans) -> list | None:
    return None if spans is None else [None if s is None else list(map(int, s)) for s in spans]


def regions(regions) -> list | None:
    return None if regions is None else [None if r is None else list(map(float, r)) for r in regions]


def interactions(result, asked: dict | None, row_id: str, run_id: str) -> dict:
    """The top-k pairs of the row's interaction matrix as shard columns (nothing when none was asked); with
    full_matrix the whole matrix too, under a key explain.py moves to the shard's side file."""
    from shapsweep.estimators import top_pairs

    if not asked or result.interactions is None:
        return {}
    pairs = top_pairs(result.interactions, asked["top_k"])
    se = result.interaction_stderr
    full = {}
    if asked.get("full_matrix"):
        full[INTERACTION_MATRIX_KEY] = {
            "row_id": row_id,
            "run_id": run_id,
            "interaction_index": asked["index"],
            "n_players": len(result.interactions),
            "matrix": np.asarray(result.interactions, dtype=np.float64).ravel().tolist(),
            "stderr": None if se is None else np.asarray(se, dtype=np.float64).ravel().tolist(),
        }
    return {
        **full,
        "interaction_index": asked["index"],
        "interaction_i": [i for i, _, _ in pairs],
        "interaction_j": [j for _, j, _ in pairs],
        "interaction_value": [v for _, _, v in pairs],
        "interaction_stderr": None
        if se is None
        else [float(se[i, j]) if np.isfinite(se[i, j]) else None for i, j, _ in pairs],
    }


def component_game(players: list, evaluate, batch_size: int, known: dict | None):
    """A game over model components (the update and ablation games) as the input games are: a
    `models.game.CachedGame`, so each distinct coalition reaches `evaluate` once and the evaluation store's
    values (`known`) are taken instead."""
    from shapsweep.models.device import BatchRunner
    from shapsweep.models.game import CachedGame, Usage

    game = CachedGame(players, None, evaluate, BatchRunner(batch_size), Usage())
    game.use_known(known or {})
    return game


def component_game_record(
    row_id: str, run_id: str, game, result, run, budget, details: dict, forward_passes: int, runtime_s: float
) -> dict:
    """The shard record of a `component_game` row (the update and ablation games)."""
    from shapsweep.estimators import normalize

    shap = run["explain"]["shap"]
    values = np.asarray(result.values, dtype=np.float64)
    return {
        "row_id": row_id,
        "run_id": run_id,
        "players": list(game.players),
        "attribution": values.tolist(),
        "attribution_normalized": np.asarray(normalize(values, shap["normalizer"]), dtype=np.float64).tolist(),
        "stderr": None if result.stderr is None else np.asarray(result.stderr, dtype=np.float64).tolist(),
        "max_stderr": result.max_stderr,
        "index": result.index,
        **interactions(result, shap.get("interactions"), row_id, run_id),
        "estimator_details": json.dumps(details, sort_keys=True, default=str),
        "v_empty": float(result.v_empty),
        "v_full": float(result.v_full),
        "n_players": game.n_players,
        "n_evals": int(result.n_evals),
        "budget": budget,
        "model_evals": game.stats["model_evals"],
        "store_hits": game.stats["store_hits"],
        "forward_passes": int(forward_passes),
        "efficiency_gap": float(values.sum() - (result.v_full - result.v_empty)),
        "runtime_s": runtime_s,
        "status": "ok",
        "error": None,
    }
