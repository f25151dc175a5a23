"""The row explorer: every row of a set reachable from one offline page, and the rows worth a page of their own.

At dataset scale a page per row is hours and gigabytes. The report writes row pages only for the rows a
reader is pointed at (`pointed_rows`), and `explorer.html` lists every row from compact data files beside
it (`explorer/rows.js`: ids, text, players; `explorer/<run>.js`: that run's metrics and attributions,
rounded to 4 significant digits): sort, filter, search and page through them, and draw any row's heatmap
in the page. The data files are scripts, not JSON fetched at run time: browsers refuse `fetch` from
`file://`, but load a `<script src>` from beside the page. A fixed number of files whatever the rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from shapsweep.atomic_outputs import write_text
from shapsweep.report.incremental import InputDigests, digest

# Per run, how many rows of each kind get a page: the largest and smallest of the sort metric, and the
# rows furthest from the reference run (where there is one).
POINTED_PER_KIND = 5
# A seeded sample of the set's rows, so pages are not only the extremes.
SAMPLE_ROWS = 20
SAMPLE_SEED = 0
SIGNIFICANT_DIGITS = 4


def pointed_rows(metrics: pl.DataFrame, sort_by: str, error_column: str | None, named: list[str]) -> set[tuple]:
    """(data_id, row_id) of the rows worth a page: per run the POINTED_PER_KIND largest and smallest
    `sort_by`, the furthest from the reference (`error_column`), a seeded sample, and every `named` id."""
    keys = metrics.select("data_id", "row_id").unique(maintain_order=True)
    known = set(keys["row_id"].to_list())
    unknown = [r for r in named if r not in known]
    if unknown:
        example = keys["row_id"].head(5).to_list()
        raise ValueError(f"report.rows: {unknown} in no shard of this set (row ids look like {example})")
    chosen = {(d, r) for d, r in keys.filter(pl.col("row_id").is_in(named)).iter_rows()}
    ok = metrics.filter(pl.col("status") == "ok") if "status" in metrics.columns else metrics
    for _, part in ok.group_by("run_id", maintain_order=True):
        for column, descending in ((sort_by, True), (sort_by, False), (error_column, True)):
            if column is None or column not in part.columns or part[column].null_count() == part.height:
                continue
            top = part.drop_nulls(column).sort(column, descending=descending).head(POINTED_PER_KIND)
            chosen.update(top.select("data_id", "row_id").iter_rows())
    if keys.height:
        picks = np.random.default_rng(SAMPLE_SEED).permutation(keys.height)[:SAMPLE_ROWS]
        chosen.update(keys[sorted(picks.tolist())].iter_rows())
    return chosen


def _rounded(column: pl.Expr, digits: int) -> pl.Expr:
    """Numbers to `digits` significant digits, non-finite ones null (JSON has no NaN or infinity)."""
    return pl.when(column.is_finite()).then(column.round_sig_figs(digits))


def _script(path: Path, variable: str, key: str, data: dict) -> None:
    """One data file: a script assigning `data` into window[variable][key] (loadable from file://)."""
    body = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    write_text(path, f"window.{variable}=window.{variable}||{{}};window.{variable}[{json.dumps(key)}]={body};\n")


def explorer_slug(run_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in run_id)


def write_explorer_data(
    out_dir: Path,
    metrics: pl.DataFrame,
    records: Callable[[], dict],
    metric_columns: list[str],
    pages: dict,
    digests: InputDigests,
) -> dict[str, Path]:
    """explorer/rows.js and explorer/<run>.js under `out_dir`; returns the files by name ('rows' or run id).

    `records()` maps (data_id, row_id) to the dataset row, `pages` (data_id, row_id) to a row page's path
    relative to the report folder, for the rows that have one. A file whose inputs did not change since
    the last build (`digests`) is kept as it is."""
    folder = Path(out_dir) / "explorer"
    first = metrics.unique(["data_id", "row_id"], keep="first", maintain_order=True)
    keys = first.select("data_id", "row_id")
    files = {"rows": folder / "rows.js"}
    shared = first.select("data_id", "row_id", "players")
    page_list = [pages.get(key) for key in keys.iter_rows()]
    if not digests.fresh("explorer:rows", digest(shared, page_list), [files["rows"]]):
        found = records()
        shared_players = first["players"].to_list()
        texts = []
        for data_id, row_id, players in zip(first["data_id"], first["row_id"], shared_players, strict=True):
            text = found.get((data_id, row_id), {}).get("text")
            texts.append((text if isinstance(text, str) else " ".join(players or []))[:200])
        _script(
            files["rows"],
            "SS_ROWS",
            "all",
            {
                "data_id": keys["data_id"].to_list(),
                "row_id": keys["row_id"].to_list(),
                "text": texts,
                "players": shared_players,
                "page": page_list,
            },
        )
    for (run_id,), part in metrics.group_by("run_id", maintain_order=True):
        files[run_id] = folder / f"{explorer_slug(run_id)}.js"
        if digests.fresh(f"explorer:{run_id}", digest(shared, part, metric_columns), [files[run_id]]):
            continue
        # Polars does the per-row work (a Python loop over 100k rows x 10 runs took most of a build).
        part = part.join(
            first.select("data_id", "row_id", pl.col("players").alias("_shared")).with_row_index("_row"),
            on=["data_id", "row_id"],
            how="left",
            maintain_order="left",
        )
        shown = [c for c in metric_columns if c in part.columns and part[c].null_count() < part.height]
        columns = part.select(
            "_row",
            pl.when(pl.col("players") != pl.col("_shared")).then(pl.col("players")).alias("_own"),
            pl.col("attribution").list.eval(_rounded(pl.element(), SIGNIFICANT_DIGITS)),
            *(_rounded(pl.col(c).cast(pl.Float64), 6).alias(f"_metric_{c}") for c in shown),
        )
        own = columns["_own"]
        data = {
            "row": columns["_row"].to_list(),
            "status": part["status"].to_list() if "status" in part.columns else None,
            "metrics": {c: columns[f"_metric_{c}"].to_list() for c in shown},
            "attribution": columns["attribution"].to_list(),
            "players": own.to_list() if own.null_count() < own.len() else None,
        }
        _script(files[run_id], "SS_RUNS", run_id, data)
    return files
