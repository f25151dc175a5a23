"""List the concrete runs of experiment sets: set, run id, slug, swept parameters, rows and shards."""

from __future__ import annotations

import argparse
import json

from shapsweep.commands.config_arg import add_config_argument, fail, load_several
from shapsweep.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser, several=True)
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of text")


def plan_rows(exp) -> list[dict]:
    out = []
    for run_id, run in exp.runs.items():
        plan = exp.shard_plan(run_id)
        out.append(
            {
                "set": exp.config["experiment_set_id"],
                "set_dir": str(exp.set_dir),
                "run_id": run_id,
                "slug": run["slug"],
                "variant": run["variant"],
                "params": run["params"],
                "reference": run["reference"],
                "compared_to": exp.references[run_id],
                "data_id": run["data_id"],
                "n_rows": plan.n_rows,
                "n_shards": len(plan.shards),
            }
        )
    return out


def run(args: argparse.Namespace) -> int:
    try:
        rows = [row for exp in load_several(args).values() for row in plan_rows(exp)]
    except ConfigError as exc:
        return fail(exc)
    for row in rows:
        if args.json:
            print(json.dumps(row, sort_keys=True))
        else:
            params = " ".join(f"{k}={json.dumps(v)}" for k, v in row["params"].items())
            ref = " [reference]" if row["reference"] else ""
            print(f"{row['set']}\t{row['run_id']}\t{row['n_shards']} shards\t{row['n_rows']} rows\t{params}{ref}")
    return 0
