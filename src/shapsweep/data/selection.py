"""Row selection: start_index, filters, a seeded shuffle of the whole selection, then max_samples.

The order never depends on `max_samples`, so raising it only appends rows (and shards).
Row ids are the row's index in the split unless `dataset.columns.row_id` names an id column.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from shapsweep.data.load import check_columns, load_source, media_folders, to_canonical
from shapsweep.data.media import absolute_media_paths
from shapsweep.errors import ConfigError

_COMPARE = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__"}


def _filter_expr(flt: dict, index: int, columns: list[str]) -> pl.Expr:
    where = f"selection.filters[{index}]"
    column, op, value = flt["column"], flt["op"], flt["value"]
    if column not in columns:
        raise ConfigError(f"{where}.column: {column!r} is not a column (available: {', '.join(columns)})")
    col = pl.col(column)
    if op in _COMPARE:
        return getattr(col, _COMPARE[op])(value)
    if op in ("in", "not_in"):
        if not isinstance(value, list):
            raise ConfigError(f"{where}.value: must be a list for op {op!r}")
        expr = col.is_in(value)
        return expr if op == "in" else ~expr
    if op == "contains":
        return col.cast(pl.Utf8).str.contains(str(value), literal=True)
    if not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}.value: must be a non-negative integer for op {op!r}")
    length = col.cast(pl.Utf8).str.len_chars()
    return length >= value if op == "min_length" else length <= value


def select_table(table: pl.DataFrame, dataset: dict, selection: dict) -> pl.DataFrame:
    """Canonical, selected rows with a string `row_id` first (pure function of its inputs)."""
    check_columns(table.columns, dataset)  # before the helper column, so errors list only real ones
    table = to_canonical(table.with_row_index("_index"), dataset)
    if "row_id" in (dataset.get("columns") or {}):
        table = table.with_columns(pl.col("row_id").cast(pl.Utf8))
        dupes = table.filter(pl.col("row_id").is_duplicated())["row_id"].unique().to_list()
        if dupes:
            raise ConfigError(f"dataset.columns.row_id: ids must be unique, repeated: {dupes[:5]}")
    else:
        table = table.with_columns(pl.col("_index").cast(pl.Utf8).alias("row_id"))
    table = table.slice(selection.get("start_index") or 0)
    for i, flt in enumerate(selection.get("filters") or []):
        table = table.filter(_filter_expr(flt, i, table.columns))
    seed = selection.get("shuffle_seed")
    if seed is not None:
        order = np.random.default_rng(seed).permutation(table.height)
        table = table[order]
    if selection.get("max_samples") is not None:
        table = table.head(selection["max_samples"])
    first = [c for c in ("row_id", "text") if c in table.columns]
    return table.select(first + [c for c in table.columns if c not in first and c != "_index"])


def select_rows(dataset: dict, selection: dict) -> pl.DataFrame:
    """Load the split and select its rows (the `rows` rule's whole job)."""
    table = select_table(load_source(dataset).to_polars(), dataset, selection)
    return absolute_media_paths(table, media_folders(dataset))


def outside_selection(n_players: int, selection: dict) -> str | None:
    """Why a row with `n_players` players is skipped by selection.min_players/max_players (None: explain it).

    Player counts are known only once a row is split into players, so jobs, not the rows rule, apply these.
    """
    low, high = selection.get("min_players"), selection.get("max_players")
    if (low is not None and n_players < low) or (high is not None and n_players > high):
        return f"{n_players} players is outside selection.min_players/max_players [{low}, {high}]"
    return None
