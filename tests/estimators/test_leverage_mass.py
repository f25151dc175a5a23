"""regression_adjusted spreads its random pairs by leverage score past the adaptive design's budgets."""

import numpy as np
import pytest
from estimator_games import CountingGame, SoumGame

from shapsweep.estimators import estimate


def _edge_share(rows, n):
    sizes = np.array([np.unpackbits(np.frombuffer(row, np.uint8))[:n].sum() for row in rows])
    inner = (sizes > 0) & (sizes < n)
    return float(np.mean(np.minimum(sizes[inner], n - sizes[inner]) <= 3))


def test_pairs_are_spread_by_leverage_past_the_design_and_say_why():
    n = 40
    game = SoumGame(n, 2 * n, np.random.default_rng(1), max_order=3)
    counting = CountingGame(game)
    r = estimate(counting, n, "regression_adjusted", budget=32 * n, seed=0)
    assert r.details["sampler"] == "paired_leverage"
    assert "budget 1280 >= 32n" in r.details["mass_reason"] and "leverage" in r.details["mass_reason"]
    assert r.n_evals == len(set(counting.rows)) == 32 * n
    # Equal mass per size: sizes 1-3 and their complements get 3/20 of the pairs; the kernel's mass gives 32%.
    plain = CountingGame(game)
    estimate(plain, n, "regression_adjusted", budget=32 * n, seed=0, surrogate="none")
    leverage_share, kernel_share = _edge_share(counting.rows, n), _edge_share(plain.rows, n)
    assert leverage_share < 0.17 < 0.3 < kernel_share


def test_leverage_spread_estimate_is_efficient_and_repeats():
    n = 40
    game = SoumGame(n, 2 * n, np.random.default_rng(2), max_order=5)
    a = estimate(game, n, "regression_adjusted", budget=1100, seed=3)  # 549 pairs > 512: past the design
    b = estimate(game, n, "regression_adjusted", budget=1100, seed=3)
    assert a.details["sampler"] == "paired_leverage" and "549 pairs > 512" in a.details["mass_reason"]
    assert a.values.tobytes() == b.values.tobytes()
    v_empty, v_full = game(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    assert abs(a.values.sum() - (v_full - v_empty)) < 1e-9


@pytest.mark.parametrize(
    "n,budget,options,reason",
    [
        (16, 32 * 16, {}, "n <= 16"),
        (40, 8 * 40, {}, "the design's measured better range"),
        (40, 32 * 40, {"surrogate": "none"}, "plain paired KernelSHAP asked for"),
    ],
)
def test_kernel_mass_where_leverage_was_not_measured_better(n, budget, options, reason):
    game = SoumGame(n, 2 * n, np.random.default_rng(4), max_order=3)
    r = estimate(game, n, "regression_adjusted", budget=budget, seed=0, **options)
    if options.get("surrogate") == "none":
        # plain KernelSHAP keeps its own details; its pairs are the kernel's (same values as `kernel`)
        k = estimate(game, n, "kernel", budget=budget, seed=0)
        np.testing.assert_allclose(r.values, k.values, atol=1e-12)
        return
    assert r.details["sampler"] == "paired_kernel" and reason in r.details["mass_reason"]


def test_95_percent_intervals_cover_under_leverage_spread_pairs():
    n, covered, total = 40, 0, 0
    for seed in range(8):
        game = SoumGame(n, 2 * n, np.random.default_rng(100 + seed), max_order=3)
        exact = game.shapley()
        r = estimate(game, n, "regression_adjusted", budget=32 * n, seed=seed)
        covered += int(np.sum(np.abs(r.values - exact) <= 1.96 * r.stderr))
        total += n
    assert covered / total >= 0.90


def test_correction_is_kept_whole_when_the_surrogate_saw_only_part_of_the_pairs():
    # Below 32n the correction is shrunk, unless the fit left pairs out (over fourier_kernel.FIT_PAIRS).
    n = 136
    game = SoumGame(n, 2 * n, np.random.default_rng(6), max_order=3)
    whole = estimate(game, n, "regression_adjusted", budget=31 * n, seed=0)  # 2107 pairs
    assert whole.details["correction"]["weight"] == 1.0
    assert "fitted on 2048 of the 2107 pairs" in whole.details["correction"]["reason"]
    assert abs(whole.efficiency_gap) < 1e-9
    shrunk = estimate(game, n, "regression_adjusted", budget=28 * n, seed=0)  # 1903 pairs: all fitted
    assert "split-half" in shrunk.details["correction"]["reason"]
