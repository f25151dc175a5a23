"""unanimity_kernel: the odd and whole-value covariances of a unanimity prior, their Shapley values, and
the leave-one-pair-out predictions of the fit on whole values, against brute force on small games."""

import itertools

import numpy as np
import pytest
from scipy.special import comb

from shapsweep.estimators import estimate
from shapsweep.estimators import fourier_kernel as fk
from shapsweep.estimators import unanimity_kernel as uk


def _brute_value_cov(a_in: np.ndarray, b_in: np.ndarray, weights: dict[int, float]) -> float:
    """Cov(v(A), v(B)) under c_T ~ N(0, w_k / C(n, k)) for every T of size k in weights, plus a unit constant."""
    n = len(a_in)
    total = 1.0
    for k, w in weights.items():
        for t in itertools.combinations(range(n), k):
            total += w / comb(n, k) * (a_in[list(t)].all() and b_in[list(t)].all())
    return total


def _sections_game(s: np.ndarray, alpha_odd: np.ndarray, alpha_even: np.ndarray, weights: dict[int, float]):
    """The game sum_p alpha_odd_p Cov(v(.), t_p) + alpha_even_p Cov(v(.), e_p) on whole coalitions, by brute
    force (t_p, e_p: pair p's odd and even parts)."""

    def value_game(z):
        out = []
        for row in np.asarray(z, bool):
            cov = np.array(
                [
                    [
                        (_brute_value_cov(row, sp > 0, weights) - sign * _brute_value_cov(row, sp < 0, weights)) / 2
                        for sp in s
                    ]
                    for sign in (1, -1)
                ]
            )
            out.append(cov[0] @ alpha_odd + cov[1] @ alpha_even)
        return np.array(out)

    return value_game


def _rows(rng, count, n):
    return rng.choice([-1.0, 1.0], size=(count, n))


@pytest.mark.parametrize("max_order", [3, 5])
def test_kernels_match_brute_force_covariances(max_order):
    n, rng = 7, np.random.default_rng(0)
    a, b = _rows(rng, 5, n), _rows(rng, 4, n)
    w = uk.prior(max_order)
    oo, oe, eo, ee = uk.value_blocks(a, b, w)
    for i, j in itertools.product(range(len(a)), range(len(b))):
        sa, sb = a[i] > 0, b[j] > 0
        c = {(x, y): _brute_value_cov(p, q, w) for x, p in ((1, sa), (-1, ~sa)) for y, q in ((1, sb), (-1, ~sb))}
        odd_odd = (c[1, 1] - c[1, -1] - c[-1, 1] + c[-1, -1]) / 4
        assert oo[i, j] == pytest.approx(odd_odd, abs=1e-12)
        assert oe[i, j] == pytest.approx((c[1, 1] + c[1, -1] - c[-1, 1] - c[-1, -1]) / 4, abs=1e-12)
        assert eo[i, j] == pytest.approx((c[1, 1] - c[1, -1] + c[-1, 1] - c[-1, -1]) / 4, abs=1e-12)
        assert ee[i, j] == pytest.approx((c[1, 1] + c[1, -1] + c[-1, 1] + c[-1, -1]) / 4, abs=1e-12)
    np.testing.assert_allclose(uk.kernel_matrix(a, b, w), oo, atol=1e-12)


def test_shapley_rows_are_the_exact_shapley_values_of_the_kernel_sections():
    n, rng = 7, np.random.default_rng(1)
    s = _rows(rng, 6, n)
    alpha_odd, alpha_even = rng.normal(size=6), rng.normal(size=6)
    w = uk.prior(4)

    def odd_game(z):
        return uk.kernel_matrix(np.where(np.asarray(z, bool), 1.0, -1.0), s, w) @ alpha_odd

    np.testing.assert_allclose(uk.shapley_rows(s, w).T @ alpha_odd, estimate(odd_game, n, "exact").values, atol=1e-12)

    value_game = _sections_game(s, alpha_odd, alpha_even, w)
    rows = uk.value_shapley_rows(s, w)
    np.testing.assert_allclose(
        rows[:6].T @ alpha_odd + rows[6:].T @ alpha_even, estimate(value_game, n, "exact").values, atol=1e-10
    )


def test_banzhaf_rows_are_the_exact_banzhaf_values_of_the_kernel_sections():
    # msr's unanimity_kernel candidate: u_T gives 2^(1 - |T|) to each member (not 1 / |T|)
    n, rng = 7, np.random.default_rng(2)
    s = _rows(rng, 5, n)
    alpha_odd, alpha_even = rng.normal(size=5), rng.normal(size=5)
    w = {1: 1.0, 2: 0.7, 3: 0.5, 4: 0.3}

    rows = uk.value_banzhaf_rows(s, w)
    exact = estimate(_sections_game(s, alpha_odd, alpha_even, w), n, "exact", index="banzhaf").values
    np.testing.assert_allclose(rows[:5].T @ alpha_odd + rows[5:].T @ alpha_even, exact, atol=1e-10)
    # and they differ from the Shapley rows (the test would not see a Shapley/Banzhaf mix-up otherwise)
    shapley = uk.value_shapley_rows(s, w)
    assert np.abs(shapley[:5].T @ alpha_odd + shapley[5:].T @ alpha_even - exact).max() > 1e-3


def _soum_pairs(n: int, n_terms: int, pairs: int, seed: int):
    """(+-1 rows: the full coalition then `pairs` random ones, their odd parts, their even parts, the rng) of
    a sum of `n_terms` unanimity games of order <= 3."""
    rng = np.random.default_rng(seed)
    terms = [rng.choice(n, size=int(rng.integers(1, 4)), replace=False) for _ in range(n_terms)]
    coef = rng.normal(size=n_terms)

    def game(z):
        z = np.asarray(z, bool)
        return sum(c * z[:, t].all(axis=1) for t, c in zip(terms, coef))

    x = np.vstack([np.ones((1, n)), _rows(rng, pairs, n)])
    full, comp = game(x > 0), game(x < 0)
    return x, (full - comp) / 2, (full + comp) / 2, rng


@pytest.mark.parametrize("even_pairs", [1024, 7])
def test_fit_on_whole_values_is_consistent_and_its_pair_out_predictions_are_refits(monkeypatch, even_pairs):
    # A sum of unanimity games of order <= 3 at n = 9: the unanimity prior on whole values wins the
    # leave-one-out choice; the surrogate's Shapley values are those of its own prediction (exact), and its
    # leave-one-pair-out predictions equal refits without the pair's rows (both, or the odd one where the
    # pair has no even row: with 7 even rows of 24).
    monkeypatch.setattr(fk, "VALUE_EVEN_PAIRS", even_pairs)
    n = 9
    x, t, even, _ = _soum_pairs(n, 12, 23, seed=2)
    sur = fk.fit_fourier_surrogate(x, t, np.random.default_rng(0), unanimity=True, even=even)
    assert sur.even_train is not None and sur.choice["prior"].startswith("unanimity on whole values")
    q = len(sur.even_train)
    assert q == min(even_pairs, 24) and sur.choice["even_rows"] == q

    def own(z):
        return sur.predict(np.where(np.asarray(z, bool), 1.0, -1.0))

    np.testing.assert_allclose(sur.shapley(), estimate(own, n, "exact").values, atol=1e-9)
    np.testing.assert_allclose(sur.fitted, sur.predict(x), atol=1e-9)
    # Brute-force leave-one-pair-out on the same joint system and ridge
    ev = np.linspace(0, 23, q).astype(int) if q < 24 else np.arange(24)
    oo, oe, eo, ee = uk.value_blocks(x, x, sur.unanimity)
    gram = np.block([[oo, oe[:, ev]], [eo[ev], ee[np.ix_(ev, ev)]]]) + sur.ridge * np.eye(24 + q)
    y = np.concatenate([t, even[ev]])
    for p in range(24):
        keep = np.ones(24 + q, bool)
        keep[p] = False
        keep[24 + np.flatnonzero(ev == p)] = False
        alpha = np.linalg.solve(gram[np.ix_(keep, keep)], y[keep])
        assert sur.loo_prediction[p] == pytest.approx((gram[p, keep] @ alpha), abs=1e-8)


def test_the_fourier_prior_stays_where_it_fits_better():
    # An additive game plus dense random degree-3 Fourier terms (no unanimity structure): the odd-part
    # Fourier prior keeps the lower leave-one-out error, and the surrogate is the plain Fourier fit.
    n, rng = 10, np.random.default_rng(3)
    x = _rows(rng, 80, n)
    triples = np.array(list(itertools.combinations(range(n), 3)))
    w3 = 0.05 * rng.normal(size=len(triples))
    t = x @ rng.normal(size=n) + x[:, triples].prod(axis=2) @ w3
    sur = fk.fit_fourier_surrogate(x, t, np.random.default_rng(0), unanimity=True, even=rng.normal(size=80))
    assert sur.choice["prior"] == "fourier" and sur.even_train is None and sur.unanimity is None


def test_choice_on_all_rows_keeps_the_prior_of_lower_error_over_every_row(monkeypatch):
    # choose_on_all_rows (the design past 512 pairs): both priors, as chosen on the selection rows, are
    # fitted to every row and the lower leave-one-(pair-)out error wins. The margin is opened so that both
    # games reach the comparison: a sum of unanimity games keeps the unanimity prior, an additive game with
    # dense degree-3 Fourier terms the Fourier one, whose leave-one-out predictions are refits without the row.
    monkeypatch.setattr(fk, "ALL_ROWS_CHOICE_MARGIN", 1e9)
    n = 10
    x, t, even, rng = _soum_pairs(n, 14, 59, seed=4)
    tied = fk.fit_fourier_surrogate(x, t, np.random.default_rng(0), unanimity=True, even=even, choose_on_all_rows=True)
    verdict = tied.choice["all_rows_loo"]
    assert tied.even_train is not None and verdict["unanimity"] < verdict["fourier"] and verdict["rows"] == 60

    triples = np.array(list(itertools.combinations(range(n), 3)))
    t = x @ rng.normal(size=n) + x[:, triples].prod(axis=2) @ (0.05 * rng.normal(size=len(triples)))
    four = fk.fit_fourier_surrogate(
        x, t, np.random.default_rng(0), unanimity=True, even=rng.normal(size=60), choose_on_all_rows=True
    )
    verdict = four.choice["all_rows_loo"]
    assert four.choice["prior"] == "fourier" and four.even_train is None and four.unanimity is None
    assert verdict["fourier"] < verdict["unanimity"] and four.loo_error == pytest.approx(verdict["fourier"], rel=1e-5)
    np.testing.assert_allclose(four.fitted, four.predict(x), atol=1e-9)

    def own(z):
        return four.predict(np.where(np.asarray(z, bool), 1.0, -1.0))

    np.testing.assert_allclose(four.shapley(), estimate(own, n, "exact").values, atol=1e-9)
    gram = fk.kernel_matrix(x, x, four.weights, four.scale) + four.ridge * np.eye(60)
    for p in (0, 17, 59):
        keep = np.arange(60) != p
        alpha = np.linalg.solve(gram[np.ix_(keep, keep)], t[keep])
        assert four.loo_prediction[p] == pytest.approx(gram[p, keep] @ alpha, abs=1e-8)
