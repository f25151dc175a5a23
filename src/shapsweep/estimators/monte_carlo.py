"""`mc`: MLLM-SHAP's Monte Carlo estimator, kept for parity with that package.

phi_i = mean v(S) over evaluated S containing i  -  mean v(S) over evaluated S without i, with S drawn
uniformly (Bernoulli(1/2) per player), distinct, empty and full included. Note: this targets the
*Banzhaf* value, not the Shapley value (they coincide only for games without interactions); the
estimator does not enforce efficiency. `variant='limited'` evaluates the n leave-one-out coalitions
N\\{i} first, as MLLM-SHAP's limited explainer does. Standard errors: those of a difference of two
sample means (the coalitions are distinct, so this slightly overstates them).
Reference: MLLM-SHAP (its Monte Carlo explainer); Banzhaf, "Weighted voting doesn't work", 1965.
"""

from __future__ import annotations

import numpy as np

from .base import Method
from .game_batching import BudgetedGame
from .result import MethodOutput

VARIANTS = ("standard", "limited")


def draw_new_uniform(game: BudgetedGame, n: int, k: int, rng: np.random.Generator, taken: set[bytes]) -> np.ndarray:
    """k uniform coalitions not evaluated yet (fewer if fewer remain)."""
    rows = []
    left = 2**n - len(taken) if n < 63 else k
    k = min(k, left)
    while len(rows) < k:
        batch = rng.random((2 * (k - len(rows)) + 8, n)) < 0.5
        for row, key in zip(batch, np.packbits(batch, axis=1)):
            key = key.tobytes()
            if key not in taken:
                taken.add(key)
                rows.append(row)
                if len(rows) == k:
                    break
    return np.array(rows, dtype=bool).reshape(-1, n)


def mc(game: BudgetedGame, n: int, rng: np.random.Generator, *, variant: str = "standard"):
    if variant not in VARIANTS:
        raise ValueError(f"option variant={variant!r} is not valid for method 'mc'; valid: {', '.join(VARIANTS)}")
    coalitions = [np.zeros((1, n), bool), np.ones((1, n), bool)]
    if variant == "limited":
        coalitions.append(~np.eye(n, dtype=bool)[: max(0, game.remaining)])
    first = np.vstack(coalitions)
    taken = {key.tobytes() for key in np.packbits(first, axis=1)}
    z = np.vstack([first, draw_new_uniform(game, n, game.budget - len(taken), rng, taken)])
    v = game(z)
    inside = z.sum(axis=0)
    outside = len(z) - inside
    mean_in = np.where(inside > 0, (z * v[:, None]).sum(axis=0) / np.maximum(inside, 1), 0.0)
    mean_out = np.where(outside > 0, (~z * v[:, None]).sum(axis=0) / np.maximum(outside, 1), 0.0)
    sq_in = (z * v[:, None] ** 2).sum(axis=0)
    sq_out = (~z * v[:, None] ** 2).sum(axis=0)
    var_in = np.where(inside > 1, (sq_in - inside * mean_in**2) / np.maximum(inside - 1, 1), 0.0)
    var_out = np.where(outside > 1, (sq_out - outside * mean_out**2) / np.maximum(outside - 1, 1), 0.0)
    stderr = np.sqrt(np.clip(var_in / np.maximum(inside, 1) + var_out / np.maximum(outside, 1), 0.0, None))
    details = {"target": "Banzhaf value"}
    if game.remaining > 0:
        details["unspent_reason"] = "every coalition is already evaluated"
    return MethodOutput(mean_in - mean_out, stderr, details)


METHOD = Method.declare(
    "mc",
    mc,
    lambda n: 2,
    "MLLM-SHAP Monte Carlo (Bernoulli(1/2); targets Banzhaf), standard | limited",
    indices=("banzhaf",),
)
