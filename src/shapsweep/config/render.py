"""Render a Jsonnet experiment set to plain JSON data (config/lib is on the import path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import _jsonnet

from shapsweep.errors import ConfigError

# config/ of the repository (the package is installed editable from src/).
CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"
LIB_DIR = CONFIG_DIR / "lib"


def render(path: str | Path, ext_vars: dict[str, Any] | None = None) -> dict:
    """Evaluate a .jsonnet file with external variables (`std.extVar`).

    Values that are not strings go in as JSON code; so do strings that parse as a JSON number,
    boolean, list or object (`--config 'vars={budget: 64}'` reaches us as the string "64").
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{str(path)!r}: no such experiment-set file (relative paths are read from {Path.cwd()})")
    strings, codes = {}, {}
    for name, value in (ext_vars or {}).items():
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                parsed = value
            if isinstance(parsed, str) or parsed is None:
                strings[name] = value
            else:
                codes[name] = value
        else:
            codes[name] = json.dumps(value)
    try:
        text = _jsonnet.evaluate_file(
            str(path), jpathdir=[str(path.parent / "lib"), str(LIB_DIR)], ext_vars=strings, ext_codes=codes
        )
    except RuntimeError as exc:  # _jsonnet reports syntax and runtime errors this way
        raise ConfigError(f"{path}: Jsonnet error: {exc}") from None
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must evaluate to an object, got {type(data).__name__}")
    return data
