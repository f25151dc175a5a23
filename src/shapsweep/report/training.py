"""The row page's training-attribution view (path_kernel runs): which training examples, parameter groups
and update steps moved the row's value, as ranked bars and a step curve drawn as inline SVG (no script).

The example scores are the run's attributions (players = training data groups); the component scores and
the per-step totals are the shard's `component_scores` and `step_totals` (file_schemas.SHARD_SCHEMA).
"""

from __future__ import annotations

from typing import Any

from shapsweep.report.colour import DivergingScale

TOP_BARS = 10  # examples and components listed per row (largest |score| first)
CURVE_WIDTH, CURVE_HEIGHT = 320, 80  # the step curve's SVG box, px


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
