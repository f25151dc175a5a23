"""Pairwise interaction indices: closed forms on unanimity games against the definitions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from estimator_games import SoumGame

from shapsweep.estimators.exact import all_coalitions
from shapsweep.estimators.interactions import exact_pairwise, from_moebius, moebius_transform, top_pairs


def table(game, n):
    return game(all_coalitions(n))


def sii_by_definition(v, n):
    """SII_ij = sum_{S subset N\\{i,j}} |S|!(n-|S|-2)!/(n-1)! * discrete derivative of v at S."""
    out = np.zeros((n, n))
    for i, j in itertools.combinations(range(n), 2):
        others = [p for p in range(n) if p not in (i, j)]
        for size in range(n - 1):
            w = math.factorial(size) * math.factorial(n - size - 2) / math.factorial(n - 1)
            for s in itertools.combinations(others, size):
                code = sum(1 << p for p in s)
                delta = v[code | 1 << i | 1 << j] - v[code | 1 << i] - v[code | 1 << j] + v[code]
                out[i, j] += w * delta
        out[j, i] = out[i, j]
    return out


def fsii_by_fit(v, n):
    """Faith-Shap order 2: the 2-additive Moebius fit minimising the Shapley-kernel weighted squared error,
    with v(empty) and v(N) matched (large weights)."""
    z = all_coalitions(n)
    size = z.sum(axis=1)
    pairs = list(itertools.combinations(range(n), 2))
    x = np.hstack([np.ones((len(z), 1)), z, np.array([z[:, i] & z[:, j] for i, j in pairs]).T]).astype(float)
    inner = (size > 0) & (size < n)
    w = np.full(len(z), 1e9)
    w[inner] = (n - 1) / (np.array([math.comb(n, s) for s in size[inner]]) * size[inner] * (n - size[inner]))
    root = np.sqrt(w)
    coef = np.linalg.lstsq(x * root[:, None], v * root, rcond=None)[0]
    out = np.zeros((n, n))
    for (i, j), c in zip(pairs, coef[1 + n :], strict=True):
        out[i, j] = out[j, i] = c
    return out


def test_moebius_transform_recovers_a_sum_of_unanimity_games():
    n = 6
    game = SoumGame(n, 8, np.random.default_rng(0), max_order=4)
    m = moebius_transform(table(game, n), n)
    expected = np.zeros(2**n)
    for t, c in zip(game.terms, game.coef, strict=True):
        expected[sum(1 << int(p) for p in t)] += c
    np.testing.assert_allclose(m, expected, atol=1e-12)


@pytest.mark.parametrize("seed", [1, 2])
def test_k_sii_and_fsii_match_their_definitions(seed):
    n = 6
    game = SoumGame(n, 10, np.random.default_rng(seed), max_order=5)
    v = table(game, n)
    np.testing.assert_allclose(exact_pairwise(v, n, "k-SII"), sii_by_definition(v, n), atol=1e-10)
    np.testing.assert_allclose(exact_pairwise(v, n, "FSII"), fsii_by_fit(v, n), atol=1e-6)


def test_stii_splits_each_term_equally_over_its_pairs_and_closed_form_equals_exact():
    n = 5

    def unanimity(z):
        return np.asarray(z, bool)[:, [0, 1, 3]].all(axis=1).astype(float)

    stii = exact_pairwise(table(unanimity, n), n, "STII")
    expected = np.zeros((n, n))
    for i, j in itertools.combinations([0, 1, 3], 2):
        expected[i, j] = expected[j, i] = 1 / 3
    np.testing.assert_allclose(stii, expected, atol=1e-12)
    game = SoumGame(n, 7, np.random.default_rng(4), max_order=4)
    members = np.zeros((len(game.terms), n), bool)
    for row, t in zip(members, game.terms, strict=True):
        row[t] = True
    for index in ("k-SII", "FSII", "STII"):
        np.testing.assert_allclose(
            from_moebius(members, game.coef, n, index), exact_pairwise(table(game, n), n, index), atol=1e-12
        )


def test_top_pairs_orders_by_magnitude():
    m = np.zeros((4, 4))
    m[0, 2] = m[2, 0] = -3.0
    m[1, 3] = m[3, 1] = 2.0
    m[0, 1] = m[1, 0] = 0.5
    assert top_pairs(m, 2) == [(0, 2, -3.0), (1, 3, 2.0)]
    with pytest.raises(ValueError, match="unknown interaction index 'SII2'"):
        exact_pairwise(np.zeros(8), 3, "SII2")


def test_estimate_gives_interactions_from_its_own_evaluations():
    from estimator_games import CountingGame

    from shapsweep.estimators import estimate

    n = 8
    soum = SoumGame(n, 2 * n, np.random.default_rng(0), max_order=3)
    members = np.zeros((len(soum.terms), n), bool)
    for row, t in zip(members, soum.terms, strict=True):
        row[t] = True
    truth = from_moebius(members, soum.coef, n, "k-SII")
    exact = estimate(soum, n, "exact", interactions="k-SII")
    np.testing.assert_allclose(exact.interactions, truth, atol=1e-10)
    counted = CountingGame(soum)
    sampled = estimate(counted, n, "regression_adjusted", budget=16 * n, seed=0, interactions="k-SII")
    plain = estimate(soum, n, "regression_adjusted", budget=16 * n, seed=0)
    assert len(set(counted.rows)) == sampled.n_evals == plain.n_evals  # no extra evaluations
    np.testing.assert_array_equal(sampled.values, plain.values)  # the values are untouched
    assert np.linalg.norm(sampled.interactions - truth) < 0.05 * np.linalg.norm(truth)
    assert "even-part Lasso" in sampled.details["interactions_from"]
    few = estimate(soum, n, "permutation", budget=20, seed=0, interactions="FSII")
    assert few.interactions is None and "complementary pairs" in few.details["interactions_reason"]
    with pytest.raises(ValueError, match="unknown interaction index 'SII'"):
        estimate(soum, n, "exact", interactions="SII")
