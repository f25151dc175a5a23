"""Leverage SHAP (Musco & Witter, ICLR 2025): KernelSHAP's regression, rows sampled by leverage score.

The leverage scores of the Shapley-kernel regression are equal for every coalition *size*, so each
size gets the same share of the budget (instead of the kernel's U-shaped share), again paired and
without replacement; rows are reweighted by their inverse sampling fraction.
"""

from __future__ import annotations

import numpy as np

from .game_batching import BudgetedGame
from .paired_design import constrained_wls, sample_pairs


def leverage(game: BudgetedGame, n: int, rng: np.random.Generator):
    v_empty, v_full = game(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    design = sample_pairs(n, game.remaining, rng, mass="leverage")
    y = game(design.coalitions)
    return constrained_wls(design.coalitions, y, design.weights, v_empty, v_full), None
