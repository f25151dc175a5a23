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
    pairs = list(zip(row["interaction_i"], row["interaction_j"], values, strict=True))
    scale = DivergingScale.for_values(values)
    grid = [[None] * len(players) for _ in players]
    for i, j, v in pairs:
        cell = {"value": v, "colour": scale.colour(v), "text_colour": scale.text_colour(v)}
        grid[i][j] = grid[j][i] = cell
    words = [
        f"'{players[i]}' and '{players[j]}' {'raise' if v > 0 else 'lower'} the value together by {abs(v):.3g} "
        "beyond their separate effects"
        for i, j, v in pairs
    ]
    return {"index": row.get("interaction_index"), "players": players, "grid": grid, "words": words, "scale": scale}
