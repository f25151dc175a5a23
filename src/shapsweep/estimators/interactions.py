"""Pairwise interaction indices (order 2): k-SII, FSII, STII, from Moebius coefficients.

What: every index of order 2 spreads each Moebius (unanimity) coefficient m(T), |T| >= 2, over the pairs
inside T with a weight that depends only on |T| = t:
- k-SII (order 2; its pairs are the Shapley interaction index's): 1 / (t - 1);
- STII (Shapley-Taylor): 1 / C(t, 2), every pair of T an equal share;
- FSII (Faith-Shap): 1 for t = 2, else C(t-1, 2) / (2 C(t+1, 4)), the pairs' coefficients of the best
  Shapley-kernel-weighted 2-additive fit (tests/estimators/test_interactions.py checks it against that fit).
So the matrix is Z^T diag(w(|T|) m(T)) Z over the coalitions T, and any game known by its Moebius
coefficients gets its indices in closed form: the exact table of a small game (`exact_pairwise`), a sum of
unanimity games, or a sparse unanimity surrogate fitted to sampled coalitions (the same evaluations as
the values: no extra model cost). k-SII and FSII of sampled games come from the even-part regression of
pairwise_regression.py where it identifies the pairs, else from the pair-and-triple fit of
pair_triple_fit.py (`pairwise_from_evaluations` says when); fits without standard errors of their own get
the jackknife of interaction_jackknife.py.
References: Grabisch and Roubens 1999 (SII); Bord et al. 2023 (k-SII); Tsai, Yeh and Ravikumar 2023
(Faith-Shap); Sundararajan, Dhamdhere and Agarwal 2020 (Shapley-Taylor); Fumagalli et al., "SHAP-IQ", 2023.
"""

from __future__ import annotations

import numpy as np
from scipy.special import comb

from .exact import all_coalitions

INTERACTION_INDICES = ("k-SII", "FSII", "STII")


def pair_weight(size: np.ndarray, index: str) -> np.ndarray:
    """Weight of a Moebius coefficient of a coalition of `size` players on each pair inside it."""
    t = np.asarray(size, dtype=np.float64)
    if index == "k-SII":
        w = 1.0 / np.maximum(t - 1, 1)
    elif index == "STII":
        w = 1.0 / np.maximum(comb(t, 2), 1)
    elif index == "FSII":
        w = np.where(t == 2, 1.0, comb(t - 1, 2) / (2 * np.maximum(comb(t + 1, 4), 1)))
    else:
        raise ValueError(f"unknown interaction index {index!r}; valid: {', '.join(INTERACTION_INDICES)}")
    return np.where(t >= 2, w, 0.0)


def moebius_transform(values: np.ndarray, n: int) -> np.ndarray:
    """m(T) = sum_{S subset T} (-1)^{|T|-|S|} v(S), over all_coalitions(n) order (bit i = player i)."""
    m = np.array(values, dtype=np.float64)
    codes = np.arange(2**n)
    for i in range(n):
        with_i = codes[(codes >> i) & 1 == 1]
        m[with_i] -= m[with_i ^ (1 << i)]
    return m


def from_moebius(members: np.ndarray, coef: np.ndarray, n: int, index: str) -> np.ndarray:
    """(n, n) symmetric matrix of pairwise indices (zero diagonal) of sum_T coef_T [T subset S].

    Args:
        members: (terms, n) bool, row T marks the players of term T.
        coef: (terms,) Moebius coefficients.
    """
    z = np.asarray(members, dtype=np.float64).reshape(-1, n)
    w = pair_weight(z.sum(axis=1), index) * np.asarray(coef, dtype=np.float64)
    matrix = z.T @ (z * w[:, None])
    np.fill_diagonal(matrix, 0.0)
    return matrix


def exact_pairwise(values: np.ndarray, n: int, index: str) -> np.ndarray:
    """Pairwise indices of a game given as v over all_coalitions(n) (exact; 2^n values)."""
    return from_moebius(all_coalitions(n), moebius_transform(values, n), n, index)


def top_pairs(matrix: np.ndarray, k: int) -> list[tuple[int, int, float]]:
    """The k pairs (i < j) of largest |index|, largest first, as (i, j, value); ties by (i, j)."""
    i, j = np.triu_indices(len(matrix), 1)
    order = np.lexsort((j, i, -np.abs(matrix[i, j])))[:k]
    return [(int(i[o]), int(j[o]), float(matrix[i[o], j[o]])) for o in order]


# Indices that give odd Walsh characters no pair index: they depend on the even part alone, which the
# complementary pairs measure directly (pairwise_regression.py). STII does not (its weight on |T| = 3 is 1/3).
EVEN_PART_INDICES = ("k-SII", "FSII")
# Where the even-part Lasso does not identify the pairs, the order-3 fit of pair_triple_fit.py, on the
# players and pairs it was tuned on (SOUM order <= 3, seeds 0-5, k-SII relative error: n = 64, 8n 0.70
# against the Lasso's 0.88; n = 32, 8n 0.56 against the unanimity surrogate's 0.65). At n = 64, 16n (512
# pairs) it was 0.31 against the Lasso's 0.32 at 10 s instead of 4 s, so it stops at 256 pairs.
TRIPLE_FIT_PLAYERS = (32, 64)
TRIPLE_FIT_MAX_PAIRS = 256


def pairwise_from_evaluations(z: np.ndarray, v: np.ndarray, n: int, index: str, rng: np.random.Generator):
    """Pairwise indices of a game from the coalitions an estimator already evaluated (no new evaluations).

    Every coalition evaluated: exact (standard errors 0). Otherwise, for k-SII and FSII, the even-part
    regression (`pairwise_regression.fit_even_pairs`, with standard errors) where it identifies the pairs:
    at least half as many complementary pairs as candidate pairs, or n too large for the sparse unanimity
    surrogate to hold triples (`sparse_moebius.moebius_order` < 3), but for n in TRIPLE_FIT_PLAYERS up to
    TRIPLE_FIT_MAX_PAIRS pairs the pair-and-triple fit (`pair_triple_fit.fit_pairs_and_triples`).
    Otherwise (and for STII) the sparse unanimity surrogate of regression_adjusted
    (`sparse_moebius.fit_on_pairs`) fitted to the complementary pairs, its indices read in closed form: on
    sums of unanimity games with fewer pairs than that it was the better of the two (docs/estimators.md).
    Fits without standard errors of their own get the jackknife's (`interaction_jackknife`). Returns
    (matrix, stderr, details); matrix None (with the reason) when there are too few pairs or no empty and
    full coalition.
    """
    from .pair_triple_fit import fit_pairs_and_triples
    from .paired_design import PairedSample
    from .pairwise_regression import SCREEN_PLAYERS, fit_even_pairs
    from .sparse_moebius import fit_on_pairs, moebius_order

    pair_weight(np.array([2]), index)  # refuse an unknown index before any work
    z = np.asarray(z, dtype=bool)
    codes = z.astype(np.int64) @ (1 << np.arange(n, dtype=np.int64)) if n < 63 else None
    if codes is not None and len(np.unique(codes)) == 2**n:
        values = np.empty(2**n)
        values[codes] = v
        exact = exact_pairwise(values, n, index)
        return exact, np.zeros_like(exact), {"interactions_from": "exact (every coalition evaluated)"}
    keys = {row.tobytes(): k for k, row in enumerate(np.packbits(z, axis=1))}
    empty, full = keys.get(np.packbits(np.zeros(n, bool)).tobytes()), keys.get(np.packbits(np.ones(n, bool)).tobytes())
    proper = [k for k in range(len(z)) if k not in (empty, full)]
    partner = {k: keys.get(np.packbits(~z[k]).tobytes()) for k in proper}
    paired = [k for k in proper if partner[k] is not None]
    if empty is None or full is None or len(paired) < 2 * (n + 1):
        return (
            None,
            None,
            {"interactions_reason": f"{len(paired) // 2} complementary pairs among the evaluations, need {n + 1}"},
        )
    candidates = comb(min(n, SCREEN_PLAYERS), 2)
    identified = len(paired) // 2 >= candidates / 2
    with_triples = TRIPLE_FIT_PLAYERS[0] <= n <= TRIPLE_FIT_PLAYERS[1] and len(paired) // 2 <= TRIPLE_FIT_MAX_PAIRS
    if index in EVEN_PART_INDICES and (identified or with_triples or moebius_order(n) < 3):
        mate = {**partner, empty: full, full: empty}  # the empty and full coalitions are a pair too
        a = np.array([k for k in range(len(z)) if mate.get(k) is not None and k < mate[k]], dtype=np.int64)
        b = np.array([mate[k] for k in a], dtype=np.int64)
        even, odd = (v[a] + v[b]) / 2, (v[a] - v[b]) / 2
        if identified or not with_triples:
            matrix, stderr, details = fit_even_pairs(z[a], even, odd, n, seed=int(rng.integers(2**31)))
            if matrix is None or stderr is not None:
                return matrix, stderr, details

            penalty = details["interactions_lasso_alpha"]

            def fit(kept):
                # the full fit's penalty: choosing it again in each repeat cost 3x more (n = 64, 16n) for the same coverage
                return fit_even_pairs(z[a][kept], even[kept], odd[kept], n, seed=0, alpha=penalty)[0]

        else:

            def fit(kept):
                return from_moebius(*fit_pairs_and_triples(z[a][kept], even[kept], odd[kept]), n, index)

            matrix = fit(np.arange(len(a)))
            details = {
                "interactions_from": f"pairs and triples (sparse unanimity fit, order 3) on {len(a)} complementary pairs"
            }
        return matrix, *_with_jackknife(fit, len(a), rng, details)
    first_rows = [k for k in paired if k < partner[k]]

    def surrogate(kept):
        chosen = [k for p in kept for k in (first_rows[p], partner[first_rows[p]])]
        position = {k: p for p, k in enumerate(chosen)}
        rows = z[chosen]
        complement = np.array([position[partner[k]] for k in chosen])
        sample = PairedSample(rows, np.ones(len(rows)), complement, False)
        first = np.arange(len(rows)) < complement
        _error, (terms, coef, _odd, fitted), _honest, _rows = fit_on_pairs(
            sample, v[chosen], v[empty], v[full], first, rng
        )
        members = np.zeros((len(terms), n), bool)
        for row, term in zip(members, terms, strict=True):
            row[list(term)] = True
        return from_moebius(members, coef, n, index), fitted

    matrix, fitted = surrogate(np.arange(len(first_rows)))
    details = {"interactions_from": f"sparse Moebius surrogate on {fitted} pairs"}
    return matrix, *_with_jackknife(lambda kept: surrogate(kept)[0], len(first_rows), rng, details)


def _with_jackknife(fit, pairs: int, rng: np.random.Generator, details: dict):
    """(stderr, details) of a fit without standard errors of its own (interaction_jackknife.py)."""
    from .interaction_jackknife import FOLDS, jackknife_stderr

    if pairs < 4 * FOLDS:  # each repeat keeps at least 16 pairs (the Lasso's 5 folds need 10)
        return None, {
            **details,
            "interactions_stderr_reason": f"{pairs} complementary pairs, the jackknife needs {4 * FOLDS}",
        }
    stderr = jackknife_stderr(fit, pairs, rng)
    details = {
        **details,
        "interactions_stderr_from": f"jackknife over {FOLDS} groups of the {pairs} complementary pairs",
    }
    details.pop("interactions_stderr_reason", None)
    return stderr, details
