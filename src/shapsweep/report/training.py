"""The training-attribution views of path_kernel runs, drawn as tables and inline SVG (no script).

Row page: which training examples, parameter groups and update steps moved the row's value (ranked bars, a
step curve). Run page: where in the model and when in training the run's rows moved (the mean component ×
step heatmap), the training examples most often among a row's top ones, and a sanity figure (the examples
labelled with the row's target class against the others).

The example scores are the run's attributions (players = training data groups); the rest are the shard's
path_kernel columns (file_schemas.PATH_KERNEL_COLUMNS).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import polars as pl

from shapsweep.report.colour import DivergingScale

TOP_BARS = 10  # examples and components listed per row (largest |score| first)
CURVE_WIDTH, CURVE_HEIGHT = 320, 80  # the step curve's SVG box, px
HEATMAP_STEP_COLUMNS = 48  # a longer window is shown in this many consecutive step bins (summed)
HEATMAP_COMPONENTS = 40  # components listed on the run page (largest mean |score| first)
TOP_K = 10  # a row's top examples, for "most often in the top k"
FREQUENT_EXAMPLES = 20  # examples listed by how often they are in a row's top k
SCATTER_POINTS, SCATTER_SIZE = 500, 220  # the sanity scatter: at most this many rows, in a square of px


def _bars(names: list[str], values: list[float]) -> list[dict[str, Any]]:
    """The TOP_BARS largest |values| as bars: width in % of the largest, colour by sign and size."""
    scale = DivergingScale.for_values(values)
    ranked = sorted(zip(names, values, strict=True), key=lambda nv: -abs(nv[1]))[:TOP_BARS]
    largest = max((abs(v) for _, v in ranked), default=0.0) or 1.0
    return [
        {"name": name, "value": value, "width": 100 * abs(value) / largest, "colour": scale.colour(value)}
        for name, value in ranked
    ]


def _curve(steps: list[int], totals: list[float]) -> dict[str, Any]:
    """The value's cumulative change over the explained steps, as SVG polyline points."""
    cumulative, running = [0.0], 0.0
    for total in totals:
        running += total
        cumulative.append(running)
    low, high = min(cumulative), max(cumulative)
    span = (high - low) or 1.0
    points = " ".join(
        f"{CURVE_WIDTH * k / (len(cumulative) - 1):.1f},{CURVE_HEIGHT * (high - c) / span:.1f}"
        for k, c in enumerate(cumulative)
    )
    return {
        "points": points,
        "width": CURVE_WIDTH,
        "height": CURVE_HEIGHT,
        "first": steps[0],
        "last": steps[-1],
        "change": running,
        "low": low,
        "high": high,
    }


def training_view(row: dict[str, Any]) -> dict[str, Any] | None:
    """Template data for a path_kernel run's row, or None for any other row."""
    components, scores = row.get("components"), row.get("component_scores")
    if not components or not scores:
        return None
    steps, totals = row.get("trace_steps") or [], row.get("step_totals") or []
    return {
        "examples": _bars(list(row["players"] or []), list(row["attribution"] or [])),
        "n_examples": len(row["players"] or []),
        "components": _bars(list(components), list(scores)),
        "n_components": len(components),
        "curve": _curve(list(steps), list(totals)) if len(steps) == len(totals) and totals else None,
    }


def _step_bins(steps: list[int], columns: int) -> list[tuple[int, int, str]]:
    """Consecutive [start, end) index ranges over the steps, at most `columns` of them, with labels."""
    edges = np.linspace(0, len(steps), min(columns, len(steps)) + 1).round().astype(int)
    bins = []
    for a, b in itertools.pairwise(edges):
        label = str(steps[a]) if b - a == 1 else f"{steps[a]}–{steps[b - 1]}"
        bins.append((int(a), int(b), label))
    return bins


def _component_step_heatmap(ok: pl.DataFrame) -> dict[str, Any] | None:
    """The rows' mean component × step scores (steps binned), the components with the largest mean |score|."""
    first = ok.row(0, named=True)
    components, steps = list(first["components"] or []), list(first["trace_steps"] or [])
    if not components or not steps:
        return None
    same = ok.filter(
        (pl.col("components") == pl.lit(components, dtype=pl.List(pl.Utf8)))
        & (pl.col("trace_steps") == pl.lit(steps, dtype=pl.List(pl.Int64)))
    )
    cells = same.select(pl.col("component_step_scores").explode().explode()).to_series().to_numpy()
    mean = cells.reshape(same.height, len(components), len(steps)).mean(axis=0)
    bins = _step_bins(steps, HEATMAP_STEP_COLUMNS)
    binned = np.stack([mean[:, a:b].sum(axis=1) for a, b, _ in bins], axis=1)
    order = np.argsort(-np.abs(binned).sum(axis=1), kind="stable")[:HEATMAP_COMPONENTS]
    scale = DivergingScale.for_values(binned[order].ravel().tolist())
    return {
        "steps": [label for _, _, label in bins],
        "rows": [
            {
                "name": components[c],
                "total": float(binned[c].sum()),
                "cells": [{"value": float(v), "colour": scale.colour(float(v))} for v in binned[c]],
            }
            for c in order
        ],
        "n_components": len(components),
        "n_rows": same.height,
    }


def _frequent_examples(ok: pl.DataFrame) -> list[dict[str, Any]]:
    """The examples most often among a row's TOP_K by |score|: how often, and their mean score there."""
    tops = (
        ok.select("players", "attribution")
        .with_columns(
            order=pl.col("attribution").list.eval(pl.element().abs().arg_sort(descending=True)).list.head(TOP_K)
        )
        .select(pl.col("players").list.gather(pl.col("order")), pl.col("attribution").list.gather(pl.col("order")))
        .explode("players", "attribution")
        .group_by("players")
        .agg(count=pl.len(), mean=pl.col("attribution").mean())
        .sort(["count", "players"], descending=[True, False])
        .head(FREQUENT_EXAMPLES)
    )
    scale = DivergingScale.for_values(tops["mean"].to_list())
    return [
        {"name": r["players"], "count": r["count"], "mean": r["mean"], "colour": scale.colour(r["mean"])}
        for r in tops.iter_rows(named=True)
    ]


def _label_sanity(ok: pl.DataFrame) -> dict[str, Any] | None:
    """Per row, the target class's examples' mean score against the others': means, share of rows where
    they score higher, and a scatter (others on x, same label on y, the diagonal drawn)."""
    pairs = ok.filter(pl.col("same_label_mean").is_not_null() & pl.col("other_label_mean").is_not_null())
    if not pairs.height:
        return None
    same, other = pairs["same_label_mean"].to_numpy(), pairs["other_label_mean"].to_numpy()
    shown_same, shown_other = same[:SCATTER_POINTS], other[:SCATTER_POINTS]
    low = float(min(shown_same.min(), shown_other.min()))
    high = float(max(shown_same.max(), shown_other.max()))
    span = (high - low) or 1.0

    def px(v: float, flip: bool = False) -> float:
        t = (v - low) / span
        return round(SCATTER_SIZE * (1 - t if flip else t), 1)

    return {
        "rows": pairs.height,
        "same": float(same.mean()),
        "other": float(other.mean()),
        "higher": float((same > other).mean()),
        "points": [{"x": px(o), "y": px(s, flip=True)} for s, o in zip(shown_same, shown_other, strict=True)],
        "shown": len(shown_same),
        "size": SCATTER_SIZE,
        "low": low,
        "high": high,
    }


def training_run_view(rows: pl.DataFrame) -> dict[str, Any] | None:
    """Template data for a path_kernel run's page from all its rows, or None for any other run."""
    if "component_step_scores" not in rows.columns:
        return None
    ok = rows.filter((pl.col("status") == "ok") & pl.col("component_step_scores").is_not_null())
    if not ok.height:
        return None
    return {
        "heatmap": _component_step_heatmap(ok),
        "frequent": _frequent_examples(ok),
        "top_k": TOP_K,
        "n_rows": ok.height,
        "sanity": _label_sanity(ok),
    }
