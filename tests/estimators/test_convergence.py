"""Every sampling method gets closer to exact as the budget grows, and is exact when it covers all coalitions."""

import numpy as np
import pytest
from estimator_games import SoumGame

from shapsweep.estimators import METHODS, estimate

# mc targets the Banzhaf value and hierarchical is a coarse approximation: neither converges to Shapley.
SAMPLED = [m for m in METHODS if m not in ("exact", "random", "mc", "hierarchical")]
EXACT_AT_FULL_BUDGET = ["kernel", "leverage", "complementary", "neyman"]


def _median_error(method, n, budget, games):
    errors = []
    for seed, game in enumerate(games):
        truth = estimate(game, n, "exact").values
        r = estimate(game, n, method, budget=budget, seed=seed)
        errors.append(np.linalg.norm(r.values - truth) / np.linalg.norm(truth))
    return float(np.median(errors))


@pytest.mark.parametrize("method", SAMPLED)
def test_error_decreases_with_budget(method):
    n = 10
    games = [SoumGame(n, 25, np.random.default_rng(100 + k)) for k in range(7)]
    errors = [_median_error(method, n, b, games) for b in (3 * n, 12 * n, 60 * n)]
    assert errors[0] > errors[1] > errors[2], errors


@pytest.mark.parametrize("method", EXACT_AT_FULL_BUDGET)
def test_full_budget_reaches_exact(method):
    n = 8
    game = SoumGame(n, 20, np.random.default_rng(9))
    r = estimate(game, n, method, budget=2**n, seed=0)
    np.testing.assert_allclose(r.values, game.shapley(), atol=1e-9)
    assert r.n_evals == 2**n
