"""Dataset side of the pipeline: load (hub | parquet | json | csv), map columns, select rows, plan shards."""

from shapsweep.data.identity import data_fingerprint, data_id
from shapsweep.data.load import load_source
from shapsweep.data.selection import select_rows
from shapsweep.data.shards import ShardPlan, count_selected_rows, plan_shards

__all__ = [
    "ShardPlan",
    "count_selected_rows",
    "data_fingerprint",
    "data_id",
    "load_source",
    "plan_shards",
    "select_rows",
]
