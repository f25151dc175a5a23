"""Write or check config/schema.json and docs/config.md, generated from the fields each layer declares."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite config/schema.json and docs/config.md")
    group.add_argument("--check", action="store_true", help="exit 1 when either file differs from its source")


def generated_files() -> dict[Path, str]:
    """{path: content} of the generated files (paths in the repository)."""
    from shapsweep.config.blocks import build_schema
    from shapsweep.config.reference import render_reference
    from shapsweep.config.render import CONFIG_DIR

    return {
        CONFIG_DIR / "schema.json": json.dumps(build_schema(), indent=2) + "\n",
        CONFIG_DIR.parent / "docs" / "config.md": render_reference(),
    }


def run(args: argparse.Namespace) -> int:
    from shapsweep.atomic_outputs import write_text

    files = generated_files()
    if args.write:
        for path, text in files.items():
            if write_text(path, text, only_if_changed=True):
                print(f"schema: wrote {path}")
        return 0
    if args.check:
        stale = [str(p) for p, text in files.items() if not p.exists() or p.read_text() != text]
        for path in stale:
            print(f"schema: {path} is out of date: run `shapsweep schema --write`")
        return 1 if stale else 0
    print(files[next(iter(files))], end="")
    return 0
