"""k-SII / FSII pairs from a sparse unanimity fit of order 3 to both halves of the complementary pairs.

Why: an order-2 index of a pair also holds shares of the triples around it (k-SII_ij = m_ij + sum_k
m_ijk / 2). Fitted on the even part alone (pairwise_regression.py), a triple is three unrelated pair
coefficients, so a game with t triples asks for 3t pair unknowns; past identifiability (SOUM n = 64 at
8n: ~170 non-zero pairs from 256 complementary pairs) the Lasso kept 222-254 pairs at 0.88 relative
error. Here a triple is one unknown seen twice: in the odd part as x_i x_j x_k / 8 and in the even part
as (x_i x_j + x_i x_k + x_j x_k) / 8 (x = 2z - 1; [T subset S] expanded into Walsh characters), and a pair
is one unknown m_ij, x_i x_j / 4 in the even part. The main effects (odd, degree 1) and the constant
(even) are free: projected out of both sides.

Fit: iteratively reweighted ridge (the sparse_moebius.py recipe: ridge with a prior variance per atom,
reset every round from its |coefficient|, penalty by closed-form leave-one-out error), which reached
sparser fits than the Lasso on these designs. The penalty is chosen in round 0 (one eigh); while the
atoms outnumber the rows (2048 against at most 514 at n = 32-64, 8n) the reweighting rounds solve at it
by Cholesky: there the leave-one-out choice stayed at round 0's in every round of every fit checked, and
an eigh per round was half the fit's cost. With fewer atoms than rows each round chooses its own.
The reset is |coefficient|^POWER (scaled), not |coefficient|: with the Lasso-like power 1 every kept atom pays the same shrinkage, and the strongest
pairs came out 10-45% short of their values; a power above 1 leans toward a sparse (ARD-like) prior
that shrinks the large atoms less and the small ones more. Round 0 covers every pair and all C(n, 3) triples at once
through their kernel in closed form (`triple_kernels`: it depends on two coalitions only through their
overlap counts, so no (rows x C(n, 3)) design is built); later rounds keep the KEEP strongest atoms,
halving to KEEP_MIN. The pair indices are read from the fitted atoms in closed form (interactions.from_moebius).
Reference: Tipping 2001 (sparse Bayesian learning); Fumagalli et al. 2023 (SOUM games, SHAP-IQ).
"""

from __future__ import annotations

import numpy as np

TRIPLE_PRIOR = 0.05  # round 0: a triple's prior variance relative to a pair's (there are n / 3 times more)
ROUNDS = 24  # reweighting rounds; relative error on the tuning games kept falling to ~24 (0.76 at 6, 0.69 at 24)
KEEP = 16384  # atoms kept after round 0 (4096 lost the gain: 0.83 on the tuning games)
KEEP_MIN = 2048  # ...halved every round down to this
REL_FLOOR = 1e-3  # each atom's prior variance is max |coef| ((|coef| / max |coef|)^POWER + REL_FLOOR): solvable
POWER = 1.5  # prior variance grows faster than |coef| (1: the Lasso-like reset): large atoms are shrunk less;
# k-SII relative error on the tuning games 3000-3011, 8n: n = 64 0.70 -> 0.59, n = 32 0.53 -> 0.25 (1.25, 1.75, 2:
# 0.61, 0.58, 0.61 at n = 64; 0.25, 0.24, 0.27 at n = 32)


def triple_kernels(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(odd-odd, odd-even, even-even) Gram matrices of all C(n, 3) triple atoms' unscaled columns.

    Atom T: odd column x_T, even column e2(x on T) = sum of the products of T's three pairs. With p = x_s * x_t
    (+-1), P1 = sum p, U = sum x_s, V = sum x_t, summing over all triples gives (Newton's identities):
    oo = e3(p); oe = U (e2(p) + 1) - V P1; ee = (n - 2) e2(p) + U V P1 - U^2 - V^2 - P1^2 + 2n.
    """
    n = x.shape[1]
    p1 = x @ x.T
    u = x.sum(axis=1)
    e2 = (p1**2 - n) / 2
    oo = (p1**3 - 3 * n * p1 + 2 * p1) / 6
    oe = u[:, None] * (e2 + 1) - u[None, :] * p1
    ee = (n - 2) * e2 + np.outer(u, u) * p1 - u[:, None] ** 2 - u[None, :] ** 2 - p1**2 + 2 * n
    return oo, oe, ee


def _loo_ridge(k: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, float]:
    """(dual ridge coefficients, penalty) at the penalty of KERNEL_PENALTIES with the least leave-one-out
    error (sparse_moebius's closed form, one eigh)."""
    from .sparse_moebius import KERNEL_PENALTIES

    evals, u = np.linalg.eigh(k)
    evals = np.clip(evals, 0.0, None)
    ut, u2 = u.T @ t, u**2
    errors = [np.mean((u @ (ut / (evals + lam)) / (u2 @ (1.0 / (evals + lam)))) ** 2) for lam in KERNEL_PENALTIES]
    lam = KERNEL_PENALTIES[int(np.argmin(errors))]
    return u @ (ut / (evals + lam)), lam


def _ridge(k: np.ndarray, t: np.ndarray, lam: float) -> np.ndarray:
    """(k + lam I)^-1 t by Cholesky: a tenth of an eigh at 514 rows."""
    from scipy.linalg import cho_factor, cho_solve

    k = k.copy()
    k.flat[:: len(k) + 1] += lam
    return cho_solve(cho_factor(k, lower=True, check_finite=False), t, check_finite=False)


def fit_pairs_and_triples(first: np.ndarray, even: np.ndarray, odd: np.ndarray, rounds: int | None = None):
    """Moebius coefficients of the pairs and the kept triples: (members (atoms, n) bool, coef (atoms,)).

    first: (m, n) bool, each complementary pair's first coalition; even, odd: its (v(S) + v(N\\S)) / 2
    and (v(S) - v(N\\S)) / 2. rounds: reweighting rounds (ROUNDS unless given).
    """
    rounds = ROUNDS if rounds is None else rounds
    from itertools import combinations

    m, n = first.shape
    x = 2.0 * first - 1.0
    pinv = np.linalg.pinv(x)
    proj_odd = np.eye(m) - x @ pinv  # the main effects are free
    proj_even = np.eye(m) - 1.0 / m  # the constant is free
    y = np.concatenate([proj_odd @ odd, proj_even @ even])
    ii, jj = np.triu_indices(n, 1)
    pair_even = _centred(x[:, ii] * x[:, jj]) / 4  # proj_even @ M as M minus its column means: m x cheaper
    oo, oe, ee = triple_kernels(x)
    scale = TRIPLE_PRIOR / 64
    k_triples = scale * np.block(
        [
            [proj_odd @ oo @ proj_odd, proj_odd @ oe @ proj_even],
            [proj_even @ oe.T @ proj_odd, proj_even @ ee @ proj_even],
        ]
    )
    k_pairs = np.zeros((2 * m, 2 * m))
    k_pairs[m:, m:] = pair_even @ pair_even.T
    alpha, lam = _loo_ridge(k_pairs + k_triples, y)
    # Round 0's coefficients of every atom: pairs directly, triples by contracting alpha with their columns
    a_odd, a_even = proj_odd @ alpha[:m], proj_even @ alpha[m:]
    beta_pairs = pair_even.T @ alpha[m:]
    weighted = x * a_odd[:, None]
    odd_score = (x[:, ii] * x[:, jj]).T @ weighted  # (pairs, n): sum_s a_odd x_i x_j x_k
    even_pair = (x[:, ii] * x[:, jj]).T @ a_even  # per pair: sum_s a_even x_i x_j
    pos = np.zeros((n, n), dtype=np.int64)
    pos[ii, jj] = np.arange(len(ii))
    triples = np.array(list(combinations(range(n), 3)), dtype=np.int64).reshape(-1, 3)
    ti, tj, tk = triples.T
    beta_triples = (
        TRIPLE_PRIOR
        * (odd_score[pos[ti, tj], tk] + even_pair[pos[ti, tj]] + even_pair[pos[ti, tk]] + even_pair[pos[tj, tk]])
        / 8
    )
    beta = np.concatenate([beta_pairs, beta_triples])
    keep = _strongest(beta, np.arange(len(beta)), min(KEEP, len(beta)))
    if rounds > 0 and len(keep) > KEEP_MIN:  # round 1's halving, before any column is built: half as many built
        keep = _strongest(beta, keep, max(KEEP_MIN, len(keep) // 2))
    members = np.zeros((len(keep), n), bool)
    is_pair = keep < len(ii)
    members[np.flatnonzero(is_pair), ii[keep[is_pair]]] = True
    members[np.flatnonzero(is_pair), jj[keep[is_pair]]] = True
    kept_triples = triples[keep[~is_pair] - len(ii)]
    members[np.flatnonzero(~is_pair)[:, None], kept_triples] = True
    design = np.zeros((2 * m, len(keep)))  # each atom's projected odd rows over its projected even rows
    design[m:, is_pair] = pair_even[:, keep[is_pair]]  # a pair: even rows only
    a, b, c = (x[:, kept_triples[:, k]] for k in range(3))
    odd_cols = a * b * c / 8
    design[:m, ~is_pair] = odd_cols - x @ (pinv @ odd_cols)  # proj_odd @ M without the m x m product
    design[m:, ~is_pair] = _centred(a * b + a * c + b * c) / 8
    beta = beta[keep]
    for r in range(rounds):
        if r > 0 and len(beta) > KEEP_MIN:
            sel = _strongest(beta, np.arange(len(beta)), max(KEEP_MIN, len(beta) // 2))
            design, beta, members = design[:, sel], beta[sel], members[sel]
        top = np.abs(beta).max()
        w = top * ((np.abs(beta) / top) ** POWER + REL_FLOOR)
        scaled = design * np.sqrt(w)  # B B' is a symmetric rank-k product (syrk): half the flops of (D W) D'
        kernel = scaled @ scaled.T
        # with at least as many atoms as rows the kernel has full rank on the projections' range and the
        # leave-one-out choice stayed at round 0's penalty; with fewer it moved (n = 12, 40 atoms, 80 rows)
        alpha = _ridge(kernel, y, lam) if len(beta) >= 2 * m else _loo_ridge(kernel, y)[0]
        beta = w * (design.T @ alpha)
    return members, beta


def _strongest(beta: np.ndarray, among: np.ndarray, k: int) -> np.ndarray:
    """The k entries of `among` (ascending indices into beta) with the largest |beta|, ties to the lower index;
    ascending."""
    return among[np.sort(np.argsort(-np.abs(beta[among]), kind="stable")[:k])]


def _centred(cols: np.ndarray) -> np.ndarray:
    return cols - cols.mean(axis=0)
