"""Sum a path_kernel shard's step-block files into its shard file (options.step_block)."""

from __future__ import annotations

import argparse

from shapsweep.commands.config_arg import add_config_argument, fail, load
from shapsweep.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--run", required=True, help="run id")
    parser.add_argument("--blocks", nargs="+", required=True, help="the shard's step-block files, in step order")
    parser.add_argument("--out", required=True, help="the shard file to write")


def run(args: argparse.Namespace) -> int:
    from shapsweep.aggregate import sum_step_blocks
    from shapsweep.atomic_outputs import write_parquet
    from shapsweep.file_schemas import read_shards

    try:
        spec = load(args, warn=False).run(args.run)
        blocks = [read_shards([path]) for path in args.blocks]
        frame = sum_step_blocks(blocks, spec["explain"]["shap"]["normalizer"])
    except (ConfigError, ValueError) as exc:
        return fail(exc)
    write_parquet(args.out, frame)
    print(f"{len(blocks)} step blocks -> {args.out}")
    return 0
