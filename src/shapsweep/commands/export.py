"""Export a set's explanations: JSON lines or one self-contained HTML document per line."""

from __future__ import annotations

import argparse
from pathlib import Path

from shapsweep.commands.config_arg import add_config_argument, fail, load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from shapsweep.export import FORMATS

    add_config_argument(parser)
    parser.add_argument("--format", required=True, choices=FORMATS, help="jsonl or html-lines")
    parser.add_argument("--run", action="append", default=[], help="run id to export (repeatable; default: every run)")
    parser.add_argument("--set-dir", type=Path, help="results/<set> (default: from the config)")
    parser.add_argument("--out", required=True, type=Path, help="file to write")


def run(args: argparse.Namespace) -> int:
    from shapsweep import layout
    from shapsweep.config import ConfigError
    from shapsweep.export import write_export

    try:
        exp = load(args, warn=False)
        run_ids = args.run or list(exp.runs)
        for run_id in run_ids:
            exp.run(run_id)  # names the unknown run and lists the known ones
        set_dir = args.set_dir or layout.set_dir(exp.config)
        count = write_export(exp, set_dir, run_ids, args.format, args.out)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        return fail(exc)
    print(f"export: {args.out} ({count} lines, {args.format})")
    return 0
