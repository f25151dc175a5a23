"""Shard plan: how many rows a selection yields and their fixed-size, contiguous blocks.

Known before the DAG is built (no checkpoints): from `max_samples` and a cheap row count
(Parquet metadata, JSON Lines line count). Filters can only shrink the selection, so the
count is an upper bound: shards past the real end are written empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from shapsweep.config.errors import ConfigError
from shapsweep.data.local_files import count_rows, resolve_data_files

SHARD_ID_WIDTH = 5


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
    if dataset["source"] == "hub":
        try:
            import datasets

            builder = datasets.load_dataset_builder(
                dataset["repo_id"], dataset.get("subset"), revision=dataset.get("revision")
            )
            split = (builder.info.splits or {}).get(dataset["split"])
            return split.num_examples if split is not None and split.num_examples else None
        except Exception:  # offline / no metadata: fall back to max_samples
            return None
    return count_rows(dataset["source"], resolve_data_files(dataset))


def count_selected_rows(dataset: dict, selection: dict) -> int:
    available = _source_rows(dataset)
    limit = selection.get("max_samples")
    if available is None:
        if limit is None:
            raise ConfigError(
                f"selection.max_samples: required here, the size of the {dataset['source']} dataset "
                "cannot be read cheaply (set max_samples to the rows you want)"
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
