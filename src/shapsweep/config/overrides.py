"""Snakemake's `--config` split into: which experiment sets, their Jsonnet ext vars, field overrides.

Snakemake parses nested values (`'vars={budget: 64}'`) with YAML's BaseLoader, so every nested
scalar arrives as a string; numbers, booleans and null are turned back into what they spell.
"""

from __future__ import annotations

import json
from typing import Any

from shapsweep.errors import ConfigError

DEFAULT_EXPERIMENT = "config/default.jsonnet"
# The keys that pick sets; every other key overrides a field of each set's rendered config.
SET_KEYS = ("experiment", "experiments")


def typed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        return parsed if parsed is None or isinstance(parsed, (bool, int, float)) else value
    return value


def split_snakemake_config(config: dict) -> tuple[list[str], dict, dict]:
    """(set sources, ext vars, overrides of the rendered configs' fields).

    `experiment=PATH` names one set; `experiments=[A, B]`, a directory or a glob names several
    (config.set_sources expands them). Neither: the embedded default.
    """
    if "experiment" in config and "experiments" in config:
        raise ConfigError("--config: give experiment=PATH (one set) or experiments=[...] (several), not both")
    if "experiments" in config:
        chosen = config["experiments"]
        sources = [str(s) for s in chosen] if isinstance(chosen, list) else [str(chosen)]
        if not sources:
            raise ConfigError("--config experiments=[]: name at least one set (a file, a directory or a glob)")
    else:
        sources = [str(config.get("experiment", DEFAULT_EXPERIMENT))]
    ext_vars = typed(config.get("vars") or {})
    overrides = {k: typed(v) for k, v in config.items() if k not in (*SET_KEYS, "vars")}
    return sources, ext_vars, overrides
