"""MLLM-SHAP parity methods: what each one targets, and their budgets and options."""

import numpy as np
import pytest
from estimator_games import AdditiveGame, CountingGame, SoumGame

from shapsweep.estimators import estimate
from shapsweep.estimators.exact import all_coalitions


def banzhaf(game, n):
    z = all_coalitions(n)
    v = game(z)
    return np.array([v[z[:, i]].mean() - v[~z[:, i]].mean() for i in range(n)])


@pytest.mark.parametrize("variant", ["standard", "limited"])
def test_mc_targets_the_banzhaf_value_and_reaches_it_at_full_budget(variant):
    n = 8
    game = SoumGame(n, 20, np.random.default_rng(2))
    r = estimate(game, n, "mc", budget=2**n, variant=variant)
    np.testing.assert_allclose(r.values, banzhaf(game, n), atol=1e-12)


def test_mc_limited_evaluates_leave_one_out_coalitions_first():
    n = 6
    counting = CountingGame(AdditiveGame(np.ones(n)))
    estimate(counting, n, "mc", budget=n + 2, variant="limited")
    loo = {np.packbits(row).tobytes() for row in ~np.eye(n, dtype=bool)}
    assert loo <= set(counting.rows)


@pytest.mark.parametrize("method", ["complementary", "neyman"])
@pytest.mark.parametrize("variant", ["standard", "limited"])
def test_complementary_methods_are_exact_with_every_pair(method, variant):
    n = 8
    game = SoumGame(n, 20, np.random.default_rng(3))
    r = estimate(game, n, method, budget=2**n, seed=0, variant=variant)
    np.testing.assert_allclose(r.values, game.shapley(), atol=1e-9)


def test_hierarchical_recovers_additive_games():
    game = AdditiveGame(np.arange(1.0, 11.0))
    r = estimate(game, 10, "hierarchical", budget=200, seed=0)
    np.testing.assert_allclose(r.values, game.shapley(), atol=1e-9)


@pytest.mark.parametrize("n", [12, 16])
@pytest.mark.parametrize("mult", [2, 4, 8])
def test_hierarchical_stays_within_small_budgets(n, mult):
    counting = CountingGame(SoumGame(n, 2 * n, np.random.default_rng(n + mult)))
    r = estimate(counting, n, "hierarchical", budget=mult * n, seed=0)
    assert r.n_evals == len(set(counting.rows)) <= mult * n
    assert abs(r.efficiency_gap) < 1e-9


def test_hierarchical_is_efficient_and_within_budget():
    n = 14
    counting = CountingGame(SoumGame(n, 30, np.random.default_rng(4)))
    r = estimate(counting, n, "hierarchical", budget=120, seed=0, groups=3, inner="permutation")
    assert r.n_evals == len(set(counting.rows)) == len(counting.rows) <= 120
    assert abs(r.efficiency_gap) < 1e-9


@pytest.mark.parametrize(
    "method,options,message",
    [
        ("mc", dict(variant="fancy"), "variant='fancy' is not valid for method 'mc'; valid: standard, limited"),
        ("complementary", dict(variant="x"), "not valid for method 'complementary'"),
        ("neyman", dict(pilot_fraction=1.5), "pilot_fraction must be in"),
        ("hierarchical", dict(groups=1), "groups must be an integer >= 2"),
        ("hierarchical", dict(inner="random"), "inner='random' is not valid.*valid: .*kernel"),
    ],
)
def test_bad_options(method, options, message):
    with pytest.raises(ValueError, match=message):
        estimate(AdditiveGame(np.ones(6)), 6, method, budget=40, **options)
