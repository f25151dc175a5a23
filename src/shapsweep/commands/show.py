"""Render one row's report page on demand (any row of the set, whether or not the report wrote its page)."""

from __future__ import annotations

import argparse
from pathlib import Path

from shapsweep.commands.config_arg import add_config_argument, fail, load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("row_id", help="the row's id (its `row_id` in the shards)")
    parser.add_argument("--set-dir", type=Path, help="results/<set> (default: from the config)")
    parser.add_argument(
        "--out", type=Path, help="report folder to write rows/<row>.html under (default: <set-dir>/report)"
    )


def run(args: argparse.Namespace) -> int:
    from shapsweep.config import ConfigError
    from shapsweep.report import build_row_page, load_report_inputs

    try:
        inputs = load_report_inputs(load(args, warn=False), set_dir=args.set_dir)
        pages = build_row_page(inputs, args.row_id, args.out or inputs.set_dir / "report")
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        return fail(exc)
    for page in pages:
        print(page)
    return 0
