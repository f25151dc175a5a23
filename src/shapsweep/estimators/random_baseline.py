"""A seeded non-explanation: random attributions at the game's scale, the floor for faithfulness metrics."""

from __future__ import annotations

import numpy as np

from .base import Method
from .game_batching import BudgetedGame
from .result import MethodOutput


def random_baseline(game: BudgetedGame, n: int, rng: np.random.Generator):
    v_empty, v_full = game(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    spread = abs(v_full - v_empty) or 1.0
    # Scaled so that a typical value has the size of an even share of v(full) - v(empty).
    values = rng.standard_normal(n) * spread / np.sqrt(n)
    return MethodOutput(values, None, {"unspent_reason": "a baseline: evaluates only the empty and full coalitions"})


METHOD = Method.declare(
    "random", random_baseline, lambda n: 2, "seeded random baseline (not an estimator), floor of metrics"
)
