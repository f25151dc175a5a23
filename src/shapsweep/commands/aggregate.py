"""Summarize one run's shards (and faithfulness files, when evaluated) into summary.json."""

from __future__ import annotations

import argparse

from shapsweep.commands.config_arg import add_config_argument, fail, load
from shapsweep.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--run", required=True, help="run id")
    parser.add_argument("--set-dir", help="results/<set> where the run's planned shards are (default: from the config)")
    parser.add_argument(
        "--faithfulness",
        action="store_true",
        help="also read the run's faithfulness/<shard>.parquet files (metrics become faith_*)",
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
    from shapsweep.config.experiment_set import HASHED_BLOCKS

    hashed = {
        **{b: spec["explain"][b] for b in HASHED_BLOCKS},
        "data_id": spec["data_id"],
        "shard_size": spec["shard_size"],
    }
    keep = ("run_id", "hash", "slug", "variant", "variant_index", "reference", "params", "data_id", "shard_size")
    return {**{k: spec[k] for k in keep}, "explain": spec["explain"], "hashed": hashed}


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shapsweep import layout
    from shapsweep.aggregate import rollup_provenance, summarize
    from shapsweep.atomic_outputs import write_json
    from shapsweep.data.shards import plan_shards
    from shapsweep.file_schemas import read_faithfulness, read_shards
    from shapsweep.provenance import read_shard_provenance

    try:
        exp = load(args, warn=False)
        spec = exp.run(args.run)
        # The rule passes the plan's numbers: config.json may meanwhile hold another invocation's
        # unhashed values (e.g. max_samples from a dry run with other --config).
        if args.n_rows is None:
            plan = exp.shard_plan(args.run)
        else:
            plan = plan_shards(args.n_rows, spec["shard_size"])
        shard_ids = [s.shard_id for s in plan.shards]
        set_dir = args.set_dir or exp.set_dir
        top_k = args.top_k or exp.config["compare"]["top_k"]
    except ConfigError as exc:
        return fail(exc)
    shard_paths = [layout.shard_file(set_dir, args.run, s) for s in shard_ids]
    shards = read_shards(shard_paths)
    faith = None
    if args.faithfulness:
        faith = read_faithfulness([layout.faithfulness_file(set_dir, args.run, s) for s in shard_ids])
    summary = summarize(spec, shards, faith, top_k=top_k)
    summary["n_rows"], summary["shards"] = plan.n_rows, shard_ids  # compare reads the same shards
    summary["provenance"] = rollup_provenance([read_shard_provenance(p) for p in shard_paths])
    write_json(args.spec_out or Path(args.out).with_name("spec.json"), spec_record(spec))
    write_json(args.out, summary)
    return 0
