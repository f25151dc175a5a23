"""A target run's shard files and its rows.parquet, turned into the examples an empirical explainer learns.

Each example is one explained row: its text, its players' character spans and the target run's
attribution per player (normalized or raw). Rows are split by `split.split_role`; only rows the target
explained (`status == 'ok'`) are examples. Text players only: a run with media players is refused.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from shapsweep.empirical.options import SCALES
from shapsweep.empirical.split import split_role
from shapsweep.errors import RowError
from shapsweep.features.tokenized import row_text
from shapsweep.file_schemas import read_shards

SCALE_COLUMNS = {"normalized": "attribution_normalized", "raw": "attribution"}
TEXT_ONLY = "empirical explainers support text players only; target a run whose players are all text"


@dataclass(frozen=True)
class Example:
    """One explained row: `spans[j]` is player j's [start, end) in `text`, `targets[j]` its attribution."""

    row_id: str
    text: str
    spans: tuple[tuple[int, int], ...]
    targets: np.ndarray  # float64, one per player


@dataclass
class TrainingData:
    """Examples by role: `train` (fitted), `validation` (early stopping), `held_out` (never seen).

    `held_out_ids` lists every shard row in the held-out role, explained or not; `target_runs` the run
    ids the shard rows carry; `skipped` counts the rows the target did not explain, by status.
    """

    train: list[Example]
    validation: list[Example]
    held_out: list[Example]
    held_out_ids: list[str]
    scale: str
    train_fraction: float
    validation_fraction: float
    target_runs: tuple[str, ...] = ()
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_role(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "held_out": len(self.held_out)}

    @classmethod
    def from_files(
        cls,
        shard_paths: list[Path],
        rows_path: Path,
        *,
        scale: str = "normalized",
        train_fraction: float = 0.8,
        validation_fraction: float = 0.1,
    ) -> TrainingData:
        """Read the shards (`read_shards`) and the rows (`row_id`, `text`), then build the examples.

        Raises ValueError for a row with media or without player spans (naming `shap.options.target`),
        a shard row missing from the rows file, a duplicate row, or a row without the chosen attributions.
        """
        rows_path = Path(rows_path)
        columns = pl.read_parquet_schema(rows_path)
        if "row_id" not in columns or "text" not in columns:
            raise ValueError(f"shap.options.target: {rows_path} has no `row_id` and `text` columns; {TEXT_ONLY}")
        rows = pl.read_parquet(rows_path, columns=["row_id", "text"])
        return cls.from_frames(
            read_shards(list(shard_paths)),
            rows,
            scale=scale,
            train_fraction=train_fraction,
            validation_fraction=validation_fraction,
        )

    @classmethod
    def from_frames(
        cls,
        shards: pl.DataFrame,
        rows: pl.DataFrame,
        *,
        scale: str = "normalized",
        train_fraction: float = 0.8,
        validation_fraction: float = 0.1,
    ) -> TrainingData:
        """`from_files` on frames already read (shards in SHARD_SCHEMA; rows with `row_id`, `text`)."""
        if scale not in SCALES:
            raise ValueError(f"shap.options.scale: {scale!r} is not one of {', '.join(SCALES)}")
        duplicated = shards.filter(pl.col("row_id").is_duplicated())["row_id"].unique().sort().to_list()
        if duplicated:
            raise ValueError(f"row {duplicated[0]!r} appears in more than one shard row: pass each shard file once")
        roles = {rid: split_role(rid, train_fraction, validation_fraction) for rid in shards["row_id"].to_list()}
        texts = dict(zip(rows["row_id"].to_list(), rows["text"].to_list(), strict=True))
        by_id = {rec["row_id"]: rec for rec in shards.iter_rows(named=True)}
        examples: dict[str, list[Example]] = {role: [] for role in ("train", "validation", "held_out")}
        skipped: Counter[str] = Counter()
        # The rows file's order (the data selection's), not the shard files' order, fixes the examples' order.
        ordered = [rid for rid in rows["row_id"].to_list() if rid in by_id]
        missing = sorted(set(by_id) - set(texts))
        if missing:
            raise ValueError(
                f"row {missing[0]!r} of the target's shards is not in the rows file: the shards and the rows "
                "come from different data selections (pass the target run's own rows.parquet)"
            )
        for rid in ordered:
            rec = by_id[rid]
            if rec["status"] != "ok":
                skipped[str(rec["status"])] += 1
                continue
            examples[roles[rid]].append(_example(rec, texts[rid], scale))
        return cls(
            train=examples["train"],
            validation=examples["validation"],
            held_out=examples["held_out"],
            held_out_ids=[rid for rid in ordered if roles[rid] == "held_out"],
            scale=scale,
            train_fraction=float(train_fraction),
            validation_fraction=float(validation_fraction),
            target_runs=tuple(sorted({str(r) for r in shards["run_id"].to_list() if r is not None})),
            skipped=dict(sorted(skipped.items())),
        )


def _example(rec: dict, text, scale: str) -> Example:
    rid, run = rec["row_id"], rec["run_id"]
    regions = rec.get("player_regions")
    if regions is not None and any(r is not None for r in regions):
        raise ValueError(
            f"shap.options.target: run {run!r} row {rid!r} has media players (image or audio); {TEXT_ONLY}"
        )
    spans = rec["player_spans"]
    if spans is None or any(s is None or len(s) != 2 for s in spans):
        raise ValueError(f"shap.options.target: run {run!r} row {rid!r} has players without text spans; {TEXT_ONLY}")
    try:
        text = row_text({"text": text})
    except RowError as error:
        raise ValueError(f"row {rid!r} of the rows file: {error}") from None
    column = SCALE_COLUMNS[scale]
    values = rec[column]
    if values is None or len(values) != len(spans):
        raise ValueError(
            f"shap.options.scale: run {run!r} row {rid!r} has {'no' if values is None else len(values)} "
            f"`{column}` values for {len(spans)} players; re-explain the target run or choose the other scale"
        )
    targets = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(targets)):
        raise ValueError(f"run {run!r} row {rid!r}: `{column}` holds a non-finite value; the target run is broken")
    for start, end in spans:
        if not 0 <= start <= end <= len(text):
            raise ValueError(f"run {run!r} row {rid!r}: player span [{start}, {end}) lies outside its text")
    return Example(rid, text, tuple((int(s), int(e)) for s, e in spans), targets)
