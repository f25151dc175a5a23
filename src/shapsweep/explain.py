"""Explain shards of one run: load the model once, explain each row, write each shard atomically.

One bad row (empty input, too many players, an estimator error) is written with its status and
message; the rest of the shard goes on. A shard file appears only when all its rows are done.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from shapsweep import layout
from shapsweep.atomic_outputs import write_json, write_parquet
from shapsweep.data.selection import outside_selection
from shapsweep.errors import ConfigError
from shapsweep.file_schemas import SHARD_SCHEMA, failed_row
from shapsweep.run_spec import RunSpec
from shapsweep.store import EvaluationStore, game_key, generation_key


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


def _spans(spans) -> list | None:
    return None if spans is None else [None if s is None else list(map(int, s)) for s in spans]


def _regions(regions) -> list | None:
    return None if regions is None else [None if r is None else list(map(float, r)) for r in regions]


def _interaction_columns(result, asked: dict | None) -> dict:
    """The top-k pairs of the row's interaction matrix as shard columns (nothing when none was asked)."""
    from shapsweep.estimators import top_pairs

    if not asked or result.interactions is None:
        return {}
    pairs = top_pairs(result.interactions, asked["top_k"])
    return {
        "interaction_index": asked["index"],
        "interaction_i": [i for i, _, _ in pairs],
        "interaction_j": [j for _, j, _ in pairs],
        "interaction_value": [v for _, _, v in pairs],
        "interaction_stderr": None,
    }


def explain_row(model, row: dict, run: RunSpec, store: EvaluationStore | None = None) -> dict:
    """One shard row (DESIGN.md shard contract) for one dataset row; never raises for a bad row.

    With a `store`, coalitions another run (or an earlier job) already evaluated for the same game are
    taken from it, and what the model computes here is added to it once the row is explained.
    """
    from shapsweep.estimators import BUDGET_KNOBS, estimate, normalize, resolve_budget
    from shapsweep.models import RowError

    shap, selection = run["explain"]["shap"], run["explain"]["selection"]
    row_id, run_id = str(row["row_id"]), run["run_id"]
    started = time.perf_counter()
    if shap["method"] == "integrated_gradients":
        return gradient_row(model, row, run)
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
        key = game_key(ex["model"], ex["features"], ex["value"], row)
        game.use_known(store.load(key, n))
        if getattr(game, "generations", None) is not None:  # a value computed from greedy generations
            generations = generation_key(ex["model"], ex["features"], row)
            game.generations.known = store.load_generations(generations, n)
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
            target_stderr=shap.get("target_stderr"),
            index=shap.get("index"),
            interactions=(shap.get("interactions") or {}).get("index"),
            **shap["options"],
        )
        normalized = normalize(result.values, shap["normalizer"])
    except ValueError as exc:
        return failed_row(row_id, run_id, "estimator_error", str(exc), time.perf_counter() - started, game.players)
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
        "player_spans": _spans(game.spans),
        "player_regions": _regions(getattr(game, "regions", None)),
        "attribution": values.tolist(),
        "attribution_normalized": np.asarray(normalized, dtype=np.float64).tolist(),
        "stderr": None if result.stderr is None else np.asarray(result.stderr, dtype=np.float64).tolist(),
        "max_stderr": result.max_stderr,
        "index": result.index,
        **_interaction_columns(result, shap.get("interactions")),
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


def gradient_row(model, row: dict, run: RunSpec) -> dict:
    """One shard row explained by integrated gradients (Sundararajan et al. 2017) instead of a game.

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
        "player_spans": _spans(exp.spans),
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


def progress_line(shard_id: str, index: int, total: int, rec: dict, elapsed: float) -> str:
    """One plain log line per row: where the shard is, what the row cost, when the shard should end."""
    eta = elapsed / (index + 1) * (total - index - 1)
    players = rec.get("n_players")
    cost = (
        ""
        if rec.get("n_evals") is None
        else f" evals {rec['n_evals']} (model {rec['model_evals']}, store {rec['store_hits']})"
    )
    return (
        f"shard {shard_id} row {index + 1}/{total} {rec['row_id']}: {rec['status']}"
        + ("" if players is None else f" players {players}")
        + f"{cost} {rec['runtime_s']:.2f}s, shard ETA {eta:.0f}s"
    )


def shard_frame(records: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(
        [{col: rec.get(col) for col in SHARD_SCHEMA} for rec in records], schema=SHARD_SCHEMA, orient="row"
    )


def explain_shards(
    run: RunSpec,
    rows_path: str | Path,
    jobs: list[ShardJob],
    threads: int | None = None,
    log=sys.stderr,
    job_facts: dict | None = None,
    store: EvaluationStore | None = None,
    explainer_dir: str | Path | None = None,
) -> None:
    """Explain each shard's rows and write its file as soon as it is done (model loaded once).

    An empirical run (`shap.method: empirical`) loads the explainer in `explainer_dir` instead of the model
    and predicts each shard's rows in batches.

    Each shard file carries its provenance (`job_facts` from `shapsweep.provenance.job_facts`, the
    device and dtype used, its times and row outcomes) in its Parquet metadata.
    """
    import torch

    from shapsweep import provenance

    if threads:
        torch.set_num_threads(threads)
    rows = pl.read_parquet(rows_path)
    started = time.perf_counter()
    explain_part, computes_with = _row_explainer(run, store, explainer_dir)
    load_s = time.perf_counter() - started
    print(f"model loaded in {load_s:.2f}s", file=log, flush=True)
    facts = job_facts if job_facts is not None else provenance.job_facts()
    facts = {**facts, **provenance.model_device_and_dtype(computes_with), "model_load_s": load_s}
    for job in jobs:
        shard_started = provenance.utc_now()
        part = rows.slice(job.start, max(0, job.end - job.start))
        records = []
        shard_clock = time.perf_counter()
        progress = layout.progress_file(job.out)
        bar = _terminal_bar(log, part.height, job.shard_id)
        for i, rec in enumerate(explain_part(part.iter_rows(named=True))):
            records.append(rec)
            elapsed = time.perf_counter() - shard_clock
            if bar is None:
                print(progress_line(job.shard_id, i, part.height, rec, elapsed), file=log, flush=True)
            else:
                bar.update(1)
            eta = elapsed / (i + 1) * (part.height - i - 1)
            write_json(progress, {"rows_done": i + 1, "rows": part.height, "started_at": shard_started, "eta_s": eta})
        if bar is not None:
            bar.close()
        record = provenance.shard_record(facts, shard_started, provenance.utc_now(), [rec["status"] for rec in records])
        write_parquet(job.out, shard_frame(records), metadata=provenance.to_metadata(record))
        progress.unlink(missing_ok=True)
        print(f"shard {job.shard_id} written: {job.out}", file=log, flush=True)


def _row_explainer(run: RunSpec, store: EvaluationStore | None, explainer_dir: str | Path | None):
    """(rows -> shard records, the object whose device and dtype the provenance records) for this run."""
    ex = run["explain"]
    if ex["shap"]["method"] == "empirical":
        from shapsweep.empirical.explain_rows import EmpiricalRows

        if explainer_dir is None:
            raise ConfigError(f"run {run['run_id']} is empirical: its explainer folder is needed (--explainer)")
        explainer = EmpiricalRows(run, explainer_dir)
        return (lambda rows: iter(explainer.explain(list(rows)))), explainer.explainer

    from shapsweep.models import load_model

    try:
        model = load_model(ex["model"], ex["features"], ex["value"])
    except ValueError as exc:  # a bad model/features/value field: every row would fail the same way
        raise ConfigError(f"experiments[{run['variant_index']}] ({run['slug']}).{exc}") from None
    return (lambda rows: (explain_row(model, row, run, store) for row in rows)), model


def _terminal_bar(log, total: int, shard_id: str):
    """A tqdm bar when a person watches a terminal; None for logs, which keep one plain line per row."""
    if not (hasattr(log, "isatty") and log.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"shard {shard_id}", unit="row", file=log)
