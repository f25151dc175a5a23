"""Gather the runs of many sets, output roots and W&B runs into one table (filter, pivot, export)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shapsweep.commands.config_arg import fail

FORMATS = ("tsv", "parquet", "markdown")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        type=Path,
        help="a runs.parquet, a set folder (results/<set>), an output root holding sets (searched below), "
        "or W&B offline runs (<set>/wandb or one offline-run-* folder)",
    )
    parser.add_argument(
        "--wandb-project", action="append", default=[], metavar="ENTITY/PROJECT", help="also read a W&B project (API)"
    )
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="EXPR",
        help="keep rows matching EXPR, e.g. \"method == 'kernel' and shap.budget >= 64\" "
        "(==, !=, <, <=, >, >=, in (...), is [not] null, and, or, not; repeat = and)",
    )
    parser.add_argument(
        "--pivot",
        nargs=3,
        metavar=("ROWS", "COLS", "VALUE"),
        help="mean of VALUE per ROWS x COLS cell, e.g. method shap.budget ref_rel_l2 (ROWS may be a,b)",
    )
    parser.add_argument("--columns", help="comma-separated columns to keep (after filtering; not with --pivot)")
    parser.add_argument("--to", choices=FORMATS, default="tsv", help="output format (default tsv)")
    parser.add_argument("--out", type=Path, help="file to write (default: stdout; parquet needs --out)")
    parser.add_argument(
        "--keep-conflicts",
        action="store_true",
        help="when copies of a run disagree, keep each copy as a row (column conflict) instead of failing",
    )
    parser.add_argument(
        "--rtol", type=float, default=1e-9, help="relative tolerance when comparing copies' numbers (default 1e-9)"
    )


def run(args: argparse.Namespace) -> int:
    from shapsweep.atomic_outputs import atomic_path, write_text
    from shapsweep.results_log import gather, merge, pivot, to_markdown, to_tsv, where

    if not args.paths and not args.wandb_project:
        return fail(ValueError("give at least one PATH or --wandb-project"))
    if args.pivot and args.columns:
        return fail(ValueError("--columns and --pivot do not combine: a pivot's columns are its COLS values"))
    if args.to == "parquet" and args.out is None:
        return fail(ValueError("--to parquet needs --out FILE"))
    try:
        copies = gather(args.paths, args.wandb_project)
        table, conflicts = merge(copies, keep_conflicting=args.keep_conflicts, rtol=args.rtol)
        for line in conflicts:
            print(f"shapsweep: conflict: {line}", file=sys.stderr)
        if conflicts and not args.keep_conflicts:
            runs = len({c.run_id for c in conflicts})
            print(
                f"shapsweep: error: {runs} run(s) have copies that disagree (listed above); nothing written. "
                "Remove the wrong copy, or pass --keep-conflicts to list every copy",
                file=sys.stderr,
            )
            return 1
        for text in args.where:
            table = where(table, text)
        if args.pivot:
            rows, cols, value = args.pivot
            table = pivot(table, rows.split(","), cols, value)
        elif args.columns:
            wanted = [c.strip() for c in args.columns.split(",") if c.strip()]
            missing = [c for c in wanted if c not in table.columns]
            if missing:
                raise ValueError(f"--columns: no column {missing[0]!r} (columns: {', '.join(table.columns)})")
            table = table.select(wanted)
    except (FileNotFoundError, ValueError) as exc:
        return fail(exc)
    if args.to == "parquet":
        with atomic_path(args.out) as tmp:
            table.write_parquet(tmp)
        return 0
    text = to_markdown(table) if args.to == "markdown" else to_tsv(table)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_text(args.out, text)
    return 0
