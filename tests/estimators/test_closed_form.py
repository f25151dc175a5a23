"""Exact and sampling estimators on games whose Shapley values are known in closed form."""

import numpy as np
import pytest
from estimator_games import AdditiveGame, SoumGame, WeightedVotingGame, brute_force_shapley

from shapsweep.estimators import estimate

SAMPLING = ["kernel", "leverage", "permutation"]


def test_exact_additive_game_gives_the_weights():
    game = AdditiveGame([0.5, -1.0, 2.0, 0.0, 3.5], offset=7.0)
    r = estimate(game, 5, "exact")
    np.testing.assert_allclose(r.values, game.shapley(), atol=1e-12)
    assert r.v_empty == 7.0 and r.v_full == pytest.approx(12.0)


@pytest.mark.parametrize("n", [3, 8, 12])
def test_exact_soum_game_matches_the_unanimity_formula(n):
    game = SoumGame(n, 3 * n, np.random.default_rng(n), offset=-0.3)
    r = estimate(game, n, "exact")
    np.testing.assert_allclose(r.values, game.shapley(), atol=1e-9)


@pytest.mark.parametrize("weights,quota", [([4, 3, 2, 1], 6), ([5, 1, 1, 1, 1, 1, 1], 6), ([2, 2, 3, 3, 1, 4], 8)])
def test_exact_weighted_voting_matches_brute_force_over_permutations(weights, quota):
    game = WeightedVotingGame(weights, quota)
    n = len(weights)
    np.testing.assert_allclose(estimate(game, n, "exact").values, brute_force_shapley(game, n), atol=1e-12)


def test_exact_does_not_assume_a_zero_empty_coalition():
    # MLLM-SHAP pitfall: drop the empty mask from generation, then look up a wrong v(empty).
    game = AdditiveGame([1.0, 2.0, 3.0], offset=100.0)
    r = estimate(game, 3, "exact")
    np.testing.assert_allclose(r.values, [1.0, 2.0, 3.0], atol=1e-12)
    assert r.v_empty == 100.0


@pytest.mark.parametrize("method", SAMPLING)
def test_sampling_methods_are_exact_on_additive_games(method):
    # An additive game is linear in the coalition indicators: regression recovers it from few rows,
    # and every permutation's marginal contributions equal the weights.
    game = AdditiveGame(np.arange(1.0, 9.0), offset=2.0)
    r = estimate(game, 8, method, budget=40, seed=3)
    np.testing.assert_allclose(r.values, game.shapley(), atol=1e-9)
