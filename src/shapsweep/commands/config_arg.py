"""The CONFIG argument every subcommand takes: a .jsonnet experiment set or a rendered config.json
(several, a directory or a glob for the commands that survey sets: plan, status)."""

from __future__ import annotations

import argparse
import json
import sys

from shapsweep.config import ConfigError, ExperimentSet, load_experiment_set
from shapsweep.config.set_sources import load_experiment_sets


def add_config_argument(parser: argparse.ArgumentParser, several: bool = False) -> None:
    """CONFIG (one set), or with `several` CONFIG... (files, directories of .jsonnet, globs)."""
    if several:
        parser.add_argument(
            "config",
            metavar="CONFIG",
            nargs="+",
            help="experiment sets: .jsonnet files or rendered config.json, directories of .jsonnet, globs",
        )
    else:
        parser.add_argument("config", metavar="CONFIG", help="experiment set: .jsonnet, or a rendered config.json")
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Jsonnet external variable (std.extVar); VALUE is parsed as JSON when it can be, else a string",
    )


def _parse_vars(items: list[str]) -> dict:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--var {item!r}: expected NAME=VALUE")
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value
    return out


def load(args: argparse.Namespace, warn: bool = True) -> ExperimentSet:
    return load_experiment_set(args.config, ext_vars=_parse_vars(args.var), warn=warn)


def load_several(args: argparse.Namespace, warn: bool = True) -> dict[str, ExperimentSet]:
    """Set folder -> set, for every CONFIG (see add_config_argument(several=True)), shards planned."""
    return load_experiment_sets(args.config, ext_vars=_parse_vars(args.var), warn=warn)


def fail(exc: Exception) -> int:
    """Print a user-facing error and return the exit status."""
    print(f"shapsweep: error: {exc}", file=sys.stderr)
    return 2
