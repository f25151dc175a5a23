"""Sweep expansion: a variant's `grid`, `zip` and nested `group` become a list of concrete points.

A point is (overrides, params): `overrides` is a nested dict deep-merged onto the base config's
blocks, `params` maps each swept dotted path (`shap.budget`) to its value for this point.
- grid:  Cartesian product of its lists.
- zip:   lists of equal length taken in lock-step.
- group: a list of alternative sub-nodes (each may carry block overrides and its own
         grid/zip/group); their points are concatenated, then combined by product with the rest.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from shapsweep.errors import ConfigError

SWEEP_KEYS = ("grid", "zip", "group")
NODE_META_KEYS = ("name", "reference", "description")

Point = tuple[dict, dict]


def deep_merge(base: dict, override: dict) -> dict:
    """A new dict: `override` merged into `base` (dicts recursively, anything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def set_dotted(target: dict, dotted: str, value: Any) -> dict:
    """`{'shap': {'budget': 64}}` from ('shap.budget', 64), merged into a copy of target."""
    nested: Any = value
    for part in reversed(dotted.split(".")):
        nested = {part: nested}
    return deep_merge(target, nested)


def _grid_points(grid: dict, where: str) -> list[Point]:
    keys = list(grid)
    points = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        overrides: dict = {}
        for k, v in zip(keys, combo):
            overrides = set_dotted(overrides, k, v)
        points.append((overrides, dict(zip(keys, combo))))
    return points


def _zip_points(zipped: dict, where: str) -> list[Point]:
    lengths = {k: len(v) for k, v in zipped.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"{where}.zip: lists must have the same length, got {lengths}")
    keys = list(zipped)
    n = next(iter(lengths.values()), 0)
    points = []
    for i in range(n):
        overrides: dict = {}
        for k in keys:
            overrides = set_dotted(overrides, k, zipped[k][i])
        points.append((overrides, {k: zipped[k][i] for k in keys}))
    return points


def _product(left: list[Point], right: list[Point], where: str) -> list[Point]:
    out = []
    for (lo, lp), (ro, rp) in itertools.product(left, right):
        clash = set(lp) & set(rp)
        if clash:
            raise ConfigError(f"{where}: {sorted(clash)[0]!r} is swept twice (in two of grid/zip/group)")
        out.append((deep_merge(lo, ro), {**lp, **rp}))
    return out


def flatten(nested: dict, prefix: str = "") -> dict:
    """{'shap': {'method': 'exact'}} -> {'shap.method': 'exact'} (leaves only)."""
    out = {}
    for key, value in nested.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def expand_node(node: dict, where: str, alternative: bool = False) -> list[Point]:
    """All points of one variant or group alternative (its fixed block overrides included).

    A group alternative's fixed values count as swept parameters: they are what tells
    the alternatives apart in slugs and in the comparison table.
    """
    fixed = {k: v for k, v in node.items() if k not in SWEEP_KEYS and k not in NODE_META_KEYS}
    points: list[Point] = [(fixed, flatten(fixed) if alternative else {})]
    if "grid" in node:
        points = _product(points, _grid_points(node["grid"], where), f"{where}.grid")
    if "zip" in node:
        points = _product(points, _zip_points(node["zip"], where), f"{where}.zip")
    if "group" in node:
        alternatives: list[Point] = []
        for j, alt in enumerate(node["group"]):
            alternatives += expand_node(alt, f"{where}.group[{j}]", alternative=True)
        points = _product(points, alternatives, f"{where}.group")
    return points
