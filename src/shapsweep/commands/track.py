"""Log one run to Weights & Biases (offline by default); a tracking failure never fails the job."""

from __future__ import annotations

import argparse
from pathlib import Path

from shapsweep.commands.config_arg import add_config_argument, fail, load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--run", required=True, help="run id")
    parser.add_argument("--set-dir", type=Path, help="results/<set> (default: from the config)")
    parser.add_argument(
        "--out", required=True, type=Path, help="marker JSON to write (status, W&B run name, id, folder)"
    )


def run(args: argparse.Namespace) -> int:
    from shapsweep import layout
    from shapsweep.atomic_outputs import write_json
    from shapsweep.config import ConfigError
    from shapsweep.tracking import track_run

    try:
        exp = load(args, warn=False)
        spec = exp.run(args.run)
        shard_ids = [s.shard_id for s in exp.shard_plan(args.run).shards]
    except ConfigError as exc:
        return fail(exc)
    set_dir = args.set_dir or layout.set_dir(exp.config)
    faith = (
        [layout.faithfulness_file(set_dir, args.run, s) for s in shard_ids]
        if exp.config["evaluation"]["enabled"]
        else []
    )
    record = track_run(
        set_name=exp.config["experiment_set_id"],
        run_id=args.run,
        spec=spec,
        summary_path=layout.summary_file(set_dir, args.run),
        shard_paths=[layout.shard_file(set_dir, args.run, s) for s in shard_ids],
        faithfulness_paths=[p for p in faith if p.exists()],
        wandb_cfg=exp.config["wandb"],
        wandb_dir=Path(set_dir),
    )
    write_json(args.out, record)
    print(f"track: {record['name']} {record['status']}" + (f" ({record['error']})" if record["error"] else ""))
    return 0
