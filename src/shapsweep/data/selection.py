"""Row selection: start_index, filters, a seeded shuffle of the whole selection, balance, then max_samples.

The order never depends on `max_samples`, so raising it only appends rows (and shards).
Row ids are the row's index in the split unless `dataset.columns.row_id` names an id column.

Local Parquet files are scanned lazily (polars): the selection is decided on the row index and the
columns the filters and `balance` read, then the rows are read and written in blocks of output rows
(`write_selected_rows`), so a million-row file is never whole in memory. Other sources load through
`datasets` and take the same steps on an in-memory frame, so both give the same rows in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl

from shapsweep.data.load import check_columns, load_source, media_folders, to_canonical
from shapsweep.data.local_files import resolve_data_files
from shapsweep.data.media import absolute_media_paths
from shapsweep.errors import ConfigError

_COMPARE = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__"}
# `selection.balance.by` value that buckets rows by their text's word count instead of a column.
WORDS_BUCKET = "#words"
# Output rows read per pass over a shuffled Parquet file: bounds the memory of `write_selected_rows`.
BLOCK_ROWS = 100_000


def word_count(column: str = "text") -> pl.Expr:
    """Whitespace-separated words: the players of word granularity before punctuation is set aside."""
    return pl.col(column).cast(pl.Utf8).str.count_matches(r"\S+").fill_null(0)


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
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{where}.value: must be a non-negative integer for op {op!r}")
    length = word_count(column) if op.endswith("_words") else col.cast(pl.Utf8).str.len_chars()
    return length >= value if op.startswith("min_") else length <= value


def _canonical(frame: pl.LazyFrame, dataset: dict, offset: int = 0) -> pl.LazyFrame:
    """Canonical columns, the split's row index as `_index` (`frame` starts at row `offset`), a string `row_id`."""
    check_columns(frame.collect_schema().names(), dataset)  # before the helper column: errors list real ones
    frame = to_canonical(frame.with_row_index("_index", offset=offset), dataset)
    if "row_id" in (dataset.get("columns") or {}):
        return frame.with_columns(pl.col("row_id").cast(pl.Utf8))
    return frame.with_columns(pl.col("_index").cast(pl.Utf8).alias("row_id"))


def _check_unique_ids(frame: pl.LazyFrame, dataset: dict) -> None:
    if "row_id" not in (dataset.get("columns") or {}):
        return  # row indexes are unique
    ids = frame.select("row_id").filter(pl.col("row_id").is_duplicated()).unique(maintain_order=True)
    dupes = ids.head(5).collect()["row_id"].to_list()
    if dupes:
        raise ConfigError(f"dataset.columns.row_id: ids must be unique, repeated: {dupes}")


def _balance_key(balance: dict, columns: list[str]) -> pl.Expr:
    by = balance["by"]
    if by == WORDS_BUCKET:
        if "text" not in columns:
            raise ConfigError(f"selection.balance.by: {WORDS_BUCKET!r} counts the words of `text`; the rows have none")
        return word_count()
    if by not in columns:
        raise ConfigError(
            f"selection.balance.by: {by!r} is not a column (available: {', '.join(columns)}; "
            f"or {WORDS_BUCKET!r} for the text's word count)"
        )
    return pl.col(by)


def selection_order(frame: pl.LazyFrame, selection: dict) -> np.ndarray:
    """`_index` of the selected rows, in selection order (reads only the index and the filtered columns).

    start_index, filters, then the seeded shuffle (numpy's permutation of the filtered rows, as it always
    was, so existing selections keep their rows), then `balance` (the first `per_bucket` rows of each
    bucket in that order, order kept), then `max_samples`.
    """
    columns = [c for c in frame.collect_schema().names() if c != "_index"]
    frame = frame.filter(pl.col("_index") >= (selection.get("start_index") or 0))
    for i, flt in enumerate(selection.get("filters") or []):
        frame = frame.filter(_filter_expr(flt, i, columns))
    balance = selection.get("balance")
    keys = [pl.col("_index")] + ([_balance_key(balance, columns).alias("_bucket")] if balance else [])
    chosen = frame.select(keys).collect(engine="streaming").sort("_index")
    seed = selection.get("shuffle_seed")
    if seed is not None:
        chosen = chosen[np.random.default_rng(seed).permutation(chosen.height)]
    if balance:
        chosen = chosen.filter(pl.int_range(pl.len()).over("_bucket") < balance["per_bucket"])
    if selection.get("max_samples") is not None:
        chosen = chosen.head(selection["max_samples"])
    return chosen["_index"].to_numpy()


def _rows_in_order(source: pl.LazyFrame, dataset: dict, order: np.ndarray) -> pl.DataFrame:
    """The rows whose `_index` is in `order`, in that order; reads only the range of the split they span
    (a slice of the source, which the Parquet reader turns into skipped row groups)."""
    low, high = (int(order.min()), int(order.max()) + 1) if len(order) else (0, 0)
    frame = _canonical(source.slice(low, high - low), dataset, offset=low)
    index_type = frame.collect_schema()["_index"]
    wanted = pl.LazyFrame({"_index": pl.Series(order, dtype=index_type), "_position": np.arange(len(order))})
    rows = frame.join(wanted, on="_index", how="inner").sort("_position").collect(engine="streaming")
    first = [c for c in ("row_id", "text") if c in rows.columns]
    return rows.select(first + [c for c in rows.columns if c not in first and c not in ("_index", "_position")])


def _source_frame(dataset: dict) -> pl.LazyFrame:
    """The split as a lazy frame: local Parquet scanned by polars, anything else loaded by `datasets`."""
    if dataset["source"] == "parquet":
        files = [str(p) for p in resolve_data_files(dataset)]
        try:
            return pl.scan_parquet(files)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise ConfigError(f"dataset: could not read parquet files ({type(exc).__name__}: {exc})") from exc
    return load_source(dataset).to_polars().lazy()


def select_table(table: pl.DataFrame, dataset: dict, selection: dict) -> pl.DataFrame:
    """Canonical, selected rows with a string `row_id` first (pure function of its inputs)."""
    frame = _canonical(table.lazy(), dataset)
    _check_unique_ids(frame, dataset)
    return _rows_in_order(table.lazy(), dataset, selection_order(frame, selection))


def selected_blocks(dataset: dict, selection: dict, block_rows: int = BLOCK_ROWS) -> Iterator[pl.DataFrame]:
    """The selected rows in order, `block_rows` at a time (the first block may be empty: no rows)."""
    source = _source_frame(dataset)
    frame = _canonical(source, dataset)
    _check_unique_ids(frame, dataset)
    order = selection_order(frame, selection)
    folders = media_folders(dataset)
    for start in range(0, max(len(order), 1), block_rows):
        yield absolute_media_paths(_rows_in_order(source, dataset, order[start : start + block_rows]), folders)


def select_rows(dataset: dict, selection: dict) -> pl.DataFrame:
    """Load the split and select its rows, all in memory (see `write_selected_rows` for big files)."""
    return pl.concat(list(selected_blocks(dataset, selection)), how="vertical")


def write_selected_rows(dataset: dict, selection: dict, out: str | Path, block_rows: int = BLOCK_ROWS) -> int:
    """The `rows` rule's job: the selection into `out` (Parquet, atomic), one block of rows at a time."""
    import pyarrow.parquet as pq

    from shapsweep.atomic_outputs import atomic_path

    total = 0
    with atomic_path(out) as tmp:
        writer = None
        try:
            for block in selected_blocks(dataset, selection, block_rows):
                table = block.to_arrow()
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                total += block.height
        finally:
            if writer is not None:
                writer.close()
    return total


def outside_selection(n_players: int, selection: dict) -> str | None:
    """Why a row with `n_players` players is skipped by selection.min_players/max_players (None: explain it).

    Player counts are known only once a row is split into players, so jobs, not the rows rule, apply these.
    """
    low, high = selection.get("min_players"), selection.get("max_players")
    if (low is not None and n_players < low) or (high is not None and n_players > high):
        return f"{n_players} players is outside selection.min_players/max_players [{low}, {high}]"
    return None
