"""Faithfulness metrics of one shard of a run (deletion/insertion, AOPC, leave-one-out), with its own model."""

from __future__ import annotations

import argparse
from pathlib import Path

from shapsweep.commands.config_arg import add_config_argument, fail, load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--run", required=True, help="run id")
    parser.add_argument("--shard-file", required=True, type=Path, help="the run's shard Parquet to evaluate")
    parser.add_argument("--rows", required=True, type=Path, help="the run's rows.parquet")
    parser.add_argument("--out", required=True, type=Path, help="faithfulness Parquet to write")
    parser.add_argument("--threads", type=int, help="torch CPU threads")


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from shapsweep.atomic_outputs import write_parquet
    from shapsweep.config import ConfigError
    from shapsweep.evaluation.shard import evaluate_shard
    from shapsweep.models import load_model

    try:
        exp = load(args, warn=False)
        spec = exp.run(args.run)
    except ConfigError as exc:
        return fail(exc)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    shard = pl.read_parquet(args.shard_file)
    rows = pl.read_parquet(args.rows)
    explain = spec["explain"]
    model = load_model(explain["model"], explain["features"], explain["value"])
    result = evaluate_shard(model, shard, rows, exp.config["evaluation"]["fractions"])
    write_parquet(args.out, result)
    ok = result.filter(pl.col("status") == "ok").height
    print(f"evaluate: {args.out} ({ok}/{result.height} rows evaluated)")
    return 0
