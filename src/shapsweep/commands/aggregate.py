"""Summarize one run's shards (and faithfulness files, when evaluated) into summary.json."""

from __future__ import annotations

import argparse
from pathlib import Path

from shapsweep.commands.config_arg import add_config_argument, fail, load
from shapsweep.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--run", required=True, help="run id")
    parser.add_argument(
        "--shards",
        nargs="*",
        type=Path,
        help="the run's shard files (default: every shard of its plan, from the config)",
    )
    parser.add_argument(
        "--shard-count",
        type=int,
        help="instead of --shards: the run's first N shard files (what the rule passes: names would not fit one "
        "command line at thousands of shards)",
    )
    parser.add_argument(
        "--faithfulness", nargs="*", type=Path, default=[], help="the run's faithfulness files (metrics become faith_*)"
    )
    parser.add_argument(
        "--evaluated",
        action="store_true",
        help="with --shard-count: the faithfulness file of each of those shards too (metrics become faith_*)",
    )
    parser.add_argument(
        "--n-rows", type=int, help="rows the run explains (the rule passes its plan; default: planned from the config)"
    )
    parser.add_argument("--top-k", type=int, help="k of the top-k share (default: config compare.top_k)")
    parser.add_argument("--out", required=True, help="summary.json to write")
    parser.add_argument(
        "--spec-out", help="the run's spec.json to write (default: spec.json next to --out; layout.spec_file)"
    )


def spec_record(spec: dict) -> dict:
    """spec.json: the run's resolved explain spec, its swept params, and `hashed`, exactly what its id hashes."""
    keep = ("run_id", "hash", "slug", "variant", "variant_index", "reference", "params", "data_id", "shard_size")
    return {**{k: spec[k] for k in keep}, "explain": spec["explain"], "hashed": spec["hashed"]}


def run(args: argparse.Namespace) -> int:
    from shapsweep import layout
    from shapsweep.aggregate import rollup_provenance, summarize
    from shapsweep.atomic_outputs import write_json
    from shapsweep.file_schemas import read_faithfulness, read_shards
    from shapsweep.provenance import read_shard_provenance

    try:
        exp = load(args, warn=False)
        spec = exp.run(args.run)
        top_k = args.top_k or exp.config["compare"]["top_k"]
        if args.shard_count is not None:  # the rule: the files it declares, by count
            args.shards = layout.first_files(layout.shards_dir(exp.set_dir, args.run), args.shard_count)
            if args.evaluated:
                args.faithfulness = layout.first_files(layout.faithfulness_dir(exp.set_dir, args.run), args.shard_count)
        if args.shards is None:  # by hand: the planned shards
            args.shards = [
                layout.shard_file(exp.set_dir, args.run, s.shard_id) for s in exp.shard_plan(args.run).shards
            ]
        n_rows = exp.shard_plan(args.run).n_rows if args.n_rows is None else args.n_rows
    except ConfigError as exc:
        return fail(exc)
    shards = read_shards(args.shards)
    faith = read_faithfulness(args.faithfulness) if args.faithfulness else None
    summary = summarize(spec, shards, faith, top_k=top_k)
    # compare and report read exactly the files this summary was made from.
    summary["n_rows"] = n_rows
    summary["shards"] = [Path(p).stem for p in args.shards]
    summary["faithfulness_shards"] = [Path(p).stem for p in args.faithfulness]
    summary["provenance"] = rollup_provenance([read_shard_provenance(p) for p in args.shards])
    write_json(args.spec_out or Path(args.out).with_name("spec.json"), spec_record(spec))
    write_json(args.out, summary)
    return 0
