"""Train an empirical explainer on a target run's shards (method 'empirical'): one save_pretrained folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shapsweep.commands.config_arg import fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", required=True, type=Path, help="the target run's rows.parquet (row_id, text)")
    shards = parser.add_mutually_exclusive_group(required=True)
    shards.add_argument("--shards", nargs="+", type=Path, help="the target run's shard files")
    shards.add_argument(
        "--shards-dir",
        type=Path,
        help="with --shard-count: the target run's shards/ folder, its first N files (what the rule passes: "
        "names would not fit one command line at thousands of shards)",
    )
    parser.add_argument("--shard-count", type=int, help="how many shards of --shards-dir")
    parser.add_argument(
        "--options",
        default="{}",
        help="JSON object of training options (shap.options of the empirical run, without `target`)",
    )
    parser.add_argument("--out", required=True, type=Path, help="explainer folder to write (appears when complete)")
    parser.add_argument("--target-run", help="the target run's id: every shard row must carry it")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to train")


def _options(text: str) -> dict:
    try:
        options = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--options: not JSON ({error}); pass an object such as '{{\"epochs\": 5}}'") from None
    if not isinstance(options, dict):
        raise ValueError(f"--options: expected a JSON object of shap.options, got {type(options).__name__}")
    return options


def run(args: argparse.Namespace) -> int:
    from shapsweep.empirical.options import validate_training_options
    from shapsweep.layout import first_files

    if args.shards_dir is not None:
        if args.shard_count is None:
            return fail(ValueError("--shards-dir needs --shard-count (how many shards of the folder to read)"))
        args.shards = first_files(args.shards_dir, args.shard_count)

    try:
        options = validate_training_options(_options(args.options))
    except ValueError as exc:
        return fail(exc)
    import torch

    from shapsweep.empirical.training import TrainingData, train_explainer

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        data = TrainingData.from_files(
            args.shards,
            args.rows,
            scale=options["scale"],
            train_fraction=options["train_fraction"],
            validation_fraction=options["validation_fraction"],
        )
        if args.target_run is not None and set(data.target_runs) - {args.target_run}:
            others = ", ".join(sorted(set(data.target_runs) - {args.target_run}))
            raise ValueError(f"--shards: rows of run(s) {others} among the shards of target run {args.target_run}")
        print(
            f"training on {data.rows_per_role['train']} rows, validating on {data.rows_per_role['validation']}, "
            f"{data.rows_per_role['held_out']} held out"
            + (f" ({sum(data.skipped.values())} rows the target did not explain)" if data.skipped else ""),
            flush=True,
        )
        training = {k: v for k, v in options.items() if k not in ("scale", "train_fraction", "validation_fraction")}
        target = {"run_id": args.target_run} if args.target_run else None
        metrics = train_explainer(data, args.out, log=sys.stdout, target=target, device=args.device, **training)
    except ValueError as exc:
        return fail(exc)
    print(json.dumps(metrics, indent=2, sort_keys=True))
    print(f"explainer -> {args.out}")
    return 0
