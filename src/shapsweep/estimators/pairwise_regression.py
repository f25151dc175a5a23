"""k-SII and FSII pairs by sparse regression on the game's even part, with per-pair standard errors.

Why the even part: in the +-1 coordinates x = 2z - 1 a game is a sum of Walsh characters f_A x_A. Both
k-SII (order 2) and FSII give no pair index to a character of odd degree (`interactions.pair_weight` summed
over a character's Moebius coefficients is 0 for |A| = 3, 5, 7), so they depend only on the even part
e(S) = (v(S) + v(N\\S)) / 2, which each complementary pair of the paired samples measures exactly (the
Shapley surrogates fit the half-differences: the odd part). Truncated at degree 2, e = f_0 + sum f_ij x_i x_j
and every order-2 index of the pair is 4 f_ij (m({i, j}) = 4 for x_i x_j); exact for games without even
terms above degree 2 (every sum of unanimity games of order <= 3).

Fit: Lasso over the products x_i x_j with its penalty chosen by K-fold cross-validation (sparse pairs are
found from fewer pairs than unknowns), then ordinary least squares on the pairs it kept (the Lasso's
shrinkage removed) where a quarter of the pairs remain as residual degrees of freedom. Standard errors are that refit's HC3 sandwich (MacKinnon and White 1985), given the
kept pairs (pairs left out get none): the plain sigma^2 (D^T D)^-1 covered 86% of the exact pairs of noisy
order-3 unanimity games at nominal 95% (the residual is the omitted terms, not white noise), HC3 98%
(tests/estimators/test_interaction_stderr.py). Above SCREEN_PLAYERS players only the pairs among the
players of largest |main effect| (a least-squares fit of the half-differences on x) are candidates.
References: Tibshirani 1996 (Lasso); MacKinnon and White 1985 (HC3); Fumagalli et al. 2024 (KernelSHAP-IQ, regression for interactions).
"""

from __future__ import annotations

import warnings

import numpy as np

SCREEN_PLAYERS = 64  # candidate pairs among at most 64 players: 2016 columns, a Lasso path in about a second
CV_FOLDS = 5
CV_ALPHAS = 30
MIN_RESIDUAL_DOF = 5  # fewer residual degrees of freedom than this: no standard error (sigma^2 is noise)
# The refit needs a quarter of the pairs as residual degrees of freedom. Nearer saturation (the Lasso keeps
# 222-254 pairs of 256 at n = 64, 8n) the refit fits the noise of the spurious pairs: relative error 1.03
# on the held-out SOUM games (worse than zeros) against 0.88 for the Lasso's own coefficients.
REFIT_DOF_SHARE = 0.25


def screened_players(x: np.ndarray, odd: np.ndarray, n: int) -> np.ndarray:
    """The SCREEN_PLAYERS players of largest |main effect| (all when n is at most that), sorted."""
    if n <= SCREEN_PLAYERS:
        return np.arange(n)
    main = np.linalg.lstsq(x, odd, rcond=None)[0]
    return np.sort(np.argsort(-np.abs(main), kind="stable")[:SCREEN_PLAYERS])


def fit_even_pairs(first: np.ndarray, even: np.ndarray, odd: np.ndarray, n: int, seed: int, alpha: float | None = None):
    """(matrix, stderr, details): order-2 k-SII / FSII of the pairs from the complementary pairs among the
    evaluations (interactions.pairwise_from_evaluations finds them): each pair's first coalition, its even
    part (v(S) + v(N\\S)) / 2 and its odd part (v(S) - v(N\\S)) / 2.

    matrix: (n, n) symmetric, zero diagonal; stderr: (n, n), NaN for pairs the fit left out, None when the
    refit would have too few residual degrees of freedom (REFIT_DOF_SHARE; the Lasso's coefficients are kept). None matrix (with the reason) when there are too few pairs.
    `alpha`: the Lasso's penalty, else chosen by cross-validation (`details.interactions_lasso_alpha`).
    """
    from sklearn.linear_model import Lasso, LassoCV
    from sklearn.model_selection import KFold

    m = len(first)
    if m < 2 * CV_FOLDS:
        return (
            None,
            None,
            {"interactions_reason": f"{m} complementary pairs among the evaluations, need {2 * CV_FOLDS}"},
        )
    x = 2.0 * first - 1.0
    players = screened_players(x, odd, n)
    ii, jj = (players[k] for k in np.triu_indices(len(players), 1))
    design = x[:, ii] * x[:, jj]
    coef, chosen = np.zeros(len(ii)), None
    if np.ptp(even) > 1e-12 * max(1.0, np.abs(even).max()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence notes at the smallest penalties of the path
            if alpha is None:
                folds = KFold(CV_FOLDS, shuffle=True, random_state=seed)
                lasso = LassoCV(cv=folds, alphas=CV_ALPHAS, max_iter=5000).fit(design, even)
                coef, chosen = lasso.coef_, float(lasso.alpha_)
            else:
                coef, chosen = Lasso(alpha=alpha, max_iter=5000).fit(design, even).coef_, alpha
    kept = np.flatnonzero(coef)
    details = {
        "interactions_from": f"even-part Lasso (CV penalty) + refit on {m} complementary pairs",
        "interactions_pairs_kept": len(kept),
        "interactions_candidates": len(ii),
        "interactions_lasso_alpha": chosen,
    }
    matrix, stderr = np.zeros((n, n)), np.full((n, n), np.nan)
    dof = m - len(kept) - 1
    if dof >= max(MIN_RESIDUAL_DOF, REFIT_DOF_SHARE * m):
        refit = np.hstack([np.ones((m, 1)), design[:, kept]])
        beta, *_ = np.linalg.lstsq(refit, even, rcond=None)
        bread = np.linalg.pinv(refit.T @ refit)
        residual = even - refit @ beta
        leverage = np.einsum("ij,jk,ik->i", refit, bread, refit)
        # HC3: each row's squared residual inflated by its leverage (a row the fit passes through adds 0)
        inflated = np.where(leverage < 1 - 1e-8, residual**2 / np.maximum(1 - leverage, 1e-8) ** 2, 0.0)
        cov = bread @ (refit.T * inflated) @ refit @ bread
        coef[kept] = beta[1:]
        stderr[ii[kept], jj[kept]] = 4 * np.sqrt(np.maximum(np.diag(cov)[1:], 0.0))
        stderr = np.fmin(stderr, stderr.T)
        np.fill_diagonal(stderr, 0.0)
    else:
        stderr = None
        details["interactions_from"] = f"even-part Lasso (CV penalty) on {m} complementary pairs"
        details["interactions_stderr_reason"] = (
            f"{len(kept)} pairs kept from {m} complementary pairs: too few left for a refit and its standard errors"
        )
    matrix[ii, jj] = 4 * coef
    return matrix + matrix.T, stderr, details
