"""A synthetic target run for empirical-explainer tests: sentences whose words carry fixed attributions.

Each word of a small lexicon has a seeded value; a row's attribution of a word player is that value
(raw) and its share of the row's absolute sum (normalized), so an explainer can learn it from the words
alone. The shard files are written in the real SHARD_SCHEMA, the rows file as the `rows` rule writes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from shapsweep.file_schemas import SHARD_SCHEMA

LEXICON = [
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "cat",
    "sat",
    "mat",
    "looked",
    "bird",
    "window",
    "loved",
    "film",
    "wonderful",
    "actors",
    "great",
    "movie",
    "terrible",
    "plot",
    "sense",
    "capital",
    "france",
    "paris",
    "weather",
    "sunny",
    "light",
    "breeze",
    "west",
    "read",
    "book",
    "evening",
    "wrote",
    "short",
    "review",
    "models",
    "explained",
    "masking",
    "inputs",
]
RUN_ID = "target-run-abc123"
# Fast settings for the tiny random encoder (its head must move far from a random start in a few epochs).
TINY_TRAINING = {"epochs": 6, "learning_rate": 3e-3, "batch_size": 16, "patience": 3, "max_length": 32, "seed": 0}


def word_values(seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return dict(zip(LEXICON, rng.normal(0.0, 1.0, len(LEXICON)).round(3), strict=True))


def synthetic_rows(n: int, seed: int = 0, words: tuple[int, int] = (5, 10)) -> list[dict]:
    """`n` rows: row_id, text, player spans, raw and normalized attributions."""
    values = word_values()
    rng = np.random.default_rng(seed + 1)
    rows = []
    for i in range(n):
        chosen = [LEXICON[k] for k in rng.integers(0, len(LEXICON), rng.integers(words[0], words[1] + 1))]
        text, spans = "", []
        for word in chosen:
            text += " " if text else ""
            spans.append([len(text), len(text) + len(word)])
            text += word
        raw = np.array([values[w] for w in chosen])
        rows.append(
            {
                "row_id": f"row-{i:04d}",
                "text": text + ".",
                "player_spans": spans,
                "attribution": raw.tolist(),
                "attribution_normalized": (raw / np.abs(raw).sum()).tolist(),
            }
        )
    return rows


def write_target_run(folder: Path, rows: list[dict], n_shards: int = 2, failed: tuple[int, ...] = ()) -> dict:
    """Shard files and rows.parquet of a target run; rows at index `failed` are written as failed rows."""
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i, row in enumerate(rows):
        ok = i not in failed
        records.append(
            {
                "row_id": row["row_id"],
                "run_id": RUN_ID,
                "players": [row["text"][s[0] : s[1]] if s else "patch(0,0)" for s in row["player_spans"]]
                if ok
                else None,
                "player_spans": row["player_spans"] if ok else None,
                "player_regions": row.get("player_regions"),
                "attribution": row["attribution"] if ok else None,
                "attribution_normalized": row["attribution_normalized"] if ok else None,
                "n_players": len(row["player_spans"]) if ok else None,
                "status": "ok" if ok else "too_many_players",
                "error": None if ok else "too_many_players: synthetic failure",
            }
        )
    shards = pl.DataFrame(records, schema=SHARD_SCHEMA)
    paths = []
    size = -(-len(records) // n_shards)
    for k in range(n_shards):
        path = folder / f"shard-{k:03d}.parquet"
        shards.slice(k * size, size).write_parquet(path)
        paths.append(path)
    rows_path = folder / "rows.parquet"
    pl.DataFrame({"row_id": [r["row_id"] for r in rows], "text": [r["text"] for r in rows]}).write_parquet(rows_path)
    return {"shards": paths, "rows": rows_path}
