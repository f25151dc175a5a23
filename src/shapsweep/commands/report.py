"""Render the HTML report of an experiment set (index, one page per row, one per run, plots)."""

from __future__ import annotations

import argparse
from pathlib import Path

from shapsweep.commands.config_arg import add_config_argument, fail, load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--set-dir", type=Path, help="results/<set> (default: from the config)")
    parser.add_argument(
        "--summaries",
        nargs="*",
        type=Path,
        help="the runs' summary.json files the rule declares (their folder is the set's; they list the shards read)",
    )
    parser.add_argument(
        "--out", type=Path, help="index.html to write; pages go next to it (default: <set-dir>/report/index.html)"
    )
    parser.add_argument(
        "--sort-rows-by", help="per-row metric ordering each run page (default: config report.sort_rows_by)"
    )
    parser.add_argument(
        "--max-rows", type=int, help="rows listed per run page; 0 = all (default: config report.max_rows)"
    )


def run(args: argparse.Namespace) -> int:
    from shapsweep import layout
    from shapsweep.config import ConfigError
    from shapsweep.report import build_report, load_report_inputs

    try:
        set_dir = args.set_dir or (layout.set_dir_of_summary(args.summaries[0]) if args.summaries else None)
        inputs = load_report_inputs(load(args, warn=False), set_dir=set_dir)
        out = args.out or inputs.set_dir / "report" / "index.html"
        if out.name != "index.html":
            raise ValueError(f"--out must name an index.html, got {out}")
        files = build_report(inputs, out.parent, sort_rows_by=args.sort_rows_by, max_rows=args.max_rows)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        return fail(exc)
    print(f"report: {files.index} ({len(files.run_pages)} run pages, {len(files.row_pages)} row pages)")
    return 0
