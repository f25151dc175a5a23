"""Explain one or more shards of a run (model loaded once; each shard file written when done)."""

from __future__ import annotations

import argparse
from pathlib import Path

from shapsweep.commands.config_arg import add_config_argument, fail, load
from shapsweep.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--run", required=True, help="run id")
    parser.add_argument("--rows", required=True, help="rows.parquet of the run's data")
    parser.add_argument(
        "--shard",
        nargs=4,
        action="append",
        required=True,
        metavar=("ID", "START", "END", "OUT"),
        help="a shard: its id, row range [START, END) in rows.parquet and output file; repeatable",
    )
    parser.add_argument("--explainer", default=None, help="an empirical run's trained explainer folder")
    parser.add_argument(
        "--step-block", type=int, default=None, help="a path_kernel run's block of trace steps (options.step_block)"
    )
    parser.add_argument(
        "--block-record",
        default=None,
        help="a block job's record (layout.block_record), written once every shard of the block is",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def run(args: argparse.Namespace) -> int:
    from shapsweep import layout
    from shapsweep.allocator import keep_freed_memory
    from shapsweep.explain import IncompleteShards, ShardJob, explain_shards
    from shapsweep.provenance import job_facts
    from shapsweep.store import EvaluationStore

    try:
        exp = load(args, warn=False)
        spec = exp.run(args.run)
        jobs = [ShardJob(i, int(s), int(e), Path(o)) for i, s, e, o in args.shard]
    except (ConfigError, ValueError) as exc:
        return fail(exc)
    keep_freed_memory()  # a job explains many rows: reuse the heap's pages (allocator.py)
    try:
        facts = job_facts(exp.config, args.config)
        store = EvaluationStore(layout.store_dir(exp.config)) if exp.config["store"]["enabled"] else None
        explain_shards(
            spec,
            args.rows,
            jobs,
            threads=args.threads,
            job_facts=facts,
            store=store,
            explainer_dir=args.explainer,
            step_block=args.step_block,
            block_record=args.block_record,
        )
    except (ConfigError, IncompleteShards) as exc:
        return fail(exc)
    return 0
