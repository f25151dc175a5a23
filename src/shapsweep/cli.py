"""The `shapsweep` command line: a thin argparse front over `shapsweep.commands.*`."""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

from shapsweep.commands import COMMAND_MODULES
from shapsweep.version import __version__


def _load_commands() -> dict[str, ModuleType]:
    """Import each listed subcommand module; a module not written yet is skipped, not fatal."""
    modules = {}
    for name in COMMAND_MODULES:
        qualified = f"shapsweep.commands.{name}"
        try:
            modules[name] = importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name != qualified:  # a real missing dependency inside the module: surface it
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shapsweep",
        description="Reproducible Shapley-value attribution sweeps (the CLI the Snakemake rules call).",
    )
    parser.add_argument("--version", action="version", version=f"shapsweep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in _load_commands().items():
        doc = (module.__doc__ or "").strip().splitlines()
        help_line = doc[0] if doc else name
        cmd = sub.add_parser(name.replace("_", "-"), help=help_line, description=help_line)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
