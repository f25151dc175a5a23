r"""msr's `unanimity_kernel` candidate: Banzhaf values of the unanimity prior's kernel fit of both halves.

Why: at 8n (4-6 pairs a player) an order-5 game's odd terms of degree >= 3 are too weak for any screen
(odd_sets, odd_triples) and the order-3 pair-and-triple fit misreads its 4- and 5-sets, so msr kept the
linear fit there. A Gaussian prior on the unanimity (Moebius) coefficients, c_T ~ N(0, w_k / C(n, k)) per
order k <= K (unanimity_kernel.py), ties every odd and even term of a set to one coefficient, so the pairs'
even parts (v(S) + v(N \ S)) / 2 inform their odd parts; the posterior mean shrinks rather than selects.
Measured on tuning seeds 0-23, 8n (docs/estimators.md, issue 22 section 2, round 10).
How: the posterior mean of v is sum_r alpha_r cov(v, y_r) over the pairs' odd and even rows y, and the
Banzhaf value of a kernel section is value_banzhaf_rows. The order K and the noise are
chosen by leave-one-pair-out error of the odd parts (each pair's two rows left out together, as in
fourier_kernel.py) on at most SELECT_PAIRS pairs; the fit uses every pair. It competes in msr's auto by
its K-fold error of the odd parts relative to the linear fit's on the same folds (`FOLDS`), read off the
inverse of the fitted Gram matrix (the held-out residual of a block B is M_BB^-1 (M y)_B).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from .fourier_kernel import NOISE, pair_out_path
from .unanimity_kernel import MAX_ORDERS as UNANIMITY_ORDERS
from .unanimity_kernel import prior as unanimity_prior
from .unanimity_kernel import value_banzhaf_rows, value_gram

FOLDS = 5
# The prior and noise are chosen on at most this many pairs (one eigh of twice as many rows per order):
# at n = 128, 8n (513 rows) all four orders on every pair cost about 0.9 CPU s, over msr's 1 s with the rest.
SELECT_PAIRS = 256


def _select(x: np.ndarray, t: np.ndarray, even: np.ndarray) -> tuple[float, int, float]:
    """(least leave-one-pair-out error of the odd parts, its order K, its relative noise)."""
    best = (np.inf, UNANIMITY_ORDERS[0], float(NOISE[0]))
    for order in UNANIMITY_ORDERS:
        if order > x.shape[1]:
            continue
        err, rel = pair_out_path(value_gram(x, x, unanimity_prior(order)), t, even)
        if err < best[0]:
            best = (err, order, rel)
    return best


def fit_banzhaf_unanimity(x: np.ndarray, t: np.ndarray, even: np.ndarray, rng: np.random.Generator):
    """Banzhaf values, OLS-style stderr, the linear fit's and this fit's K-fold errors, and details.

    x: (p, n) +-1 rows (the all-present row, then each pair's first coalition); t, even: the pairs' odd and
    even parts. The standard errors are the linear fit's OLS ones with this fit's held-out error as the
    residual variance, the rule of msr's other fitted candidates.
    """
    p = len(x)
    sub = np.sort(rng.permutation(p)[:SELECT_PAIRS]) if p > SELECT_PAIRS else np.arange(p)
    _err, order, rel = _select(x[sub], t[sub], even[sub])
    weights = unanimity_prior(order)
    joint = value_gram(x, x, weights)
    lam = rel * max(float(np.mean(np.diag(joint))), 1e-300)
    inverse = cho_solve(cho_factor(joint + lam * np.eye(2 * p)), np.eye(2 * p))
    alpha = inverse @ np.concatenate([t, even])
    values = alpha @ value_banzhaf_rows(x, weights)
    fold = rng.permutation(p) % FOLDS
    held_fit = held_linear = 0.0
    for k in range(FOLDS):
        held = np.flatnonzero(fold == k)
        rows = np.concatenate([held, held + p])  # a pair's odd and even rows leave together
        residual = np.linalg.solve(inverse[np.ix_(rows, rows)], alpha[rows])[: len(held)]
        held_fit += float(residual @ residual)
        coef = np.linalg.lstsq(x[fold != k], t[fold != k], rcond=None)[0]
        held_linear += float(np.sum((t[held] - x[held] @ coef) ** 2))
    held_fit, held_linear = held_fit / p, held_linear / p
    pinv = np.linalg.pinv(x)
    sigma2 = max(held_fit, 1e-16 * float(t @ t) / p)
    stderr = 2 * np.sqrt(np.clip(np.einsum("ij,ij->i", pinv, pinv) * sigma2, 0.0, None))
    details = {
        "unanimity_kernel_cv": f"{FOLDS}-fold error: linear {held_linear:.4g}, unanimity prior {held_fit:.4g} "
        f"(orders <= {order}, noise {rel:.3g})"
    }
    return values, stderr, held_linear, held_fit, details
