"""`leverage`: Leverage SHAP, KernelSHAP's regression with rows sampled by leverage score.

What: the same constrained regression as `kernel`, sampled differently.
Idea: the leverage scores of the Shapley-kernel regression are equal for every coalition *size*, so
each size gets the same share of the budget (instead of the kernel's U-shaped share), again paired and
without replacement; rows are reweighted by their inverse sampling fraction. Sandwich standard errors.
Reference: Musco & Witter, "Provably accurate Shapley value estimation via leverage score sampling",
ICLR 2025.
"""

from __future__ import annotations

import numpy as np

from .base import Method
from .game_batching import BudgetedGame
from .kernel import paired_regression


def leverage(game: BudgetedGame, n: int, rng: np.random.Generator, *, target_stderr: float | None = None):
    return paired_regression(game, n, rng, "leverage", target_stderr)


METHOD = Method.declare(
    "leverage",
    leverage,
    lambda n: min(4, 2**n),
    "Leverage SHAP, paired, without replacement, sandwich standard errors",
    rounds=True,
)
