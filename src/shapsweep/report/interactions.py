"""The row page's interaction view: a players x players heatmap of a row's kept pairs, and the pairs in words.

Only the top-k pairs a shard row keeps (shap.interactions.top_k) are drawn; the other cells stay blank,
so an empty cell means "not among the strongest pairs", not zero. One colour scale per run section.
"""

from __future__ import annotations

from typing import Any

from shapsweep.report.colour import DivergingScale


def interaction_view(row: dict[str, Any]) -> dict[str, Any] | None:
    """Template data for one run's row, or None when the row kept no interaction pairs."""
    values = row.get("interaction_value")
    if not values:
        return None
    players = list(row["players"] or [])
    stderrs = row.get("interaction_stderr") or [None] * len(values)
    pairs = list(zip(row["interaction_i"], row["interaction_j"], values, stderrs, strict=True))
    scale = DivergingScale.for_values(values)
    grid = [[None] * len(players) for _ in players]
    for i, j, v, se in pairs:
        cell = {"value": v, "stderr": se, "colour": scale.colour(v), "text_colour": scale.text_colour(v)}
        grid[i][j] = grid[j][i] = cell
    return {
        "index": row.get("interaction_index"),
        "players": players,
        "grid": grid,
        "words": [_in_words(players[i], players[j], v, se) for i, j, v, se in pairs],
        "scale": scale,
    }


def _in_words(a: str, b: str, value: float, stderr: float | None) -> str:
    """One pair in words, with its standard error and whether its 95% interval leaves out zero."""
    direction = "raise" if value > 0 else "lower"
    text = f"'{a}' and '{b}' {direction} the value together by {abs(value):.3g} beyond their separate effects"
    if stderr is None:
        return text
    verdict = "told apart from zero" if abs(value) > 1.96 * stderr else "not told apart from zero"
    return f"{text} (standard error {stderr:.2g}: {verdict} at 95%)"
