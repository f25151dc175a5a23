"""Compare all runs: runs.parquet / runs.tsv (one row per run) and per-row errors against references."""

from __future__ import annotations

import argparse
import json

from shapsweep.commands.config_arg import add_config_argument, fail, load
from shapsweep.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--set-dir", help="results/<set> where summaries and shards are (default: from the config)")
    parser.add_argument("--top-k", type=int, help="k of the top-k overlap (default: config compare.top_k)")
    parser.add_argument("--out-parquet", required=True)
    parser.add_argument("--out-tsv", required=True)
    parser.add_argument("--out-row-errors", required=True)


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from shapsweep import layout
    from shapsweep.atomic_outputs import atomic_path, write_parquet
    from shapsweep.compare import row_errors, runs_table
    from shapsweep.file_schemas import REFERENCE_ERRORS_SCHEMA, read_shards

    try:
        exp = load(args, warn=False)
    except ConfigError as exc:
        return fail(exc)
    top_k = args.top_k or exp.config["compare"]["top_k"]
    set_dir = args.set_dir or exp.set_dir
    summaries = {r: json.loads(layout.summary_file(set_dir, r).read_text()) for r in exp.runs}

    def shards(run_id):  # the shards its summary was made from
        return read_shards([layout.shard_file(set_dir, run_id, s) for s in summaries[run_id]["shards"]])

    errors, per_row = {}, []
    for run_id, ref_id in exp.references.items():
        if ref_id is None:
            continue
        err = row_errors(shards(run_id), shards(ref_id), top_k)
        errors[run_id] = err
        per_row.append(err.with_columns(pl.lit(run_id).alias("run_id"), pl.lit(ref_id).alias("reference_run")))
    table = runs_table(list(summaries.values()), errors, exp.references)
    write_parquet(args.out_parquet, table)
    with atomic_path(args.out_tsv) as tmp:
        table.write_csv(tmp, separator="\t")
    frame = pl.concat(per_row, how="vertical") if per_row else pl.DataFrame(schema=REFERENCE_ERRORS_SCHEMA)
    write_parquet(args.out_row_errors, frame)
    return 0
