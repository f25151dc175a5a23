"""Validate configs against the experiment-set schema; errors name the failing path in the user's terms.

The schema is built from the fields each layer declares (config/blocks.py); config/schema.json is the
same schema written out by `shapsweep schema --write`.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import jsonschema

from shapsweep.config.blocks import build_schema
from shapsweep.config.render import CONFIG_DIR
from shapsweep.errors import ConfigError

SCHEMA_PATH = CONFIG_DIR / "schema.json"


@functools.cache
def load_schema() -> dict:
    return build_schema()


@functools.cache
def _cached_validator(subschema_json: str | None) -> jsonschema.protocols.Validator:
    root = load_schema()
    schema = root if subschema_json is None else {**json.loads(subschema_json), "$defs": root["$defs"]}
    return jsonschema.Draft202012Validator(schema)


def _validator(subschema: dict | None = None) -> jsonschema.protocols.Validator:
    return _cached_validator(None if subschema is None else json.dumps(subschema, sort_keys=True))


def format_path(parts: list | tuple) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


def _message(err: jsonschema.ValidationError) -> tuple[list, str]:
    """Path and a plain-words message for one schema error."""
    path = list(err.absolute_path)
    v, schema = err.validator, err.schema
    if v == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = [k for k in err.instance if k not in schema.get("properties", {})]
        return path + [extra[0]], f"unknown field (allowed here: {', '.join(allowed)})"
    if v == "required":
        missing = err.message.split("'")[1]
        return path + [missing], "required field is missing"
    if v in ("minimum", "exclusiveMinimum") and "integer" in str(schema.get("type")) and err.validator_value == 1:
        return path, f"must be a positive integer (got {err.instance!r})"
    if v in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        word = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[v]
        return path, f"must be {word} {err.validator_value} (got {err.instance!r})"
    if v == "type":
        types = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
        if "integer" in types and schema.get("minimum") == 1:
            words = "a positive integer" + (" or null" if "null" in types else "")
        return path, f"must be {words} (got {json.dumps(err.instance)})"
    if v == "enum":
        return (
            path,
            f"must be one of {', '.join(map(json.dumps, err.validator_value))} (got {json.dumps(err.instance)})",
        )
    if v == "pattern":
        return path, f"must match {err.validator_value} (got {err.instance!r})"
    if v == "minItems":
        return path, f"needs at least {err.validator_value} item(s)"
    if v == "minLength":
        return path, "must not be empty"
    if v == "propertyNames":
        return path, f"bad key {err.instance!r}: {err.message}"
    return path, err.message


def validate(instance: Any, subschema: dict | None = None, prefix: str = "") -> None:
    """Raise ConfigError listing every problem, each as `path: message` (prefix prepended to paths)."""
    errors = sorted(_validator(subschema).iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    lines = []
    for err in errors:
        # anyOf/oneOf: report the branch that got furthest, else the summary
        if err.context:
            err = max(err.context, key=lambda e: len(e.absolute_path))
        path, msg = _message(err)
        full = prefix + ("." if prefix and path and not isinstance(path[0], int) else "") + format_path(path)
        lines.append(f"{full or '(top level)'}: {msg}")
    raise ConfigError("\n".join(dict.fromkeys(lines)))


def block_schema(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


def _resolve(schema: dict) -> dict:
    ref = schema.get("$ref")
    if ref:
        return load_schema()["$defs"][ref.rsplit("/", 1)[1]]
    return schema


def fill_defaults(instance: dict, schema: dict | None = None) -> dict:
    """A copy of `instance` with every missing property that has a schema `default` filled in, recursively."""
    schema = _resolve(schema if schema is not None else load_schema())
    out = copy.deepcopy(instance)
    for key, prop in schema.get("properties", {}).items():
        if key not in out and "default" in prop:
            out[key] = copy.deepcopy(prop["default"])
        sub = _resolve(prop)
        if key in out and isinstance(out[key], dict) and sub.get("type") == "object" and "properties" in sub:
            out[key] = fill_defaults(out[key], sub)
    return out
