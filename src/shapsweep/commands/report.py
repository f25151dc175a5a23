"""Render the HTML report of an experiment set (index, one page per row, one per run, plots)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set-dir", type=Path, help="the set's results folder (default: the folder of --runs)")
    parser.add_argument("--runs", type=Path, help="runs.parquet (default: <set-dir>/runs.parquet)")
    parser.add_argument("--config", type=Path, help="rendered config.json (default: <set-dir>/config.json)")
    parser.add_argument("--out", type=Path, help="index.html to write; pages go next to it (default: <set-dir>/report/index.html)")
    parser.add_argument("--sort-rows-by", help="per-row metric ordering each run page (default: config report.sort_rows_by)")
    parser.add_argument("--max-rows", type=int, help="rows listed per run page; 0 = all (default: config report.max_rows)")


def run(args: argparse.Namespace) -> int:
    from shapsweep.report import build_report, load_report_inputs

    if args.set_dir is None and args.runs is None:
        print("shapsweep report: give --set-dir or --runs", file=sys.stderr)
        return 2
    set_dir = args.set_dir or args.runs.parent
    out = args.out or set_dir / "report" / "index.html"
    if out.name != "index.html":
        print(f"shapsweep report: --out must name an index.html (got {out})", file=sys.stderr)
        return 2
    try:
        inputs = load_report_inputs(set_dir, runs_path=args.runs, config_path=args.config)
        files = build_report(inputs, out.parent, sort_rows_by=args.sort_rows_by, max_rows=args.max_rows)
    except (FileNotFoundError, ValueError) as exc:
        print(f"shapsweep report: {exc}", file=sys.stderr)
        return 2
    print(f"report: {files.index} ({len(files.run_pages)} run pages, {len(files.row_pages)} row pages)")
    return 0
