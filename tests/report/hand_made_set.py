"""A hand-made experiment set folder following the file contracts of docs/DESIGN.md.

Three runs over one dataset (exact reference, kernel, random baseline), rows with hostile text
(`<script>`, an attribute-breaking quote) and one failed row, so the report has everything to show.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl

HOSTILE_SCRIPT = "<script>window.__pwned = 1; alert('x')</script> bad"
HOSTILE_ATTR = '" onmouseover="window.__pwned=2" x="'

ROWS = [
    {"row_id": "r0", "text": "The cat sat on the mat.", "label": "pos", "source": "hand"},
    {"row_id": "r1", "text": f"Click {HOSTILE_SCRIPT} here", "label": "neg", "source": "<b>bold</b>"},
    {"row_id": "r2", "text": f"quote {HOSTILE_ATTR} end", "label": "pos", "source": "hand"},
    {"row_id": "r3", "text": "", "label": "neg", "source": "hand"},
]

SHARD_SCHEMA = {
    "row_id": pl.Utf8, "run_id": pl.Utf8, "players": pl.List(pl.Utf8), "player_spans": pl.List(pl.List(pl.Int64)),
    "attribution": pl.List(pl.Float64), "attribution_normalized": pl.List(pl.Float64), "stderr": pl.List(pl.Float64),
    "v_empty": pl.Float64, "v_full": pl.Float64, "n_evals": pl.Int64, "runtime_s": pl.Float64,
    "response": pl.Utf8, "status": pl.Utf8, "error": pl.Utf8,
}


def words(text: str) -> tuple[list[str], list[list[int]]]:
    found = [(m.group(), [m.start(), m.end()]) for m in re.finditer(r"\S+", text)]
    return [w for w, _ in found], [s for _, s in found]


def shard_rows(run_id: str, method: str, rows: list[dict], seed: int, budget: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for row in rows:
        players, spans = words(row["text"])
        if not players:
            out.append({"row_id": row["row_id"], "run_id": run_id, "players": [], "player_spans": [], "attribution": [],
                        "attribution_normalized": [], "stderr": None, "v_empty": None, "v_full": None, "n_evals": 0,
                        "runtime_s": 0.001, "response": None, "status": "empty_input", "error": "row has no text"})
            continue
        exact = np.linspace(-1.0, 1.0, len(players)) * (1 + int(row["row_id"][1:]))
        phi = exact if method == "exact" else exact + rng.normal(0, 0.3 if method == "kernel" else 1.5, len(players))
        stderr = None if method == "exact" else [0.1] * len(players)
        out.append({
            "row_id": row["row_id"], "run_id": run_id, "players": players, "player_spans": spans,
            "attribution": phi.tolist(), "attribution_normalized": (phi / np.abs(phi).sum()).tolist(), "stderr": stderr,
            "v_empty": 0.0, "v_full": float(phi.sum()), "n_evals": budget, "runtime_s": 0.01 * budget / 64 + 0.001 * len(players),
            "response": "<i>generated</i> answer" if method == "kernel" else None, "status": "ok", "error": None,
        })
    return out


RUNS = [
    {"run_id": "exact-aaaa", "method": "exact", "budget": 256, "reference": None},
    {"run_id": "kernel-bbbb", "method": "kernel", "budget": 64, "reference": "exact-aaaa"},
    {"run_id": "kernel-cccc", "method": "kernel", "budget": 128, "reference": "exact-aaaa"},
    {"run_id": "random-dddd", "method": "random", "budget": 64, "reference": "exact-aaaa"},
]


def make_set(set_dir: Path, rows: list[dict] = ROWS, shard_size: int = 2) -> Path:
    data_dir = set_dir / "data" / "d0"
    data_dir.mkdir(parents=True)
    pl.DataFrame(rows).write_parquet(data_dir / "rows.parquet")
    specs = {}
    for i, run in enumerate(RUNS):
        shards = set_dir / "runs" / run["run_id"] / "shards"
        shards.mkdir(parents=True)
        for s in range(0, len(rows), shard_size):
            part = shard_rows(run["run_id"], run["method"], rows[s : s + shard_size], seed=i * 100 + s, budget=run["budget"])
            pl.DataFrame(part, schema=SHARD_SCHEMA).write_parquet(shards / f"{s // shard_size:05d}.parquet")
        specs[run["run_id"]] = {
            "slug": run["run_id"].split("-")[0], "data_id": "d0", "reference": run["reference"],
            "params": {"shap.method": run["method"], "shap.budget": run["budget"]},
            "explain": {"shap": {"method": run["method"], "budget": run["budget"], "seed": 0}},
        }
    pl.DataFrame([
        {"run_id": r["run_id"], "shap.method": r["method"], "shap.budget": r["budget"], "data_id": "d0",
         "reference": r["reference"], "runtime_s": 0.5 + i, "n_rows": len(rows)}
        for i, r in enumerate(RUNS)
    ]).write_parquet(set_dir / "runs.parquet")
    config = {"name": set_dir.name, "runs": specs, "report": {"sort_rows_by": "runtime_s", "max_rows": None},
              "evaluation": {"enabled": False}, "wandb": {"enabled": False}}
    (set_dir / "config.json").write_text(json.dumps(config))
    return set_dir
