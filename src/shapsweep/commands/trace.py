"""Train the set's `training` block and record it into a trace (one atomic folder per step; resumes)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shapsweep.commands.config_arg import add_config_argument, fail, load
from shapsweep.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--trace", default=None, help="the trace id the rule expects (checked against the config)")
    parser.add_argument("--rows", required=True, help="rows.parquet of the training data (rule rows)")
    parser.add_argument("--done", required=True, help="the marker written last, once the trace is complete")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def training_rows(rows_path: str | Path, spec: dict) -> list[dict]:
    """The selected training rows (the first max_samples), their target in `label` or `target` as train reads it."""
    import polars as pl

    rows = pl.read_parquet(rows_path)
    limit = spec["selection"]["max_samples"]
    if limit is not None:
        rows = rows.head(limit)
    column = spec["target"]
    if column not in rows.columns:
        raise ConfigError(
            f"training.target: the training rows have no column {column!r} (they have {rows.columns}); "
            "map it with training.dataset.columns"
        )
    name = "label" if spec["model"]["connector"] == "hf_classifier" else "target"
    out = []
    for row in rows.iter_rows(named=True):
        out.append({"row_id": str(row["row_id"]), "text": row["text"], name: row[column]})
    return out


def run(args: argparse.Namespace) -> int:
    from shapsweep.atomic_outputs import write_json
    from shapsweep.models.locate import resolve_path_or_id

    try:
        exp = load(args, warn=False)
        spec = exp.training
        if spec is None or spec["recorded_by_user"]:
            raise ConfigError("training: this set records no trace (set training.model, or it reads training.trace)")
        if args.trace is not None and args.trace != spec["trace_id"]:
            raise ConfigError(f"training: the config's trace is {spec['trace_id']}, not {args.trace}: re-run snakemake")
        rows = training_rows(args.rows, spec)
        model_path = resolve_path_or_id(spec["model"]["path_or_id"], "training.model.path_or_id")
    except (ConfigError, ValueError) as exc:
        return fail(exc)
    import torch

    from shapsweep.training.trace import read_header, recorded_steps
    from shapsweep.training.train import TrainingOptions, train

    if args.threads:
        torch.set_num_threads(args.threads)
    o = spec["options"]
    options = TrainingOptions(
        lr=o["lr"],
        betas=tuple(o["betas"]),
        eps=o["eps"],
        weight_decay=o["weight_decay"],
        schedule=o["schedule"],
        warmup_steps=o["warmup_steps"],
        batch_size=o["batch_size"],
        steps=o["steps"],
        epochs=o["epochs"],
        shuffle=o["shuffle"],
        seed=o["seed"],
        trainable=o["trainable"],
        window=None if o["window"] is None else tuple(o["window"]),
        extra={"trace_id": spec["trace_id"], "data_id": spec["data_id"]},
    )
    root = Path(spec["root"])
    resumed = recorded_steps(root)
    print(f"trace {spec['trace_id']}: {len(rows)} training rows; resuming after {len(resumed)} steps", file=sys.stderr)
    try:
        train(root, model_path, spec["model"]["connector"], rows, options)
    except ValueError as exc:
        return fail(exc)
    header = read_header(root)
    write_json(
        Path(args.done),
        {"trace_id": spec["trace_id"], "total_steps": header["total_steps"], "steps": recorded_steps(root)},
    )
    print(f"trace {spec['trace_id']}: {header['total_steps']} steps -> {root}", file=sys.stderr)
    return 0
