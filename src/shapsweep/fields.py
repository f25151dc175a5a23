"""Config fields declared once: each layer lists the fields of its blocks, and everything else is derived.

A `Field` carries its JSON Schema fragment, its default and a one-line description. From a block's
fields come its defaults (what the layer fills in), its schema with defaults (config/schema.json), its
override schema (the same without defaults, for a variant's partial block) and its reference entry
(docs/config.md). A leaf module: it imports nothing of shapsweep.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class Field:
    name: str
    schema: dict[str, Any]
    default: Any = NO_DEFAULT
    description: str = ""

    @property
    def choices(self) -> tuple:
        """The allowed values of an enum field (empty for any other field)."""
        return tuple(self.schema.get("enum", ()))


def enum(values: Iterable[Any]) -> dict[str, Any]:
    return {"enum": list(values)}


def nullable(type_name: str, **more: Any) -> dict[str, Any]:
    return {"type": [type_name, "null"], **more}


POSITIVE_INT = {"type": "integer", "minimum": 1}
TEXT = {"type": "string", "minLength": 1}


def defaults(fields: Sequence[Field]) -> dict[str, Any]:
    """{name: default} of the fields that have one (deep copies: callers may mutate them)."""
    return {f.name: copy.deepcopy(f.default) for f in fields if f.default is not NO_DEFAULT}


def field_named(fields: Sequence[Field], name: str) -> Field:
    for f in fields:
        if f.name == name:
            return f
    raise KeyError(name)


def property_schema(f: Field, with_default: bool = True) -> dict[str, Any]:
    out = copy.deepcopy(f.schema)
    if f.description:
        out["description"] = f.description
    if with_default and f.default is not NO_DEFAULT:
        out["default"] = copy.deepcopy(f.default)
    return out


def object_schema(
    fields: Sequence[Field],
    *,
    with_defaults: bool = True,
    required: Sequence[str] = (),
    description: str = "",
    **more: Any,
) -> dict[str, Any]:
    """A closed object schema (unknown fields are errors) over `fields`."""
    out: dict[str, Any] = {"type": "object"}
    if description:
        out["description"] = description
    out["additionalProperties"] = False
    out["properties"] = {f.name: property_schema(f, with_defaults) for f in fields}
    out["required"] = list(required)
    out.update(more)
    return out
