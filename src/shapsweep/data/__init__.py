"""Dataset side of the pipeline: load (hub | parquet | json | csv), map columns, select rows, plan shards."""

from shapsweep.data.identity import data_id, data_fingerprint
from shapsweep.data.load import load_source
from shapsweep.data.selection import select_rows
from shapsweep.data.shards import ShardPlan, count_selected_rows, plan_shards

__all__ = ["data_id", "data_fingerprint", "load_source", "select_rows", "ShardPlan", "count_selected_rows",
           "plan_shards"]
