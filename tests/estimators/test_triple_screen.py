"""triple_screen: the greedy screen of odd triples finds a sparse degree-3 part and nothing in noise."""

import numpy as np

from shapsweep.estimators import estimate
from shapsweep.estimators.fourier_kernel import fit_fourier_surrogate
from shapsweep.estimators.triple_screen import DEFAULT_SETTINGS, screen_triples, triple_columns


def _sparse_odd_part(n, m, k, seed):
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(m, n))
    triples = np.array(sorted({tuple(sorted(rng.choice(n, 3, replace=False))) for _ in range(k)}))
    coef = rng.uniform(0.3, 1.0, len(triples)) * rng.choice([-1, 1], len(triples))
    b = rng.normal(size=n)
    return x, x @ b + triple_columns(x, triples) @ coef, triples, coef, b


def test_a_sparse_set_of_triples_is_found_exactly_with_its_coefficients():
    # 30 triples among C(64, 3) = 41,664 on 1,000 rows, no noise: every one is found, nothing else kept.
    x, t, triples, coef, b = _sparse_odd_part(64, 1000, 30, seed=0)
    found, fitted, details = screen_triples(x, t)
    assert {tuple(q) for q in found} == {tuple(q) for q in triples}
    order = [next(i for i, q in enumerate(triples) if tuple(q) == tuple(f)) for f in found]
    np.testing.assert_allclose(fitted[64:], coef[order], atol=1e-6)
    np.testing.assert_allclose(fitted[:64], b, atol=1e-6)
    assert details["triples"] == len(triples) and details["full_screens"] >= 1


def test_pure_noise_keeps_no_triple():
    # A linear part plus Gaussian noise: no triple may clear the bar (it sits where the largest of
    # C(n, 3) null scores lies), so the screen keeps none.
    rng = np.random.default_rng(3)
    for _ in range(3):
        x = rng.choice([-1.0, 1.0], size=(800, 64))
        t = x @ rng.normal(size=64) + rng.normal(size=800)
        found, fitted, details = screen_triples(x, t)
        assert len(found) == 0 and details["triples"] == 0 and len(fitted) == 64


def test_surrogate_with_screened_triples_has_exact_shapley_values_of_itself():
    # The closed form (a kept triple gives each member 2 c / 3 on top of the kernel's values) against
    # exact Shapley values of the surrogate as a game.
    n = 10
    x, t, triples, _, _ = _sparse_odd_part(n, 400, 4, seed=2)
    surrogate = fit_fourier_surrogate(x, t, np.random.default_rng(0), triples=DEFAULT_SETTINGS)
    assert surrogate.triples is not None and len(surrogate.triples) == len(triples)

    def game(z):
        return surrogate.predict(np.where(np.asarray(z, bool), 1.0, -1.0))

    np.testing.assert_allclose(surrogate.shapley(), estimate(game, n, "exact").values, atol=1e-9)
    np.testing.assert_allclose(surrogate.fitted, surrogate.predict(x), atol=1e-9)


def test_full_screen_ranks_every_triple_as_brute_force_does():
    # The blocked screen (players j in blocks, only j < k) against |r . chi_T| for all C(n, 3) triples; n
    # spans several blocks so every block boundary is crossed.
    from itertools import combinations

    from shapsweep.estimators import triple_screen as ts

    rng = np.random.default_rng(5)
    n, m, keep = 2 * ts.SCREEN_BLOCK + 7, 300, 40
    x = rng.choice([-1.0, 1.0], size=(m, n)).astype(np.float32)
    r = rng.normal(size=m)
    every = np.array(list(combinations(range(n), 3)))
    scores = np.abs(triple_columns(x.astype(np.float64), every).T @ r)
    best = every[np.argsort(-scores)[:keep]]
    found = ts._full_screen(x, r, keep)
    assert found.shape == (keep, 3) and np.all(found[:, 0] < found[:, 1]) and np.all(found[:, 1] < found[:, 2])
    assert {tuple(q) for q in found} == {tuple(q) for q in best}
    xt = np.ascontiguousarray(x.T)
    np.testing.assert_array_equal(ts._rows(xt, found), triple_columns(x, found).T)


def test_large_screens_give_up_on_no_sparse_part_and_are_cut_short(monkeypatch):
    # Where a full screen is over triple_screen.LARGE triples (n = 256), a first path that would keep
    # fewer than GIVE_UP_BELOW triples stops and keeps none (the order-5 games' 0-2 cost accuracy), and at
    # most FULL_SCREENS_LARGE full screens run. n = 64 made "large" here by lowering the threshold.
    from shapsweep.estimators import triple_screen as ts

    monkeypatch.setattr(ts, "LARGE", 1e3)
    x, t, triples, _, _ = _sparse_odd_part(64, 1000, 30, seed=0)
    found, fitted, details = screen_triples(x, t)
    assert not details["gave_up"] and details["first_path_kept"] >= ts.GIVE_UP_BELOW
    assert details["full_screens"] <= ts.FULL_SCREENS_LARGE
    assert {tuple(q) for q in found} <= {tuple(q) for q in triples} and len(found) >= 25
    # Two strong triples only: found on the first path, but fewer than GIVE_UP_BELOW, so none is kept.
    rng = np.random.default_rng(4)
    x = rng.choice([-1.0, 1.0], size=(1000, 64))
    t = x @ rng.normal(size=64) + 0.8 * x[:, 1] * x[:, 7] * x[:, 9] - 0.8 * x[:, 20] * x[:, 30] * x[:, 40]
    t += 0.3 * rng.normal(size=1000)
    found, fitted, details = screen_triples(x, t)
    assert details["gave_up"] and details["full_screens"] == 1 and details["screened"] >= 2
    assert len(found) == 0 and details["triples"] == 0 and len(fitted) == 64
    np.testing.assert_allclose(fitted, np.linalg.lstsq(x, t, rcond=None)[0], atol=1e-8)
    monkeypatch.setattr(ts, "LARGE", 1e12)  # not large: the same data keeps both
    found, _, details = screen_triples(x, t)
    assert {tuple(q) for q in found} == {(1, 7, 9), (20, 30, 40)} and "gave_up" not in details


def test_a_screen_that_would_keep_fewer_than_min_kept_keeps_none():
    # ScreenSettings.min_kept (regression_adjusted.TRIPLES_WHOLE_FIT): two strong triples pass the keep bar,
    # but fewer than three kept means none is, and the coefficients are the main effects' least squares.
    import dataclasses

    rng = np.random.default_rng(4)
    x = rng.choice([-1.0, 1.0], size=(1000, 64))
    t = x @ rng.normal(size=64) + 0.8 * x[:, 1] * x[:, 7] * x[:, 9] - 0.8 * x[:, 20] * x[:, 30] * x[:, 40]
    t += 0.3 * rng.normal(size=1000)
    found, _, details = screen_triples(x, t, dataclasses.replace(DEFAULT_SETTINGS, min_kept=2))
    assert {tuple(q) for q in found} == {(1, 7, 9), (20, 30, 40)}
    found, fitted, details = screen_triples(x, t, dataclasses.replace(DEFAULT_SETTINGS, min_kept=3))
    assert len(found) == 0 and details["triples"] == 0 and details["too_few_kept"] == 2
    np.testing.assert_allclose(fitted, np.linalg.lstsq(x, t, rcond=None)[0], atol=1e-8)
