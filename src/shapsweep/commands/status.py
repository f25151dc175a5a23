"""Per run of each set: shards done and missing (what the next `snakemake` would explain)."""

from __future__ import annotations

import argparse
import json

from shapsweep.commands.config_arg import add_config_argument, fail, load_several
from shapsweep.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser, several=True)
    parser.add_argument("--json", action="store_true", help="one JSON object per run")


def run(args: argparse.Namespace) -> int:
    try:
        lines = []
        for set_dir, exp in load_several(args, warn=False).items():
            lines += [_run_status(exp, set_dir, run_id) for run_id in exp.runs]
    except ConfigError as exc:
        return fail(exc)
    for line in lines:
        if args.json:
            print(json.dumps(line))
        else:
            gaps = f" missing: {' '.join(line['missing'])}" if line["missing"] else ""
            print(f"{line['set']}\t{line['run_id']}\t{line['done']}/{line['shards']} shards done{gaps}")
    return 0


def _run_status(exp, set_dir: str, run_id: str) -> dict:
    from shapsweep import layout

    shards = exp.shard_plan(run_id).shards
    missing = [s.shard_id for s in shards if not layout.shard_file(set_dir, run_id, s.shard_id).exists()]
    return {
        "set": exp.config["experiment_set_id"],
        "set_dir": set_dir,
        "run_id": run_id,
        "shards": len(shards),
        "done": len(shards) - len(missing),
        "missing": missing,
        "summary": layout.summary_file(set_dir, run_id).exists(),
    }
