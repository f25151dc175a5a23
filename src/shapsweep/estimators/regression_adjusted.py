"""`regression_adjusted`: paired KernelSHAP on the residual of a low-degree surrogate.

The game is split as v = f + (v - f): f is a surrogate whose Shapley values are known in closed form,
and only the residual's are estimated from samples (regression adjustment; Witter et al. 2025,
PolySHAP). Choices, measured in benchmarks/estimators.py:
- Basis: Fourier characters chi_T(S) = prod_{j in T} (+1 if j in S else -1). Real model games are
  close to low-degree in this basis (all-MiniLM-L6-v2 word games: ~99.5% of the variance in degree
  <= 3), while the AND (Moebius) basis spreads them over all orders. A character of odd degree |T|
  gives each member 2/|T|; even degrees give zero Shapley value.
- Only odd degrees (1 and 3) are fitted, on half the difference of each complementary pair,
  (v(S) - v(N\\S))/2: that odd part of the game has the same Shapley values, and pairing cancels the
  even part exactly, so the fit spends no samples on it.
- Fit: `surrogate='auto'` cross-validates (3 folds of pairs) a Lasso path and a ridge path whose
  degree-1 terms are unpenalized, and keeps the one with the lower held-out error. Ridge wins on
  dense low-degree games (MiniLM), Lasso on sparse ones at large budgets.
- Up to 32n, 'auto' also fits a sparse unanimity (Moebius) surrogate with interactions up to order 6
  (iteratively reweighted ridge on full values, so the even part of each pair informs it too) and
  keeps it when its held-out error on the same folds and target is lower. Sums of unanimity games
  with terms up to order 6 (SOUM) are sparse there and spread over every odd Fourier degree; at 16n
  this took their median error from 0.088/0.094 (n=12/16) to about 0.04, while MiniLM games keep
  the Fourier fit (held-out errors chosen honestly: the reweighting is repeated inside each fold).
- The residual v - f is corrected with paired KernelSHAP on the same sample; efficiency is exact.
With few pairs per player the surrogate overfits and the method is plain paired KernelSHAP; with a
budget under `permutation_below`*n, where a regression has about as many unknowns as samples,
antithetic permutation sampling was measured better on every game family and is used instead.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from .game_batching import BudgetedGame
from .paired_design import constrained_wls, sample_pairs
from .permutation import permutation

BASES = ("fourier", "moebius")
SURROGATES = ("auto", "ridge", "lasso", "sparse_moebius")
RIDGE_PENALTIES = np.logspace(-5, 2, 15)
KERNEL_PENALTIES = np.logspace(-6, 1, 15)
MOEBIUS_MAX_ORDER = 6  # interactions up to this order can enter the sparse Moebius surrogate...
MOEBIUS_MAX_TERMS = 16_000  # ...lowered for large n so the design stays small (n=16: order 6, 14,892 terms)
MOEBIUS_REWEIGHTS = 6  # reweighting rounds; held-out error kept falling through 6 on SOUM games
MOEBIUS_KEEP_PER_ROW = 8  # after round 0 keep the 8*rows (at most 2048) strongest terms: 2*rows lost true
MOEBIUS_KEEP_MAX = 2048  # terms on SOUM n=16 (16n error 0.078 vs 0.039), and the rest barely move the fit
SPARSE_MOEBIUS_UP_TO = 32  # budget/n above which the Fourier fit is already close and this one costs seconds


def _terms(n: int, degree: int, basis: str) -> list[tuple[int, ...]]:
    degrees = range(1, degree + 1, 2) if basis == "fourier" else range(1, degree + 1)
    return [t for k in degrees for t in itertools.combinations(range(n), k)]


def _design(z: np.ndarray, terms_by_degree: dict[int, np.ndarray], basis: str) -> np.ndarray:
    x = np.where(z, 1.0, -1.0) if basis == "fourier" else z.astype(np.float64)
    cols = []
    for _k, idx in terms_by_degree.items():
        cols.append(x[:, idx].prod(axis=2))
    return np.hstack(cols)


def _surrogate_shapley(n: int, terms: list[tuple[int, ...]], coef: np.ndarray, basis: str) -> np.ndarray:
    phi = np.zeros(n)
    for t, c in zip(terms, coef):
        if basis == "fourier":
            if len(t) % 2 == 1:  # chi_T(N) - chi_T(empty) = 2 for odd |T|, 0 for even, shared by T's members
                phi[list(t)] += 2.0 * c / len(t)
        else:  # a unanimity game's value 1 is shared by its members
            phi[list(t)] += c / len(t)
    return phi


def _ridge_path(x: np.ndarray, t: np.ndarray, n_free: int, penalties) -> list[np.ndarray]:
    """Ridge coefficients for each penalty; the first `n_free` columns (degree 1) are not penalized."""
    from scipy.linalg import solve_triangular

    free, pen = x[:, :n_free], x[:, n_free:]
    q, r = np.linalg.qr(free)  # degree-1 columns of +-1 have full column rank once there are n pairs
    pen_p = pen - q @ (q.T @ pen)  # penalized part, with what degree 1 explains projected out
    t_p = t - q @ (q.T @ t)
    # Dual form beta = P^T (P P^T + lam I)^-1 t: one eigendecomposition of the (rows x rows) Gram
    # matrix serves every penalty, and rows < columns here (fewer pairs than degree-3 terms).
    evals, u = np.linalg.eigh(pen_p @ pen_p.T)
    evals = np.clip(evals, 0.0, None)
    ut = u.T @ t_p
    out = []
    for lam in penalties:
        beta_pen = pen_p.T @ (u @ (ut / (evals + lam)))
        beta_free = solve_triangular(r, q.T @ (t - pen @ beta_pen))
        out.append(np.concatenate([beta_free, beta_pen]))
    return out


def _fit_surrogate(x: np.ndarray, t: np.ndarray, n_free: int, surrogate: str, fit_intercept: bool):
    """(coefficients, intercept) of the chosen surrogate, chosen by 3-fold held-out error when 'auto'."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LassoCV
    from sklearn.model_selection import KFold

    folds = list(KFold(3).split(x))
    lasso = None
    if surrogate in ("auto", "lasso") or fit_intercept:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lasso = LassoCV(cv=folds, alphas=12, tol=1e-4, max_iter=3000, fit_intercept=fit_intercept).fit(x, t)
        if surrogate == "lasso" or fit_intercept:
            return lasso.coef_, float(lasso.intercept_), float(lasso.mse_path_.mean(axis=1).min())
    errors = np.zeros(len(RIDGE_PENALTIES))
    for train, test in folds:
        for j, beta in enumerate(_ridge_path(x[train], t[train], n_free, RIDGE_PENALTIES)):
            errors[j] += np.mean((t[test] - x[test] @ beta) ** 2) / len(folds)
    if lasso is not None and lasso.mse_path_.mean(axis=1).min() < errors.min():
        return lasso.coef_, 0.0, float(lasso.mse_path_.mean(axis=1).min())
    return _ridge_path(x, t, n_free, [RIDGE_PENALTIES[int(np.argmin(errors))]])[0], 0.0, float(errors.min())


def _loo_ridge(k: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, float]:
    """Dual ridge coefficients at the penalty with the least leave-one-out error (closed form, one eigh)."""
    evals, u = np.linalg.eigh(k)
    evals = np.clip(evals, 0.0, None)
    ut = u.T @ t
    best = (np.inf, None)
    for lam in KERNEL_PENALTIES:
        inv_diag = (u**2) @ (1.0 / (evals + lam))
        alpha = u @ (ut / (evals + lam))
        err = np.mean((alpha / inv_diag) ** 2)
        if err < best[0]:
            best = (err, alpha)
    return best[1], best[0]


def _sparse_moebius(
    z: np.ndarray, y: np.ndarray, v_empty: float, v_full: float, max_order: int, complement: np.ndarray
):
    """Sparse unanimity (Moebius) surrogate by iteratively reweighted ridge: (terms, coefficients, held-out error).

    Games like sums of unanimity games put a few large coefficients on interactions up to high order,
    which no low-degree Fourier fit reaches. Ridge with per-term prior variance w_T is a Gaussian
    prior; resetting w_T to |beta_T| each round approximates an L1 (Lasso-like) fit that keeps the
    few terms the data supports. Round 0 uses w_T ~ 1/C(n,|T|) (equal prior mass per order) in closed
    kernel form, k(S,S') = sum_k w_k C(|S & S'|, k); later rounds keep only the strongest terms.
    Fitted on full values (v - v_empty), so both members of each pair inform every term. The held-out
    error repeats the whole fit on the folds of `_fit_surrogate` and scores half-differences of the
    held-out pairs, so it compares with the Fourier fit's.
    """
    from scipy.special import comb
    from sklearn.model_selection import KFold

    n = z.shape[1]
    rows = np.vstack([np.ones((1, n), bool), z])
    t = np.concatenate([[v_full - v_empty], y - v_empty])
    orders = np.arange(max_order + 1)
    w_order = np.where(orders > 0, n / comb(n, orders), 0.0)
    binom = comb(np.arange(n + 1)[:, None], orders[None, :])  # C(c, k)
    gram0 = (binom @ w_order)[rows.astype(np.int64) @ rows.T.astype(np.int64)]
    terms = _terms(n, max_order, "moebius")
    by_degree: dict[int, list] = {}
    for term in terms:
        by_degree.setdefault(len(term), []).append(term)
    x_all = _design(rows, {k: np.array(v) for k, v in by_degree.items()}, "moebius")
    w_terms = w_order[[len(term) for term in terms]]

    def fit(train):
        alpha, _ = _loo_ridge(gram0[np.ix_(train, train)], t[train])
        beta = w_terms * (x_all[train].T @ alpha)
        keep = np.sort(
            np.argsort(-np.abs(beta), kind="stable")[: min(MOEBIUS_KEEP_PER_ROW * len(train), MOEBIUS_KEEP_MAX)]
        )
        x, beta = x_all[np.ix_(train, keep)], beta[keep]  # the rest carry no weight after round 0
        for _ in range(MOEBIUS_REWEIGHTS):
            w = np.abs(beta) + 1e-3 * np.abs(beta).max()
            alpha, _ = _loo_ridge((x * w) @ x.T, t[train])
            beta = w * (x.T @ alpha)
        return keep, beta

    first = np.flatnonzero(np.arange(len(complement)) < complement)
    pair_rows = np.concatenate([[0], 1 + first])  # row 0: the full coalition (its partner, empty, is 0 by construction)
    partner_rows = np.concatenate([[-1], 1 + complement[first]])
    half = np.concatenate([[t[0] / 2], (t[1 + first] - t[1 + complement[first]]) / 2])
    error = 0.0
    for train_pairs, test_pairs in KFold(3).split(pair_rows):
        train = np.concatenate([pair_rows[train_pairs], partner_rows[train_pairs]])
        keep, beta = fit(np.sort(train[train >= 0]))
        pred = x_all[np.ix_(pair_rows[test_pairs], keep)] @ beta
        b_rows = partner_rows[test_pairs]
        pred_b = np.where(b_rows >= 0, x_all[np.ix_(np.maximum(b_rows, 0), keep)] @ beta, 0.0)
        error += np.mean((half[test_pairs] - (pred - pred_b) / 2) ** 2) / 3
    keep, beta = fit(np.arange(len(rows)))
    return [terms[i] for i in keep], beta, error


def _moebius_order(n: int) -> int:
    """Highest interaction order <= MOEBIUS_MAX_ORDER whose terms (orders 1..k) fit in MOEBIUS_MAX_TERMS."""
    from scipy.special import comb

    order = min(MOEBIUS_MAX_ORDER, n)
    while order > 1 and sum(comb(n, k, exact=True) for k in range(1, order + 1)) > MOEBIUS_MAX_TERMS:
        order -= 1
    return order


def _corrected(z, y, design, v_empty, v_full, terms, coef, basis, intercept):
    """Surrogate Shapley values plus paired KernelSHAP on the residual v - f (efficiency exact)."""
    by_degree: dict[int, list] = {}
    for term in terms:
        by_degree.setdefault(len(term), []).append(term)
    by_degree = {k: np.array(v) for k, v in by_degree.items()}
    n = z.shape[1]
    predict = lambda rows_: _design(rows_, by_degree, basis) @ coef + intercept  # noqa: E731
    r_ends = np.array([v_empty, v_full]) - predict(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    phi_residual = constrained_wls(z, y - predict(z), design.weights, r_ends[0], r_ends[1])
    return _surrogate_shapley(n, terms, coef, basis) + phi_residual, None


def regression_adjusted(
    game: BudgetedGame,
    n: int,
    rng: np.random.Generator,
    *,
    degree: int = 3,
    basis: str = "fourier",
    surrogate: str = "auto",
    min_pairs_per_player: float = 4.0,
    permutation_below: float = 5.0,
):
    if surrogate not in SURROGATES:
        raise ValueError(
            f"option surrogate={surrogate!r} is not valid for method 'regression_adjusted'; valid: {', '.join(SURROGATES)}"
        )
    if basis not in BASES:
        raise ValueError(
            f"option basis={basis!r} is not valid for method 'regression_adjusted'; valid: {', '.join(BASES)}"
        )
    if not isinstance(degree, int) or not 1 <= degree <= 5:
        raise ValueError(f"option degree must be an integer in 1..5 for method 'regression_adjusted', got {degree!r}")
    if 2 * n <= game.budget < permutation_below * n:
        return permutation(game, n, rng)
    v_empty, v_full = game(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    design = sample_pairs(n, game.remaining, rng, mass="kernel")
    z = design.coalitions
    y = game(z)
    n_pairs = len(z) // 2
    terms = _terms(n, degree, basis)
    if n_pairs < min_pairs_per_player * n or degree == 1 or len(terms) > 50_000:
        return constrained_wls(z, y, design.weights, v_empty, v_full), None

    if surrogate == "sparse_moebius":
        m_terms, m_coef, _ = _sparse_moebius(z, y, v_empty, v_full, _moebius_order(n), design.complement)
        return _corrected(z, y, design, v_empty, v_full, m_terms, m_coef, "moebius", v_empty)

    by_degree = {}
    for t in terms:
        by_degree.setdefault(len(t), []).append(t)
    by_degree = {k: np.array(v) for k, v in by_degree.items()}
    if basis == "fourier":  # fit the odd part on one row per complementary pair (and the full/empty pair)
        first = np.arange(len(z)) < design.complement
        rows = np.vstack([np.ones((1, n), bool), z[first]])
        target = np.concatenate([[(v_full - v_empty) / 2], (y[first] - y[design.complement[first]]) / 2])
        fit_intercept = False
    else:
        rows = np.vstack([np.zeros((1, n), bool), np.ones((1, n), bool), z])
        target = np.concatenate([[v_empty, v_full], y])
        fit_intercept = True
    x = _design(rows, by_degree, basis)
    coef, intercept, fourier_error = _fit_surrogate(
        x, target, n, surrogate, fit_intercept
    )  # moebius: Lasso with intercept
    if surrogate == "auto" and basis == "fourier" and game.budget <= SPARSE_MOEBIUS_UP_TO * n:
        # Same folds of pairs, same target (half-differences): the lower held-out error wins.
        m_terms, m_coef, m_error = _sparse_moebius(z, y, v_empty, v_full, _moebius_order(n), design.complement)
        if m_error < fourier_error:
            return _corrected(z, y, design, v_empty, v_full, m_terms, m_coef, "moebius", v_empty)
    return _corrected(z, y, design, v_empty, v_full, terms, coef, basis, intercept)
