"""A seeded non-explanation: random attributions at the game's scale, the floor for faithfulness metrics."""

from __future__ import annotations

import numpy as np

from .game_batching import BudgetedGame


def random_baseline(game: BudgetedGame, n: int, rng: np.random.Generator):
    v_empty, v_full = game(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    spread = abs(v_full - v_empty) or 1.0
    # Scaled so that a typical value has the size of an even share of v(full) - v(empty).
    return rng.standard_normal(n) * spread / np.sqrt(n), None
