"""Load and select a dataset's rows into rows.parquet (canonical columns, stable row_id)."""

from __future__ import annotations

import argparse

from shapsweep.commands.config_arg import add_config_argument, fail, load
from shapsweep.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--data-id", required=True, help="which data selection (see `shapsweep plan --json`)")
    parser.add_argument("--out", required=True, help="output rows.parquet")


def run(args: argparse.Namespace) -> int:
    from shapsweep.data.selection import write_selected_rows

    try:
        exp = load(args, warn=False)
        n_rows = write_selected_rows(*exp.data_selection(args.data_id), args.out)
    except ConfigError as exc:
        return fail(exc)
    print(f"{n_rows} rows -> {args.out}")
    return 0
