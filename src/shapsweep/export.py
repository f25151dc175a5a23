"""Exports of a run's explanations for use outside shapsweep.

- `jsonl`: one JSON object per explained row: `players`, `player_spans`, `player_regions` (media players:
  pixel box [y0, x0, y1, x1], [superpixel id] or [start_s, end_s]; null for text players), `input_ids` (token granularity: the id of each
  player's token under the run's tokenizer; null otherwise), `attributions` (raw), `attributions_normalized`,
  `stderr`, `index` (the estimand: shapley | banzhaf), `interactions` (the kept pairs: index, i, j, value,
  stderr; null when not asked), `v_empty`, `v_full`, `status`, `error`, `response`, the row's `text`, and `run` metadata
  (set, run id, method, budget, swept params, model, features, value).
- `html-lines`: one self-contained HTML document per line (inline style, no script, nothing fetched) with
  the row's heatmap; newlines inside the document are written as character references, so a line is a
  whole document that `split("\\n")` gives back intact.

Rows follow the run's shard plan order; one shard (and its slice of rows.parquet) is in memory at a time.
Files are written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from shapsweep import layout
from shapsweep.atomic_outputs import atomic_path
from shapsweep.data.media import MEDIA_COLUMNS
from shapsweep.file_schemas import read_shards

FORMATS = ("jsonl", "html-lines")


def _token_ids(tokenizer, text: str, spans) -> list[int | None]:
    """Id of the token that covers each player span (token granularity: one token per player)."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    tokens = list(zip(encoded["input_ids"], encoded["offset_mapping"]))
    ids: list[int | None] = []
    for start, end in spans:
        hit = next((tid for tid, (s, e) in tokens if s <= start and end <= e and s < e), None)
        ids.append(None if hit is None else int(hit))
    return ids


def _tokenizer_for(spec: dict):
    """The run's tokenizer when its players are tokens (no model weights are loaded)."""
    features = spec["explain"]["features"]
    if features["granularity"] != "token" or "text" not in features.get("modalities", ["text"]):
        return None
    from transformers import AutoTokenizer

    from shapsweep.models.locate import resolve_path_or_id

    model = spec["explain"]["model"]
    return AutoTokenizer.from_pretrained(
        resolve_path_or_id(model["path_or_id"]),
        revision=model.get("revision"),
        trust_remote_code=model.get("trust_remote_code", False),
    )


def _pairs(r: dict) -> dict | None:
    """The row's kept interaction pairs (shap.interactions), or None."""
    if not r.get("interaction_value"):
        return None
    cols = ("interaction_i", "interaction_j", "interaction_value", "interaction_stderr")
    return {"index": r.get("interaction_index"), **{c.removeprefix("interaction_"): r.get(c) for c in cols}}


def run_metadata(set_name: str, spec: dict) -> dict[str, Any]:
    explain = spec["explain"]
    return {
        "set": set_name,
        "run_id": spec["run_id"],
        "slug": spec["slug"],
        "method": explain["shap"]["method"],
        "budget": explain["shap"].get("budget"),
        "params": spec["params"],
        "model": {k: explain["model"].get(k) for k in ("connector", "path_or_id", "revision", "dtype")},
        "features": explain["features"],
        "value": explain["value"],
        "data_id": spec["data_id"],
    }


def _shard_rows(rows_file: Path, start: int, end: int, columns: tuple[str, ...]) -> dict[str, dict]:
    """row_id -> the row's wanted columns, for the rows.parquet slice one shard explains (never the whole set)."""
    frame = pl.scan_parquet(rows_file)
    present = [c for c in columns if c in frame.collect_schema().names()]
    part = frame.slice(start, end - start).select(pl.col("row_id").cast(pl.Utf8), *present).collect()
    return {r["row_id"]: r for r in part.iter_rows(named=True)}


def _records_and_rows(exp, set_dir: Path, run_id: str, columns: tuple[str, ...]) -> Iterator[tuple[dict, dict]]:
    """(record, the row's `columns`) per explained row of `run_id`, one shard in memory at a time."""
    spec = exp.run(run_id)
    rows_file = layout.rows_file(set_dir, spec["data_id"])
    meta = run_metadata(exp.config["experiment_set_id"], spec)
    tokenizer = _tokenizer_for(spec)
    for shard in exp.shard_plan(run_id).shards:
        frame = read_shards([layout.shard_file(set_dir, run_id, shard.shard_id)])
        rows = _shard_rows(rows_file, shard.start, shard.end, ("text", *columns))
        for r in frame.iter_rows(named=True):
            row = rows.get(str(r["row_id"]), {})
            text = row.get("text")
            spans = r.get("player_spans")
            input_ids = None
            if tokenizer is not None and text is not None and spans:
                input_ids = _token_ids(tokenizer, text, spans)
            record = {
                "row_id": str(r["row_id"]),
                "text": text,
                "players": r["players"],
                "player_spans": spans,
                "player_regions": r.get("player_regions"),
                "input_ids": input_ids,
                "attributions": r["attribution"],
                "attributions_normalized": r.get("attribution_normalized"),
                "stderr": r.get("stderr"),
                "index": r.get("index"),  # the estimand of `attributions`: shapley | banzhaf
                "interactions": _pairs(r),
                "v_empty": r.get("v_empty"),
                "v_full": r.get("v_full"),
                "response": r.get("response"),
                "status": r.get("status"),
                "error": r.get("error"),
                "run": meta,
            }
            yield record, row


def export_records(exp, set_dir: str | Path, run_id: str) -> Iterator[dict[str, Any]]:
    """One record per explained row of `run_id` (ExperimentSet `exp`), in shard order."""
    for record, _ in _records_and_rows(exp, Path(set_dir), run_id, ()):
        yield record


def jsonl_line(record: dict[str, Any]) -> str:
    # allow_nan=False: NaN is not JSON; a non-finite number is a bug upstream worth failing on.
    return json.dumps(record, ensure_ascii=False, allow_nan=False, sort_keys=True)


def html_line(record: dict[str, Any], env=None, media_row: dict | None = None) -> str:
    """A whole HTML document on one line: the row's heatmap, hover values, run metadata, and for a media
    row (`media_row`: its `image`/`audio` value) the picture or waveform with the regions tinted."""
    from shapsweep.report.colour import DivergingScale
    from shapsweep.report.heatmap import segments
    from shapsweep.report.media import media_view, row_media
    from shapsweep.report.pages import template_environment

    env = env or template_environment()
    attribution = record["attributions"] or []
    scale = DivergingScale.for_values(attribution)
    segs = segments(
        record["players"] or [],
        attribution,
        scale,
        record.get("stderr"),
        record.get("attributions_normalized"),
        text=record.get("text"),
        spans=record.get("player_spans"),
    )
    media = None
    if media_row is not None and record.get("player_regions"):
        media = media_view(row_media(media_row), record, record["run"]["features"], segs)
    html = env.get_template("line.html.j2").render(
        record=record, segments=segs, scale=scale, run=record["run"], media=media
    )
    # Newlines only come from data (the template is one line): character references keep the meaning.
    return html.replace("\r", "&#13;").replace("\n", "&#10;")


def write_export(exp, set_dir: str | Path, run_ids: list[str], fmt: str, out: str | Path) -> int:
    """Write every row of `run_ids` to `out` in `fmt`; returns the number of lines."""
    if fmt not in FORMATS:
        raise ValueError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    env = None
    if fmt == "html-lines":
        from shapsweep.report.pages import template_environment

        env = template_environment()
    count = 0
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        for run_id in run_ids:
            media_columns = MEDIA_COLUMNS if fmt == "html-lines" else ()
            for record, row in _records_and_rows(exp, Path(set_dir), run_id, media_columns):
                if fmt == "jsonl":
                    line = jsonl_line(record)
                else:
                    media = {c: row[c] for c in MEDIA_COLUMNS if c in row}
                    line = html_line(record, env, {"row_id": record["row_id"], **media} if media else None)
                handle.write(line + "\n")
                count += 1
    return count
