"""Sparse unanimity (Moebius) surrogate: a few interactions up to order 6, by iteratively reweighted ridge.

What: a surrogate f(S) = sum_T c_T [T subset of S] with few non-zero c_T, for games such as sums of
unanimity games whose value sits in a handful of high-order interactions that no low-degree Fourier
fit reaches. A unanimity game's value is shared equally by its members, so phi_i(f) = sum_{T ni i} c_T / |T|.
Idea: ridge with a per-term prior variance is a Gaussian prior; resetting each term's variance to |c_T|
every round approximates an L1 fit that keeps the terms the data supports (see `fit_sparse_moebius`).
Its cost is bounded by fitting on at most MOEBIUS_MAX_PAIRS pairs and lowering the interaction order
until the design has at most MOEBIUS_MAX_CELLS entries.
Reference: Fumagalli et al., "SHAP-IQ" / shapiq's SOUM games (sums of unanimity games); Tipping,
"Sparse Bayesian learning and the relevance vector machine", JMLR 2001 (reweighted ridge).
"""

from __future__ import annotations

import itertools

import numpy as np

from .paired_design import PairedSample

KERNEL_PENALTIES = np.logspace(-6, 1, 15)
MOEBIUS_MAX_ORDER = 6  # interactions up to this order can enter the sparse Moebius surrogate...
MOEBIUS_MAX_TERMS = 16_000  # ...lowered for large n so the design stays small (n=16: order 6, 14,892 terms)
MOEBIUS_REWEIGHTS = 6  # reweighting rounds; held-out error kept falling through 6 on SOUM games
MOEBIUS_KEEP_PER_ROW = 8  # after round 0 keep the 8*rows (at most 2048) strongest terms
MOEBIUS_KEEP_MAX = 2048
MOEBIUS_MAX_PAIRS = 200  # it is fitted on at most this many pairs: one eigh of the rows per reweighting...
MOEBIUS_MIN_PAIRS = 128  # ...and on at least this many (when there are) even if the order must drop
MOEBIUS_MAX_CELLS = 2_000_000  # design entries (rows x terms): keeps the fit near a quarter second


def _terms(n: int, max_order: int) -> list[tuple[int, ...]]:
    return [t for k in range(1, max_order + 1) for t in itertools.combinations(range(n), k)]


def _design(z: np.ndarray, terms_by_degree: dict[int, np.ndarray]) -> np.ndarray:
    """(rows, terms) 0/1 matrix: [T subset of S] for every term, degree by degree."""
    x = z.astype(np.float64)
    cols = []
    for _k, idx in terms_by_degree.items():
        cols.append(x[:, idx].prod(axis=2))
    return np.hstack(cols)


def moebius_shapley(n: int, terms: list[tuple[int, ...]], coef: np.ndarray) -> np.ndarray:
    """Shapley values of sum_T c_T [T subset of S]: each unanimity game's value shared by its members."""
    phi = np.zeros(n)
    for t, c in zip(terms, coef):
        phi[list(t)] += c / len(t)
    return phi


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


def folds(m: int, k: int) -> list[np.ndarray]:
    """k contiguous folds of range(m), the first ones one longer (scikit-learn's unshuffled KFold)."""
    return np.array_split(np.arange(m), k)


def fit_sparse_moebius(
    z: np.ndarray,
    y: np.ndarray,
    v_empty: float,
    v_full: float,
    max_order: int,
    complement: np.ndarray,
    give_up_above: float = np.inf,
):
    """Sparse unanimity (Moebius) surrogate by iteratively reweighted ridge.

    Returns (terms, coefficients, held-out error, out-of-fold odd-part prediction per pair: the full
    coalition first, then the pairs in `complement` order), or None as soon as the held-out error (a sum
    of non-negative fold terms) exceeds `give_up_above`: a caller that picks the least error loses nothing.

    Games like sums of unanimity games put a few large coefficients on interactions up to high order,
    which no low-degree Fourier fit reaches. Ridge with per-term prior variance w_T is a Gaussian
    prior; resetting w_T to |beta_T| each round approximates an L1 (Lasso-like) fit that keeps the
    few terms the data supports. Round 0 uses w_T ~ 1/C(n,|T|) (equal prior mass per order) in closed
    kernel form, k(S,S') = sum_k w_k C(|S & S'|, k); later rounds keep only the strongest terms.
    Fitted on full values (v - v_empty), so both members of each pair inform every term. The held-out
    error repeats the whole fit on 3 folds of pairs and scores half-differences of the
    held-out pairs, so it compares with the Fourier fit's.
    """
    from scipy.special import comb

    n = z.shape[1]
    rows = np.vstack([np.ones((1, n), bool), z])
    t = np.concatenate([[v_full - v_empty], y - v_empty])
    orders = np.arange(max_order + 1)
    w_order = np.where(orders > 0, n / comb(n, orders), 0.0)
    binom = comb(np.arange(n + 1)[:, None], orders[None, :])  # C(c, k)
    gram0 = (binom @ w_order)[rows.astype(np.int64) @ rows.T.astype(np.int64)]
    terms = _terms(n, max_order)
    by_degree: dict[int, list] = {}
    for term in terms:
        by_degree.setdefault(len(term), []).append(term)
    x_all = _design(rows, {k: np.array(v) for k, v in by_degree.items()})
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
    out_of_fold = np.zeros(len(pair_rows))
    for test_pairs in folds(len(pair_rows), 3):
        train_pairs = np.setdiff1d(np.arange(len(pair_rows)), test_pairs)
        train = np.concatenate([pair_rows[train_pairs], partner_rows[train_pairs]])
        keep, beta = fit(np.sort(train[train >= 0]))
        pred = x_all[np.ix_(pair_rows[test_pairs], keep)] @ beta
        b_rows = partner_rows[test_pairs]
        pred_b = np.where(b_rows >= 0, x_all[np.ix_(np.maximum(b_rows, 0), keep)] @ beta, 0.0)
        out_of_fold[test_pairs] = (pred - pred_b) / 2
        error += np.mean((half[test_pairs] - out_of_fold[test_pairs]) ** 2) / 3
        if error > give_up_above:
            return None
    keep, beta = fit(np.arange(len(rows)))
    return [terms[i] for i in keep], beta, error, out_of_fold


def moebius_order(n: int, rows: int = 0) -> int:
    """Highest interaction order <= MOEBIUS_MAX_ORDER whose terms (orders 1..k) fit in MOEBIUS_MAX_TERMS
    and whose design (rows x terms) fits in MOEBIUS_MAX_CELLS: the fit's cost is linear in that design."""
    from scipy.special import comb

    order = min(MOEBIUS_MAX_ORDER, n)
    while order > 1:
        terms = sum(comb(n, k, exact=True) for k in range(1, order + 1))
        if terms <= MOEBIUS_MAX_TERMS and terms * rows <= MOEBIUS_MAX_CELLS:
            break
        order -= 1
    return order


def pairs_to_fit(sample: PairedSample, first, rng) -> np.ndarray:
    """The pairs (their first rows) the surrogate is fitted on: all of them, or a uniform subsample of
    MOEBIUS_MAX_PAIRS (its cost is cubic in them); draws from rng only when it subsamples."""
    from scipy.special import comb

    n = sample.coalitions.shape[1]
    pairs = np.flatnonzero(first)
    # More pairs lower the order the design bound allows; past MOEBIUS_MIN_PAIRS, keep the order instead.
    all_terms = sum(comb(n, k, exact=True) for k in range(1, min(MOEBIUS_MAX_ORDER, n) + 1))
    cap = max(MOEBIUS_MIN_PAIRS, min(MOEBIUS_MAX_PAIRS, (MOEBIUS_MAX_CELLS // all_terms - 1) // 2))
    if len(pairs) > cap:
        pairs = np.sort(rng.choice(pairs, cap, replace=False))
    return pairs


def fit_on_pairs(sample: PairedSample, y, v_empty, v_full, first, rng, pairs=None, give_up_above=np.inf):
    """(held-out error, (terms, coef, odd prediction per pair, pairs fitted), honest odd prediction per pair,
    the odd rows it was fitted on), or None where its held-out error exceeds `give_up_above`.

    Fitted on `pairs` (default: `pairs_to_fit`); the pairs left out are predicted out of sample, those
    fitted get their out-of-fold prediction as the honest one.
    """
    n = sample.coalitions.shape[1]
    if pairs is None:
        pairs = pairs_to_fit(sample, first, rng)
    rows = np.concatenate([pairs, sample.complement[pairs]])
    local = np.empty(len(sample.coalitions), dtype=np.int64)
    local[rows] = np.arange(len(rows))
    z_fit, comp_fit = sample.coalitions[rows], local[sample.complement[rows]]
    order = moebius_order(n, len(rows) + 1)
    fitted = fit_sparse_moebius(z_fit, y[rows], v_empty, v_full, order, comp_fit, give_up_above)
    if fitted is None:
        return None
    terms, coef, error, oof = fitted
    by_degree: dict[int, list] = {}
    for term in terms:
        by_degree.setdefault(len(term), []).append(term)
    design = {k: np.array(v) for k, v in by_degree.items()}
    zs = np.vstack([np.ones((1, n), bool), sample.coalitions[first]])
    odd = (_design(zs, design) @ coef - _design(~zs, design) @ coef) / 2
    honest = odd.copy()
    # oof is ordered as the full coalition, then the fitted pairs in order of their first rows.
    fitted_first = np.sort(np.arange(len(rows))[np.arange(len(rows)) < comp_fit])
    position = np.searchsorted(np.flatnonzero(first), rows[fitted_first])
    honest[0] = oof[0]
    honest[1 + position] = oof[1:]
    x_rows = np.concatenate([[0], 1 + position])  # the rows of `odd_rows` it was fitted on, in its fold order
    return error, (terms, coef, odd, len(pairs)), honest, x_rows
