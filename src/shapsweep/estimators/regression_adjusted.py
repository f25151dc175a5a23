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
  dense low-degree games (MiniLM, SOUM at <= 32n), Lasso on sparse ones at large budgets.
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
SURROGATES = ("auto", "ridge", "lasso")
RIDGE_PENALTIES = np.logspace(-5, 2, 15)


def _terms(n: int, degree: int, basis: str) -> list[tuple[int, ...]]:
    degrees = range(1, degree + 1, 2) if basis == "fourier" else range(1, degree + 1)
    return [t for k in degrees for t in itertools.combinations(range(n), k)]


def _design(z: np.ndarray, terms_by_degree: dict[int, np.ndarray], basis: str) -> np.ndarray:
    x = np.where(z, 1.0, -1.0) if basis == "fourier" else z.astype(np.float64)
    cols = []
    for k, idx in terms_by_degree.items():
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
            return lasso.coef_, float(lasso.intercept_)
    errors = np.zeros(len(RIDGE_PENALTIES))
    for train, test in folds:
        for j, beta in enumerate(_ridge_path(x[train], t[train], n_free, RIDGE_PENALTIES)):
            errors[j] += np.mean((t[test] - x[test] @ beta) ** 2) / len(folds)
    if lasso is not None and lasso.mse_path_.mean(axis=1).min() < errors.min():
        return lasso.coef_, 0.0
    return _ridge_path(x, t, n_free, [RIDGE_PENALTIES[int(np.argmin(errors))]])[0], 0.0


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
        raise ValueError(f"option basis={basis!r} is not valid for method 'regression_adjusted'; valid: {', '.join(BASES)}")
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
    coef, intercept = _fit_surrogate(x, target, n, surrogate, fit_intercept)  # moebius: Lasso with intercept
    phi_surrogate = _surrogate_shapley(n, terms, coef, basis)

    ends = np.array([np.zeros(n, bool), np.ones(n, bool)])
    predict = lambda rows_: _design(rows_, by_degree, basis) @ coef + intercept  # noqa: E731
    r_ends = np.array([v_empty, v_full]) - predict(ends)
    residual = y - predict(z)
    phi_residual = constrained_wls(z, residual, design.weights, r_ends[0], r_ends[1])
    return phi_surrogate + phi_residual, None
