"""Summarize one run's shards (and faithfulness files, when evaluated) into summary.json."""

from __future__ import annotations

import argparse

from shapsweep.commands.config_arg import add_config_argument, fail, load
from shapsweep.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--run", required=True, help="run id")
    parser.add_argument("--set-dir", help="results/<set> where the run's planned shards are (default: from the config)")
    parser.add_argument("--faithfulness", action="store_true",
                        help="also read the run's faithfulness/<shard>.parquet files (metrics become faith_*)")
    parser.add_argument("--out", required=True, help="summary.json to write")


def run(args: argparse.Namespace) -> int:
    from shapsweep import layout
    from shapsweep.aggregate import read_shards, summarize
    from shapsweep.atomic_outputs import write_json

    try:
        exp = load(args, warn=False)
        spec = exp.run(args.run)
        shard_ids = [s.shard_id for s in exp.shard_plan(args.run).shards]
        set_dir = args.set_dir or exp.set_dir
    except ConfigError as exc:
        return fail(exc)
    shards = read_shards([layout.shard_file(set_dir, args.run, s) for s in shard_ids])
    faith = None
    if args.faithfulness:
        faith = read_shards([layout.faithfulness_file(set_dir, args.run, s) for s in shard_ids])
    write_json(args.out, summarize(spec, shards, faith, top_k=exp.config["compare"]["top_k"]))
    return 0
