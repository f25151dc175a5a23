"""`permutation`: antithetic permutation sampling, each permutation paired with its reverse.

What: the mean marginal contribution of each player over random orders of the players.
Idea: marginal contributions along a permutation telescope to v(N) - v(empty), so efficiency holds
exactly. The reversed permutation's prefixes are the complements of the forward prefixes, which makes
the two walks negatively correlated. A pair's mean is one sample per player, giving the standard
error. A pair costs n - 1 new coalitions, so up to n - 2 of the budget can be left unspent.
Reference: Castro, Gomez & Tejada, "Polynomial calculation of the Shapley value based on sampling",
Computers & Operations Research 2009; Mitchell et al., "Sampling permutations for Shapley value
estimation", JMLR 2022 (antithetic pairs).
"""

from __future__ import annotations

import numpy as np

from .base import Method
from .game_batching import BudgetedGame
from .result import MethodOutput
from .rounds import interval_scale, reached, round_budgets


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


def _stderr(samples: list[np.ndarray]) -> np.ndarray | None:
    if len(samples) < 2:
        return None
    k = len(samples)
    return interval_scale(k - 1) * np.array(samples).std(axis=0, ddof=1) / np.sqrt(k)


def permutation(game: BudgetedGame, n: int, rng: np.random.Generator, *, target_stderr: float | None = None):
    game(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    samples: list[np.ndarray] = []
    rounds = 0
    stopped = False
    # Bounded: once every coalition is cached (small n) pairs cost nothing, so stop after `budget` pairs.
    for cap in round_budgets(n, game.budget, target_stderr):
        rounds += 1
        while len(samples) < game.budget:
            order = rng.permutation(n)
            rows = np.vstack([_prefix_matrix(order), _prefix_matrix(order[::-1])])
            if game.n_evals + game.count_new(rows) > cap:
                break
            samples.append(0.5 * (_marginals(game, order) + _marginals(game, order[::-1])))
            if game.remaining == 0:
                break
        if reached(_stderr(samples), target_stderr):
            stopped = True
            break
    details = {"rounds": rounds}
    if not stopped and game.remaining > 0 and len(samples) < game.budget:
        details["unspent_reason"] = (
            f"an antithetic permutation pair costs up to {n - 1} new coalitions; {game.remaining} left could not buy one"
        )
    return MethodOutput(np.array(samples).mean(axis=0), _stderr(samples), details)


METHOD = Method.declare(
    "permutation",
    permutation,
    lambda n: 2 * n,
    "antithetic permutation sampling with standard errors",
    rounds=True,
)
