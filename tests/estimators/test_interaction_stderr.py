"""Per-pair standard errors (the even-part regression's HC3, the jackknife of the fits without a formula):
calibrated 95% intervals on closed-form games."""

from __future__ import annotations

import numpy as np
import pytest
from estimator_games import SoumGame

from shapsweep.estimators import estimate
from shapsweep.estimators.exact import all_coalitions
from shapsweep.estimators.interactions import exact_pairwise, from_moebius


class NoisySoum:
    """A sum of unanimity games of order <= 3 plus a fixed pseudo-random term per coalition (a hash of it):
    the residual the degree-2 fit cannot explain, so its standard errors have something to measure."""

    def __init__(self, n, seed, noise):
        self.soum = SoumGame(n, 2 * n, np.random.default_rng(seed), max_order=3)
        self.n, self.noise, self.salt = n, noise, seed + 1

    def __call__(self, z):
        z = np.asarray(z, bool)
        codes = z.astype(np.uint64) @ (np.uint64(1) << np.arange(self.n, dtype=np.uint64))
        mixed = (codes + np.uint64(self.salt)) * np.uint64(0x9E3779B97F4A7C15) >> np.uint64(40)
        uniform = mixed.astype(np.float64) / 2**24 - 0.5
        return self.soum(z) + self.noise * np.sqrt(12) * uniform


def closed_form(soum, n, index="k-SII"):
    members = np.zeros((len(soum.terms), n), bool)
    for row, t in zip(members, soum.terms, strict=True):
        row[t] = True
    return from_moebius(members, soum.coef, n, index)


@pytest.mark.parametrize("truth_of", ["closed form", "noisy exact"])
def test_95_percent_intervals_cover_the_true_pairs(truth_of):
    """Coverage over the estimated pairs of 12 games: against the SOUM's closed-form indices (the noise as
    measurement error) and against the exact indices of the noisy game (its noise's own interactions too)."""
    n, covered, told_apart = 14, [], []
    for seed in range(12):
        game = NoisySoum(n, seed, noise=0.05)
        if truth_of == "closed form":
            truth = closed_form(game.soum, n)
        else:
            truth = exact_pairwise(game(all_coalitions(n)), n, "k-SII")
        r = estimate(game, n, budget=16 * n, seed=seed, interactions="k-SII")
        assert "even-part Lasso" in r.details["interactions_from"]
        kept = np.isfinite(r.interaction_stderr) & ~np.eye(n, dtype=bool)
        assert kept.any() and np.all(r.interaction_stderr[kept] > 0)
        err = np.abs(r.interactions - truth)[kept]
        covered += list(err <= 1.96 * r.interaction_stderr[kept])
        large = kept & (np.abs(truth) > 0.3)
        told_apart += list(np.abs(r.interactions[large]) > 1.96 * r.interaction_stderr[large])
    assert np.mean(covered) >= 0.9, np.mean(covered)
    # not vacuous: the intervals tell the pairs that matter from zero
    assert np.mean(told_apart) >= 0.9, np.mean(told_apart)


def test_noise_free_order_3_game_is_recovered_with_zero_stderr_and_exact_is_zero():
    n = 16
    soum = SoumGame(n, 2 * n, np.random.default_rng(3), max_order=3)
    for index in ("k-SII", "FSII"):
        truth = closed_form(soum, n, index)
        r = estimate(soum, n, budget=16 * n, seed=0, interactions=index)
        np.testing.assert_allclose(r.interactions, truth, atol=1e-8)
        assert np.nanmax(r.interaction_stderr) < 1e-8
    small = SoumGame(6, 8, np.random.default_rng(0), max_order=3)
    exact = estimate(small, 6, "exact", interactions="FSII")
    assert np.array_equal(exact.interaction_stderr, np.zeros((6, 6)))


def test_stii_pairs_get_jackknife_intervals_that_cover_them():
    """STII (the unanimity surrogate, no formula of its own): every pair has a jackknife standard error,
    and 95% intervals cover the closed-form indices of noisy order-3 games (tuning games, seeds 0-5)."""
    n, covered = 10, []
    for seed in range(6):
        game = NoisySoum(n, seed, noise=0.05)
        r = estimate(game, n, budget=8 * n, seed=seed, interactions="STII")
        assert "sparse Moebius" in r.details["interactions_from"]
        assert "jackknife" in r.details["interactions_stderr_from"]
        off = ~np.eye(n, dtype=bool)
        assert np.all(np.isfinite(r.interaction_stderr)) and np.all(r.interaction_stderr[off] >= 0)
        covered += list(
            (np.abs(r.interactions - closed_form(game.soum, n, "STII")) <= 1.96 * r.interaction_stderr)[off]
        )
    assert np.mean(covered) >= 0.9, np.mean(covered)


def test_jackknife_spread_is_the_t_scaled_delete_a_group_jackknife():
    """Five fits whose spread is known: sqrt(4/5 * sum (r - mean)^2) times t_{0.975, 4} / 1.96, with the t
    quantile 2.7764451051977987 (tables; scipy.stats.t.ppf(0.975, 4)) without importing scipy.stats."""
    from shapsweep.estimators.interaction_jackknife import jackknife_spread

    repeats = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0], [5.0, 0.0]])
    np.testing.assert_allclose(jackknife_spread(repeats), [np.sqrt(0.8 * 10) * 2.7764451051977987 / 1.96, 0.0])
