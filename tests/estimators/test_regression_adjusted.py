"""regression_adjusted: closed-form surrogate values, exactness where it must hold, and its fallback."""

import itertools

import numpy as np
import pytest
from estimator_games import AdditiveGame, CountingGame, SoumGame

from shapsweep.estimators import DEFAULT_METHOD, METHODS, estimate
from shapsweep.estimators.regression_adjusted import _surrogate_shapley


def test_fourier_character_shapley_values():
    # chi_T(S) = prod_{j in T} (+1 if j in S else -1): odd |T| gives each member 2/|T|, even |T| gives 0.
    n = 5
    phi = _surrogate_shapley(n, [(0, 2, 4), (1,), (1, 3)], np.array([0.3, 2.0, 7.0]), "fourier")
    np.testing.assert_allclose(phi, [0.2, 4.0, 0.2, 0.0, 0.2])
    for terms in ([(0, 2, 4)], [(1, 3)]):  # check against exact on the character game itself
        t = list(terms[0])
        game = lambda z, t=t: np.where(np.asarray(z)[:, t], 1.0, -1.0).prod(axis=1)  # noqa: E731
        np.testing.assert_allclose(
            _surrogate_shapley(n, terms, np.array([1.0]), "fourier"), estimate(game, n, "exact").values, atol=1e-12
        )


def test_moebius_term_shapley_values():
    phi = _surrogate_shapley(4, [(0, 1), (2,)], np.array([1.0, 3.0]), "moebius")
    np.testing.assert_allclose(phi, [0.5, 0.5, 3.0, 0.0])


@pytest.mark.parametrize("basis,surrogate", [("fourier", "auto"), ("fourier", "lasso"), ("moebius", "auto")])
def test_surrogate_is_used_and_sum_of_third_order_unanimity_games_is_recovered(basis, surrogate):
    # A game that is exactly a sparse degree-3 polynomial: the surrogate captures it from few pairs.
    n = 10
    rng = np.random.default_rng(0)
    game = SoumGame(n, 6, rng, max_order=3)
    kernel_err = np.linalg.norm(estimate(game, n, "kernel", budget=120, seed=1).values - game.shapley())
    ra = estimate(game, n, "regression_adjusted", budget=120, seed=1, basis=basis, surrogate=surrogate)
    assert abs(ra.efficiency_gap) < 1e-9
    assert np.linalg.norm(ra.values - game.shapley()) < 0.5 * kernel_err


@pytest.mark.parametrize("surrogate", ["auto", "ridge"])
def test_dense_low_degree_fourier_game_is_recovered(surrogate):
    # Every degree-3 Fourier character present with a small weight (dense, like real model games):
    # ridge is the surrogate that suits it, and auto should pick it.
    n = 10
    rng = np.random.default_rng(1)
    triples = np.array(list(itertools.combinations(range(n), 3)))
    w1, w3 = rng.normal(size=n), 0.2 * rng.normal(size=len(triples))

    def game(z):
        s = np.where(np.asarray(z, bool), 1.0, -1.0)
        return s @ w1 + s[:, triples].prod(axis=2) @ w3

    truth = estimate(game, n, "exact").values
    kernel_err = np.linalg.norm(estimate(game, n, "kernel", budget=300, seed=0).values - truth)
    ra_err = np.linalg.norm(
        estimate(game, n, "regression_adjusted", budget=300, seed=0, surrogate=surrogate).values - truth
    )
    assert ra_err < 0.5 * kernel_err


def test_full_budget_is_exact_and_budget_is_respected():
    n = 8
    counting = CountingGame(SoumGame(n, 25, np.random.default_rng(3)))
    r = estimate(counting, n, "regression_adjusted", budget=2**n, seed=0)
    np.testing.assert_allclose(r.values, counting.game.shapley(), atol=1e-9)
    assert r.n_evals == len(set(counting.rows)) == len(counting.rows) == 2**n


@pytest.mark.parametrize("budget,fallback", [(12, "kernel"), (40, "permutation"), (70, "kernel")])
def test_small_budgets_fall_back_to_the_measured_better_method(budget, fallback):
    # < 2n: permutation impossible; 2n..5n: permutation; 5n..8n (fewer than 4 pairs per player): paired kernel.
    n = 10
    game = SoumGame(n, 20, np.random.default_rng(5))
    a = estimate(game, n, "regression_adjusted", budget=budget, seed=2)
    b = estimate(game, n, fallback, budget=budget, seed=2)
    assert a.values.tobytes() == b.values.tobytes()
    assert (a.stderr is None) == (b.stderr is None)


def test_additive_game_is_exact():
    game = AdditiveGame(np.linspace(-2, 3, 9), offset=4.0)
    np.testing.assert_allclose(estimate(game, 9, "regression_adjusted", budget=200).values, game.shapley(), atol=1e-9)


def test_default_method_is_a_registered_sampling_method():
    assert DEFAULT_METHOD in METHODS and DEFAULT_METHOD not in ("exact", "random")


@pytest.mark.parametrize(
    "options,message",
    [
        (dict(basis="haar"), "basis=.haar. is not valid"),
        (dict(degree=9), "degree must be"),
        (dict(surrogate="gbt"), "surrogate=.gbt. is not valid.*auto, ridge, lasso"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        estimate(AdditiveGame(np.ones(5)), 5, "regression_adjusted", budget=20, **options)


def test_high_order_unanimity_game_takes_the_sparse_moebius_surrogate():
    # Terms up to order 6 spread over every odd Fourier degree; the degree-3 fit cannot hold them,
    # the sparse unanimity fit can, and 'auto' should pick it by held-out error.
    n = 12
    game = SoumGame(n, 2 * n, np.random.default_rng(7), max_order=6, offset=0.5)
    truth = game.shapley()
    fourier = estimate(game, n, "regression_adjusted", budget=16 * n, seed=0, surrogate="ridge")
    auto = estimate(game, n, "regression_adjusted", budget=16 * n, seed=0)
    sparse = estimate(game, n, "regression_adjusted", budget=16 * n, seed=0, surrogate="sparse_moebius")
    assert abs(auto.efficiency_gap) < 1e-9 and abs(sparse.efficiency_gap) < 1e-9
    assert auto.n_evals <= 16 * n and sparse.n_evals <= 16 * n
    assert np.linalg.norm(auto.values - truth) < 0.5 * np.linalg.norm(fourier.values - truth)
    np.testing.assert_array_equal(auto.values, sparse.values)
    again = estimate(game, n, "regression_adjusted", budget=16 * n, seed=0)
    assert again.values.tobytes() == auto.values.tobytes()


def test_sparse_moebius_order_shrinks_with_players_to_bound_the_design():
    from scipy.special import comb

    from shapsweep.estimators.regression_adjusted import MOEBIUS_MAX_TERMS, _moebius_order

    assert _moebius_order(12) == _moebius_order(16) == 6
    assert _moebius_order(3) == 3
    for n in (20, 40, 300):
        k = _moebius_order(n)
        assert sum(comb(n, j, exact=True) for j in range(1, k + 1)) <= MOEBIUS_MAX_TERMS or k == 1
    assert _moebius_order(40) < 6
