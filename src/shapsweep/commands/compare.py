"""Compare runs: runs.parquet / runs.tsv (one row per run) and per-row errors against references."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from shapsweep.commands.config_arg import fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--summaries", nargs="+", required=True, type=Path, help="the runs' summary.json files (rule aggregate)"
    )
    parser.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="RUN=REF",
        help="compare run RUN against reference run REF (repeatable; `shapsweep plan --json` lists them)",
    )
    parser.add_argument("--top-k", type=int, default=3, help="k of the top-k overlap")
    parser.add_argument("--out-parquet", required=True)
    parser.add_argument("--out-tsv", required=True)
    parser.add_argument("--out-row-errors", required=True)


def _references(items: list[str], runs: set[str]) -> dict[str, str]:
    out = {}
    for item in items:
        run_id, sep, ref_id = item.partition("=")
        if not sep or run_id not in runs or ref_id not in runs:
            raise ValueError(f"--reference {item!r}: expected RUN=REF, both among the summaries' runs")
        out[run_id] = ref_id
    return out


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from shapsweep import layout
    from shapsweep.atomic_outputs import atomic_path, write_parquet
    from shapsweep.compare import row_errors, runs_table
    from shapsweep.file_schemas import REFERENCE_ERRORS_SCHEMA, read_interaction_matrices, read_shards

    summaries, shard_paths = {}, {}
    for path in args.summaries:
        summary = json.loads(path.read_text())
        summaries[summary["run_id"]] = summary
        set_dir = layout.set_dir_of_summary(path)  # the shards its summary was made from
        shard_paths[summary["run_id"]] = [layout.shard_file(set_dir, summary["run_id"], s) for s in summary["shards"]]
    try:
        references = _references(args.reference, set(summaries))
    except ValueError as exc:
        return fail(exc)

    errors, per_row = {}, []
    for run_id, ref_id in references.items():
        run_paths, ref_paths = shard_paths[run_id], shard_paths[ref_id]
        matrices = (read_interaction_matrices(run_paths), read_interaction_matrices(ref_paths))
        err = row_errors(read_shards(run_paths), read_shards(ref_paths), args.top_k, *matrices)
        errors[run_id] = err
        per_row.append(err.with_columns(pl.lit(run_id).alias("run_id"), pl.lit(ref_id).alias("reference_run")))
    table = runs_table(list(summaries.values()), errors, references)
    write_parquet(args.out_parquet, table)
    with atomic_path(args.out_tsv) as tmp:
        table.write_csv(tmp, separator="\t")
    frame = pl.concat(per_row, how="vertical") if per_row else pl.DataFrame(schema=REFERENCE_ERRORS_SCHEMA)
    write_parquet(args.out_row_errors, frame)
    return 0
