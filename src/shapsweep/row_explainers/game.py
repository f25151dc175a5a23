"""The game kind: each row is a cooperative game over its players, estimated by a Shapley estimator.

Every `shap.method` that is not a kind of its own (exact, kernel, permutation, ...) is this kind. One bad row
(empty input, too many players, an estimator error) is recorded with its status and message.
"""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np

from shapsweep.data.selection import outside_selection
from shapsweep.file_schemas import failed_row
from shapsweep.row_explainers import row_fields
from shapsweep.row_explainers.model_rows import ModelRows
from shapsweep.run_spec import RunSpec
from shapsweep.store import EvaluationStore, game_key, generation_key

COLUMNS: dict = {}  # no shard column beyond the common ones


def load(run: RunSpec, inputs) -> ModelRows:
    return ModelRows(run, explain_row, inputs.store)


def row_seed(seed: int, row_id: str) -> int:
    """Per-row estimator seed: fixed by (seed, row_id), so shard layout never changes the numbers."""
    digest = hashlib.sha256(f"{seed}:{row_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def estimate_game(game, n: int, run: RunSpec, row_id: str, method: str, options: dict):
    """(result, resolved budget) of the run's shap settings (budget knob, index, interactions, target_stderr)
    on one row's game, by `method` with its `options`; a ValueError is the estimator's refusal of this row."""
    from shapsweep.estimators import BUDGET_KNOBS, estimate, resolve_budget

    shap = run["explain"]["shap"]
    knobs = {k: shap[k] for k in BUDGET_KNOBS if shap.get(k) is not None}
    budget = resolve_budget(n, **knobs) if knobs else None
    result = estimate(
        game,
        n,
        method=method,
        budget=budget,
        seed=row_seed(shap["seed"], row_id),
        batch_size=shap["batch_size"],
        target_stderr=shap.get("target_stderr"),
        index=shap.get("index"),
        interactions=(shap.get("interactions") or {}).get("index"),
        **options,
    )
    return result, budget


def estimate_component_game(evaluate, run: RunSpec, row_id: str, store, key: str | None):
    """(game, result, resolved budget) of a game over model components (the update and ablation games'
    `evaluate`: players, n_players, called with coalitions) by the run's `shap.options.estimator` and shap
    settings, as a `row_fields.component_game` through the evaluation store under `key` (None: no store).
    What the model computed is stored also for a row the estimator refuses (its ValueError is raised on)."""
    shap = run["explain"]["shap"]
    known = None if key is None else store.load(key, evaluate.n_players)
    game = row_fields.component_game(evaluate.players, evaluate, shap["batch_size"], known)
    try:
        result, budget = estimate_game(game, game.n_players, run, row_id, shap["options"]["estimator"], {})
    finally:
        if key is not None:
            store.save(key, *game.evaluated())
    return game, result, budget


def explain_row(model, row: dict, run: RunSpec, store: EvaluationStore | None = None) -> dict:
    """One shard row (DESIGN.md shard contract) for one dataset row; never raises for a bad row.

    With a `store`, coalitions another run (or an earlier job) already evaluated for the same game are
    taken from it, and what the model computes here is added to it once the row is explained.
    """
    from shapsweep.estimators import normalize
    from shapsweep.models import RowError

    shap, selection = run["explain"]["shap"], run["explain"]["selection"]
    row_id, run_id = str(row["row_id"]), run["run_id"]
    started = time.perf_counter()
    try:
        game = model.game(row)
    except RowError as exc:
        return failed_row(row_id, run_id, exc.kind, exc.message, time.perf_counter() - started)
    n = game.n_players
    skip = outside_selection(n, selection)
    if skip is not None:
        return failed_row(row_id, run_id, "skipped", skip, time.perf_counter() - started, game.players)
    # only for a row that is explained: a skipped one reads nothing
    key = generations = None
    if store is not None:
        ex = run["explain"]
        # a served model adds what its server says it serves: a swapped model never hits old entries
        model_key = {**ex["model"], **getattr(model, "store_identity", {})}
        key = game_key(model_key, ex["features"], ex["value"], row)
        game.use_known(store.load(key, n))
        if getattr(game, "generations", None) is not None:  # a value computed from greedy generations
            generations = generation_key(model_key, ex["features"], row)
            game.generations.known = store.load_generations(generations, n)
    try:
        result, budget = estimate_game(game, n, run, row_id, shap["method"], shap["options"])
        normalized = normalize(result.values, shap["normalizer"])
    except ValueError as exc:
        return failed_row(row_id, run_id, "estimator_error", str(exc), time.perf_counter() - started, game.players)
    except RowError as exc:  # a served model that stopped answering: what it computed is kept for the re-run
        if store is not None:
            store.save(key, *game.evaluated())
        return failed_row(row_id, run_id, exc.kind, exc.message, time.perf_counter() - started, game.players)
    if store is not None:
        store.save(key, *game.evaluated())
        if generations is not None:
            store.save_generations(generations, *game.generations.evaluated())
    values = np.asarray(result.values, dtype=np.float64)
    stats = game.stats
    return {
        "row_id": row_id,
        "run_id": run_id,
        "players": list(game.players),
        "player_spans": row_fields.spans(game.spans),
        "player_regions": row_fields.regions(getattr(game, "regions", None)),
        "attribution": values.tolist(),
        "attribution_normalized": np.asarray(normalized, dtype=np.float64).tolist(),
        "stderr": None if result.stderr is None else np.asarray(result.stderr, dtype=np.float64).tolist(),
        "max_stderr": result.max_stderr,
        "index": result.index,
        **row_fields.interactions(result, shap.get("interactions"), row_id, run_id),
        "estimator_details": json.dumps(result.details, sort_keys=True, default=str),
        "v_empty": float(result.v_empty),
        "v_full": float(result.v_full),
        "n_players": n,
        "n_evals": int(result.n_evals),
        "budget": budget,
        "forward_passes": int(stats.get("forward_passes", 0)),
        "model_evals": int(stats.get("model_evals", result.n_evals)),
        "store_hits": int(stats.get("store_hits", 0)),
        "generations_reused": getattr(getattr(game, "generations", None), "reused", None),
        "efficiency_gap": float(values.sum() - (result.v_full - result.v_empty)),
        "runtime_s": time.perf_counter() - started,
        "response": game.response,
        "status": "ok",
        "error": None,
    }
