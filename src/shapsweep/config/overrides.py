"""Snakemake's `--config` split into: which experiment set, its Jsonnet ext vars, field overrides.

Snakemake parses nested values (`'vars={budget: 64}'`) with YAML's BaseLoader, so every nested
scalar arrives as a string; numbers, booleans and null are turned back into what they spell.
"""

from __future__ import annotations

import json
from typing import Any

DEFAULT_EXPERIMENT = "config/default.jsonnet"


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


def split_snakemake_config(config: dict) -> tuple[str, dict, dict]:
    """(experiment path, ext vars, overrides of the rendered config's fields)."""
    experiment = config.get("experiment", DEFAULT_EXPERIMENT)
    ext_vars = typed(config.get("vars") or {})
    overrides = {k: typed(v) for k, v in config.items() if k not in ("experiment", "vars")}
    return experiment, ext_vars, overrides
