"""Check an experiment set: schema, sweep, estimator limits; with --check-dataset also the data columns."""

from __future__ import annotations

import argparse

from shapsweep.commands.config_arg import add_config_argument, fail, load
from shapsweep.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--check-dataset",
        action="store_true",
        help="load the first rows of each dataset and check the mapped columns and filters",
    )


def check_dataset(exp) -> list[str]:
    """Load each distinct dataset's first rows and select them; return one line each."""
    from shapsweep.data.load import load_source, media_folders
    from shapsweep.data.media import check_first_media
    from shapsweep.data.selection import select_table

    lines, seen = [], set()
    for run in exp.runs.values():
        ex = run["explain"]
        if run["data_id"] in seen:
            continue
        seen.add(run["data_id"])
        ds = load_source(ex["dataset"])
        head = ds.select(range(min(5, len(ds)))).to_polars()
        sample = select_table(head, ex["dataset"], {**ex["selection"], "shuffle_seed": None, "max_samples": None})
        lines.append(f"dataset {run['data_id']}: {len(ds)} rows, columns ok ({', '.join(sample.columns)})")
        lines += [
            f"dataset {run['data_id']}: {line}" for line in check_first_media(sample, media_folders(ex["dataset"]))
        ]
    return lines


def run(args: argparse.Namespace) -> int:
    try:
        exp = load(args)
        n_shards = sum(len(exp.shard_plan(r).shards) for r in exp.runs)
        lines = check_dataset(exp) if args.check_dataset else []
    except ConfigError as exc:
        return fail(exc)
    for line in lines:
        print(line)
    for line in exp.duplicates:
        print(f"duplicate: {line}")
    print(f"ok: {exp.config['experiment_set_id']}: {len(exp.runs)} runs, {n_shards} shard jobs")
    return 0
