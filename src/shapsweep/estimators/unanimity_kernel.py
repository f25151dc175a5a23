r"""Odd part of a Gaussian prior on unanimity (Moebius) coefficients: a second prior for the kernel fit.

Why: the Fourier kernel (fourier_kernel.py) puts independent priors on the odd characters of each
degree. A sum of unanimity games u_T(S) = [T subset of S] ties them: u_T's odd part has the same
coefficient 2^-|T| on every odd subset of T, so a game's main effects, triples and 5-sets move together.
A Gaussian prior c_T ~ N(0, w_k / C(n, k)) per order k = |T| <= K keeps that tie. Measured (SOUM n = 256,
tuning seeds 0-11, median error against the Fourier prior): on the odd parts at 16n order <= 5 0.1289 ->
0.1255, order <= 3 0.0700 -> 0.0703; on both halves of the pairs at 8n (below) order <= 5 0.1983 -> 0.1940,
order <= 3 0.1111 -> 0.1058 (docs/estimators.md, issue 22's seventh round).
How: the odd part of u_T at S is ([T in S] - [T in N \ S]) / 2, so with a, b, c, d the sizes of
S & S', S - S', S' - S and N - (S | S'),
    k(S, S') = sum_k w_k / C(n, k) / 4 * (C(a, k) - C(b, k) - C(c, k) + C(d, k)),
one integer product for a and four lookups in a table per pair of rows, however many sets there are.
The Shapley value of u_T is 1/|T| to each member, so a kernel section k(., S_p) gives player i
sum_k w_k / C(n, k) / (2k) * (C(|S_p| - 1, k - 1) if i in S_p else -C(n - |S_p| - 1, k - 1)).
Reference: Grabisch, "Set functions, games and capacities in decision making" (2016), for the Moebius
transform; the kernel is the posterior mean under the odd part of such a prior, fitted to half-differences
of complementary pairs as in fourier_kernel.py.
"""

from __future__ import annotations

import numpy as np
from scipy.special import comb

# Priors tried (the highest order K; w_k = 1 for k = 1..K, equal variance per order): chosen with the
# noise by leave-one-out error, against the Fourier prior, on the same rows (fourier_kernel.py). A first
# grid also had w_k = 0.5^(k-1) and 2^(k-1) and K = 2: chosen on some order-3 games, the same medians
# (SOUM n = 256, seeds 0-11, odd parts only), at twice the selection's cost.
MAX_ORDERS = (3, 4, 5, 6)


def _counts(a: np.ndarray, b: np.ndarray):
    """(|S & S'|, |S - S'|, |S' - S|, |N - (S | S')|) for every pair of +-1 rows (integers)."""
    pa, pb = a > 0, b > 0
    # 0/1 entries: the float32 product is exact (integers below 2^24)
    both = np.rint(pa.astype(np.float32) @ pb.T.astype(np.float32)).astype(np.int64)
    sa = pa.sum(axis=1, dtype=np.int64)[:, None]
    sb = pb.sum(axis=1, dtype=np.int64)[None, :]
    return both, sa - both, sb - both, a.shape[1] - sa - sb + both


def _table(n: int, weights: dict[int, float]) -> np.ndarray:
    """sum_k w_k C(j, k) / C(n, k) / 4 for j = 0..n."""
    j = np.arange(n + 1)
    return sum(w * comb(j, k) / comb(n, k) for k, w in weights.items()) / 4


def prior(max_order: int) -> dict[int, float]:
    """w_k = 1 for every order k = 1..max_order (each order's sets share one unit of variance)."""
    return dict.fromkeys(range(1, max_order + 1), 1.0)


def kernel_matrix(a: np.ndarray, b: np.ndarray, weights: dict[int, float]) -> np.ndarray:
    """Covariance of the odd parts at +-1 rows a and b under the unanimity prior `weights` (order -> w_k)."""
    table = _table(a.shape[1], weights)
    both, only_a, only_b, neither = _counts(a, b)
    return table[both] - table[only_a] - table[only_b] + table[neither]


def odd_variance(s: np.ndarray, weights: dict[int, float]) -> np.ndarray:
    """diag(kernel_matrix(s, s)): |S & S| = |S|, |N - S| the rest, and nothing in either difference."""
    table = _table(s.shape[1], weights)
    size = (s > 0).sum(axis=1)
    return table[size] - 2 * table[0] + table[s.shape[1] - size]


def shapley_rows(s: np.ndarray, weights: dict[int, float]) -> np.ndarray:
    """(p, n): row p is the Shapley values of the kernel section k(., s_p)."""
    n = s.shape[1]
    inside = s > 0
    size = inside.sum(axis=1, keepdims=True)
    out = np.zeros(s.shape)
    for k, w in weights.items():
        unit = w / comb(n, k) / (2 * k)
        out += unit * np.where(inside, comb(size - 1, k - 1), -comb(n - size - 1, k - 1))
    return out


# --- The same prior on whole values: a pair's even part (v(S) + v(N \ S)) / 2 then informs its odd part.
# Under the Fourier prior the two are independent, so only half-differences are fitted; under the
# unanimity prior they share the coefficients c_T, and fitting both halves of every pair is a second
# look at the same c_T. Measured (SOUM n = 256, 8n, tuning seeds 0-11): order <= 5 lower on 12 of 12
# games, order <= 3 on 11 of 12, against the odd-part fit (docs/estimators.md). The system has two rows
# per pair (odd, even), so it is used only where that is cheap enough (n = 256 at 8n: 2,048 rows).


def value_blocks(a: np.ndarray, b: np.ndarray, weights: dict[int, float]):
    """(odd-odd, odd-even, even-odd, even-even) covariances between the pairs of +-1 rows a and b.

    v has covariance 1 + sum_k w_k C(|S & S'|, k) / C(n, k) (the 1 is the empty set's constant); the odd
    and even parts of a pair are (v(S) -+ v(N \\ S)) / 2.
    """
    table = 4 * _table(a.shape[1], weights)  # sum_k w_k C(j, k) / C(n, k)
    both, only_a, only_b, neither = _counts(a, b)
    ta, tb, tc, td = table[both], table[only_a], table[only_b], table[neither]
    return (
        (ta - tb - tc + td) / 4,
        (ta + tb - tc - td) / 4,
        (ta - tb + tc - td) / 4,
        (ta + tb + tc + td) / 4 + 1.0,
    )


def value_gram(a: np.ndarray, b: np.ndarray, weights: dict[int, float]) -> np.ndarray:
    """The joint covariance [[odd-odd, odd-even], [even-odd, even-even]] (rows: a's odd, then a's even)."""
    oo, oe, eo, ee = value_blocks(a, b, weights)
    return np.block([[oo, oe], [eo, ee]])


def value_shapley_rows(s: np.ndarray, weights: dict[int, float]) -> np.ndarray:
    """(2p, n): Shapley values of the covariance of v with each pair's odd part, then with its even part
    (u_T gives 1 / |T| to each member)."""
    return _value_rows(s, weights, lambda k: k)


def value_banzhaf_rows(s: np.ndarray, weights: dict[int, float]) -> np.ndarray:
    """(2p, n): Banzhaf values of the covariance of v with each pair's odd part, then with its even part.

    u_T gives 2^(1 - |T|) to each member, so cov(v, v(S_p)) gives player i
    sum_k w_k / C(n, k) 2^(1 - k) C(|S_p| - 1, k - 1) if i is in S_p, else 0 (msr's unanimity_kernel candidate).
    """
    return _value_rows(s, weights, lambda k: 2.0 ** (k - 1))


def _value_rows(s: np.ndarray, weights: dict[int, float], parts) -> np.ndarray:
    """The value rows of the index whose u_T gives 1 / `parts(|T|)` to each member of T."""
    n = s.shape[1]
    inside = s > 0
    size = inside.sum(axis=1, keepdims=True)
    own, other = np.zeros(s.shape), np.zeros(s.shape)  # the values of cov(v, v(S_p)), cov(v, v(N \ S_p))
    for k, w in weights.items():
        unit = w / comb(n, k) / parts(k)
        own += unit * np.where(inside, comb(size - 1, k - 1), 0.0)
        other += unit * np.where(inside, 0.0, comb(n - size - 1, k - 1))
    return np.vstack([(own - other) / 2, (own + other) / 2])


def pair_out_odd(inverse_blocks, alpha_odd: np.ndarray, alpha_even: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Leave-one-pair-out predictions of the odd parts t: each pair's odd and even rows left out together.

    inverse_blocks: (M_oo, M_oe, M_ee) at each pair, entries of M = (K + lambda I)^-1; the held-out
    residual of a block B is M_BB^-1 (M y)_B, and (alpha_odd, alpha_even) = M y at the pairs' two rows.
    """
    m_oo, m_oe, m_ee = inverse_blocks
    det = m_oo * m_ee - m_oe**2
    return t - (m_ee * alpha_odd - m_oe * alpha_even) / det
