"""KernelSHAP: paired sampling without replacement, Shapley-kernel size allocation, efficiency exact."""

from __future__ import annotations

import numpy as np

from .game_batching import BudgetedGame
from .paired_design import constrained_wls, sample_pairs


def kernel(game: BudgetedGame, n: int, rng: np.random.Generator):
    v_empty, v_full = game(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    design = sample_pairs(n, game.remaining, rng, mass="kernel")
    y = game(design.coalitions)
    return constrained_wls(design.coalitions, y, design.weights, v_empty, v_full), None
