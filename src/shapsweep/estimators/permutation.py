"""Antithetic permutation sampling: each permutation is paired with its reverse.

Marginal contributions along a permutation telescope to v(N) - v(empty), so efficiency holds exactly.
The reversed permutation's prefixes are the complements of the forward prefixes, which makes the two
walks negatively correlated. A pair's mean is one sample per player, giving the standard error.
"""

from __future__ import annotations

import numpy as np

from .game_batching import BudgetedGame


def _prefix_matrix(order: np.ndarray) -> np.ndarray:
    """(n+1, n) coalitions: row k holds the first k players of `order`."""
    n = len(order)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank[None, :] < np.arange(n + 1)[:, None]


def _marginals(game: BudgetedGame, order: np.ndarray) -> np.ndarray:
    values = game(_prefix_matrix(order))
    contrib = np.empty(len(order))
    contrib[order] = np.diff(values)
    return contrib


def permutation(game: BudgetedGame, n: int, rng: np.random.Generator):
    game(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    samples = []
    # Bounded: once every coalition is cached (small n) pairs cost nothing, so stop after `budget` pairs.
    for _ in range(game.budget):
        order = rng.permutation(n)
        rows = np.vstack([_prefix_matrix(order), _prefix_matrix(order[::-1])])
        if game.count_new(rows) > game.remaining:
            break
        samples.append(0.5 * (_marginals(game, order) + _marginals(game, order[::-1])))
        if game.remaining == 0:
            break
    phi_samples = np.array(samples)
    stderr = phi_samples.std(axis=0, ddof=1) / np.sqrt(len(samples)) if len(samples) > 1 else None
    return phi_samples.mean(axis=0), stderr
