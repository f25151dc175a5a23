"""Shard plan: how many rows a selection yields and their fixed-size, contiguous blocks.

Known before the DAG is built (no checkpoints): from `max_samples` and a cheap row count
(Parquet metadata, JSON Lines line count). Filters can only shrink the selection, so the
count is an upper bound: shards past the real end are written empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from shapsweep.data.local_files import count_rows, resolve_data_files
from shapsweep.errors import ConfigError
from shapsweep.layout import SHARD_ID_WIDTH


@dataclass(frozen=True)
class Shard:
    shard_id: str
    start: int
    end: int


@dataclass(frozen=True)
class ShardPlan:
    n_rows: int
    shards: tuple[Shard, ...]


def _source_rows(dataset: dict) -> int | None:
    # Hub datasets: never touch the network while Snakemake parses (every Slurm job parses again,
    # on nodes that may have no internet); their size comes from selection.max_samples.
    if dataset["source"] == "hub":
        return None
    return count_rows(dataset["source"], resolve_data_files(dataset))


def count_selected_rows(dataset: dict, selection: dict) -> int:
    available = _source_rows(dataset)
    limit = selection.get("max_samples")
    if available is None:
        if limit is None:
            raise ConfigError(
                f"selection.max_samples: required for a {dataset['source']} dataset (its size is not read "
                "while planning: set max_samples to the rows you want; a smaller dataset gives empty last shards)"
            )
        return limit
    available = max(0, available - (selection.get("start_index") or 0))
    return available if limit is None else min(available, limit)


def plan_shards(n_rows: int, shard_size: int) -> ShardPlan:
    shards = tuple(
        Shard(f"{i:0{SHARD_ID_WIDTH}d}", start, min(start + shard_size, n_rows))
        for i, start in enumerate(range(0, n_rows, shard_size))
    )
    return ShardPlan(n_rows, shards)
