"""set_cascade.py: unanimity sets found one significance bar at a time, and msr's choice of them."""

from __future__ import annotations

import math

import numpy as np
from estimator_games import SoumGame

from shapsweep.estimators import estimate
from shapsweep.estimators.hadamard_design import draw_blocks
from shapsweep.estimators.set_cascade import bars, cascade


def _relative(values, truth):
    return float(np.linalg.norm(values - truth) / np.linalg.norm(truth))


def test_bars_allow_about_one_false_set_of_each_size_over_all_of_them():
    n = 64
    bar = bars(n)
    for k in (2, 3, 4, 5):
        tail = math.erfc(bar[k] / 1.1 / math.sqrt(2))  # two-sided, BAR_SCALE (1.1) undone
        assert abs(math.comb(n, k) * tail - 1.0) < 1e-6
    assert bar[2] < bar[3] < bar[4] < bar[5]  # more sets to choose from, a higher bar


def test_cascade_finds_planted_unanimity_sets_of_2_to_5_players_first_and_fits_them_exactly():
    # main effects plus one set of each size: the matched filters of both halves find each one whole
    n = 40
    rng = np.random.default_rng(5)
    planted = [tuple(sorted(rng.choice(n, k, replace=False).tolist())) for k in (2, 3, 4, 5)]
    weights = [1.5, -2.0, 2.5, 3.0]
    slopes = rng.normal(size=n)

    def game(z):
        z = np.asarray(z, bool)
        return np.where(z, 1.0, -1.0) @ slopes + sum(w * z[:, list(q)].all(axis=1) for w, q in zip(weights, planted))

    design = draw_blocks(n, 8 * n, rng, set(), lambda k, r, taken: [])
    rows = design.rows
    inside, outside = game(rows), game(~rows)
    x = np.where(rows, 1.0, -1.0)
    fit = cascade(x, (inside - outside) / 2, (inside + outside) / 2, design, design.block, design.index)
    assert sorted(fit.sets[:4]) == sorted(planted)  # the strongest first; a few false ones may follow
    r_o, r_e = fit.residuals()
    assert float(r_o @ r_o) < 1e-12 * len(r_o) and float(r_e @ r_e) < 1e-12 * len(r_e)


def test_msr_takes_the_cascade_on_order_5_games_and_its_intervals_cover():
    # sums of 2n unanimity games of 1-5 players: at 16n the cascade's sets beat the linear fit by far
    n = 40
    for seed in range(2):
        game = SoumGame(n, 2 * n, np.random.default_rng(700 + seed), max_order=5)
        truth = game.banzhaf()
        result = estimate(game, n, method="msr", budget=16 * n, seed=seed)
        linear = estimate(game, n, method="msr", budget=16 * n, seed=seed, adjust="linear")
        details = result.details
        assert details["adjust"] == "set_cascade" and details["set_cascade"] > 0, details
        assert "C_p" in details["set_cascade_found"] and "set_cascade" in details["adjust_reason"]
        assert "odd_sets_cv" not in details  # its C_p under the linear fit's: the greedy sets are not tried
        assert _relative(result.values, truth) < 0.4 * _relative(linear.values, truth)
        assert np.mean(np.abs(result.values - truth) <= 1.96 * result.stderr) >= 0.9
        again = estimate(game, n, method="msr", budget=16 * n, seed=seed)
        np.testing.assert_array_equal(again.values, result.values)  # same seed, same numbers


def test_cascade_is_not_offered_below_12n_or_outside_32_to_128_players():
    game = SoumGame(40, 80, np.random.default_rng(700), max_order=5)
    assert "set_cascade" not in estimate(game, 40, method="msr", budget=8 * 40, seed=0).details
    small = SoumGame(20, 40, np.random.default_rng(700), max_order=5)
    assert "set_cascade" not in estimate(small, 20, method="msr", budget=16 * 20, seed=0).details
