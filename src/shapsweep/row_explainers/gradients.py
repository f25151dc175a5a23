"""The gradients kind: each row explained by integrated gradients (Sundararajan et al. 2017), no game."""

from __future__ import annotations

import json
import time

import numpy as np

from shapsweep.data.selection import outside_selection
from shapsweep.file_schemas import failed_row
from shapsweep.row_explainers import row_fields
from shapsweep.row_explainers.model_rows import ModelRows
from shapsweep.run_spec import RunSpec

COLUMNS: dict = {}  # no shard column beyond the common ones


def load(run: RunSpec, inputs) -> ModelRows:
    return ModelRows(run, explain_row, None)


def explain_row(model, row: dict, run: RunSpec, store=None) -> dict:
    """One shard row explained by integrated gradients instead of a game (`store` unused: no coalition).

    `n_evals` and `model_evals` count the interpolation points the model ran forward and backward on;
    `v_empty` is the value at the baseline, so `efficiency_gap` is IG's completeness residual.
    """
    from shapsweep.estimators import normalize
    from shapsweep.models import RowError
    from shapsweep.models.integrated_gradients import integrated_gradients

    shap, selection = run["explain"]["shap"], run["explain"]["selection"]
    row_id, run_id = str(row["row_id"]), run["run_id"]
    started = time.perf_counter()
    options = shap["options"]
    try:
        game = model.game(row)
        # A row outside the player range is skipped before any gradient is taken.
        skip = outside_selection(game.n_players, selection)
        if skip is not None:
            return failed_row(row_id, run_id, "skipped", skip, time.perf_counter() - started, game.players)
        exp = integrated_gradients(
            model, row, steps=options["steps"], baseline=options["baseline"], batch_size=shap["batch_size"], game=game
        )
    except RowError as exc:
        return failed_row(row_id, run_id, exc.kind, exc.message, time.perf_counter() - started)
    except ValueError as exc:
        return failed_row(row_id, run_id, "estimator_error", str(exc), time.perf_counter() - started)
    values = np.asarray(exp.values, dtype=np.float64)
    return {
        "row_id": row_id,
        "run_id": run_id,
        "players": list(exp.players),
        "player_spans": row_fields.spans(exp.spans),
        "attribution": values.tolist(),
        "attribution_normalized": np.asarray(normalize(values, shap["normalizer"]), dtype=np.float64).tolist(),
        "estimator_details": json.dumps(exp.details, sort_keys=True, default=str),
        "v_empty": float(exp.v_baseline),
        "v_full": float(exp.v_full),
        "n_players": len(values),
        "n_evals": int(exp.steps),
        "model_evals": int(exp.steps),
        "store_hits": 0,
        "forward_passes": int(exp.forward_passes),
        "efficiency_gap": float(exp.completeness_gap),
        "runtime_s": time.perf_counter() - started,
        "response": exp.response,
        "status": "ok",
        "error": None,
    }
