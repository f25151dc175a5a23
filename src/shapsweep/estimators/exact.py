"""`exact`: Shapley (or Banzhaf) values from all 2^n coalitions, as one weighted matrix product.

What: the definition, phi = W^T v, where row S of W holds, for player i, w(|S|-1) if i in S and
-w(|S|) otherwise, with w(s) = s! (n-s-1)! / n!.
Banzhaf (`index='banzhaf'`): phi_i = 2^-(n-1) sum_S v(S) (+1 if i in S else -1), every marginal
contribution weighted equally.
Idea: the empty coalition is a real row (code 0) whose value is looked up like any other, never
assumed. Standard errors are zero: nothing is sampled.
Reference: Shapley, "A value for n-person games", 1953; Banzhaf, "Weighted voting doesn't work", 1965.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from .base import Method
from .game_batching import BudgetedGame
from .result import MethodOutput

DEFAULT_MAX_PLAYERS = 20


def all_coalitions(n: int) -> np.ndarray:
    """(2^n, n) boolean matrix; row c is the coalition whose bit i of c is player i."""
    codes = np.arange(2**n, dtype=np.int64)
    return ((codes[:, None] >> np.arange(n, dtype=np.int64)) & 1).astype(bool)


def shapley_weights(n: int) -> np.ndarray:
    """w(s) = s!(n-s-1)!/n! for s = 0..n-1 (weight of a marginal contribution to a coalition of size s)."""
    s = np.arange(n)
    return np.exp(gammaln(s + 1) + gammaln(n - s) - gammaln(n + 1))


def shapley_from_all_values(values: np.ndarray, n: int, coalitions: np.ndarray | None = None) -> np.ndarray:
    """Shapley values of a game given as v over all_coalitions(n) order."""
    z = all_coalitions(n) if coalitions is None else coalitions
    size = z.sum(axis=1)
    w = shapley_weights(n)
    w_in = np.where(size > 0, w[np.clip(size - 1, 0, n - 1)], 0.0)  # weight when i is in S
    w_out = np.where(size < n, w[np.clip(size, 0, n - 1)], 0.0)  # weight when i is not in S
    # (W^T v)_i = sum_S v(S) (w_in[S] if i in S else -w_out[S]); split to avoid building W.
    return z.T.astype(np.float64) @ (values * (w_in + w_out)) - (values * w_out).sum()


def banzhaf_from_all_values(values: np.ndarray, n: int, coalitions: np.ndarray | None = None) -> np.ndarray:
    """Banzhaf values of a game given as v over all_coalitions(n) order."""
    z = all_coalitions(n) if coalitions is None else coalitions
    return (2.0 * (z.T.astype(np.float64) @ values) - values.sum()) / 2.0 ** (n - 1)


def exact(
    game: BudgetedGame,
    n: int,
    rng: np.random.Generator,
    *,
    max_players: int = DEFAULT_MAX_PLAYERS,
    index: str = "shapley",
):
    if n > max_players:
        raise ValueError(
            f"method 'exact' needs 2^{n} = {2**n} coalitions for {n} players, over max_players={max_players}; "
            "use a sampling method (e.g. method='kernel') or raise max_players"
        )
    z = all_coalitions(n)
    values = np.empty(len(z))
    ends = game(z[[0, -1]])  # empty and full are already cached by `estimate`
    values[0], values[-1] = ends
    values[1:-1] = game.evaluate_new_distinct(z[1:-1])
    game.table = values  # the uncached rows, for interaction indices from the same evaluations
    of = banzhaf_from_all_values if index == "banzhaf" else shapley_from_all_values
    return MethodOutput(of(values, n, z), np.zeros(n), {})


METHOD = Method.declare(
    "exact", exact, lambda n: 2**n, "all 2^n coalitions (n <= max_players)", indices=("shapley", "banzhaf")
)
