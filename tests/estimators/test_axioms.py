"""Shapley axioms on random games: efficiency, symmetry, null player."""

import numpy as np
import pytest
from estimator_games import random_table_game

from shapsweep.estimators import estimate

EFFICIENT = ["exact", "kernel", "leverage", "permutation", "regression_adjusted"]


@pytest.mark.parametrize("method", EFFICIENT)
def test_efficiency(method):
    n = 9
    game = random_table_game(n, np.random.default_rng(0))
    r = estimate(game, n, method, budget=None if method == "exact" else 120, seed=1)
    # Against the game itself, not only the estimator's own report of v(full) and v(empty).
    full, empty = game(np.array([[True] * n, [False] * n]))
    assert (r.v_full, r.v_empty) == (full, empty)
    assert abs(r.values.sum() - (full - empty)) < 1e-9


def _game_with_symmetric_and_null_players(n, rng):
    """Players 0 and 1 are interchangeable, player n-1 never changes the value."""
    table = rng.normal(size=2**n)
    powers = 1 << np.arange(n)

    def game(z):
        z = np.asarray(z, bool).copy()
        z[:, n - 1] = False  # null player
        swapped = z.copy()
        swapped[:, [0, 1]] = z[:, [1, 0]]
        return table[z @ powers] + table[swapped @ powers]  # symmetric in players 0 and 1

    return game


def test_exact_symmetry_and_null_player():
    n = 8
    game = _game_with_symmetric_and_null_players(n, np.random.default_rng(5))
    phi = estimate(game, n, "exact").values
    assert phi[0] == pytest.approx(phi[1], abs=1e-12)
    assert phi[n - 1] == pytest.approx(0.0, abs=1e-12)
    assert abs(phi[0]) > 1e-3  # the game is not trivial


@pytest.mark.parametrize("method", ["permutation"])
def test_permutation_gives_a_null_player_exactly_zero(method):
    n = 8
    game = _game_with_symmetric_and_null_players(n, np.random.default_rng(6))
    assert estimate(game, n, method, budget=100, seed=0).values[n - 1] == 0.0
