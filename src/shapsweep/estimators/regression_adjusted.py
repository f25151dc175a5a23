"""`regression_adjusted`: Shapley values of a fitted surrogate plus paired KernelSHAP on the residual.

What: the game is split as v = f + (v - f), where f is a surrogate whose Shapley values are exact and
cheap, and only the residual's Shapley values are estimated from the sample (regression adjustment).
Efficiency is exact; standard errors are a sandwich over the sampled pairs of the residual, taken
with out-of-sample surrogate predictions (leave-one-out or cross-fitted), so overfitting does not
make them look smaller than they are.

Idea: only the odd part of a game, (v(S) - v(N\\S)) / 2, carries Shapley value, and a complementary
pair measures it directly, so surrogates are fitted to half-differences of pairs. Two surrogate
families compete on held-out error (`surrogate='auto'`):
- `fourier` (every n): all odd Fourier characters of degree 1, 3 and 5 under a Gaussian prior, fitted
  by kernel ridge regression whose cost does not depend on the number of characters
  (`fourier_kernel.py`). Suits dense low-order games such as sentence-embedding similarities.
- `sparse_moebius` (small n and budgets, where it is cheap): a sparse sum of unanimity games with
  interactions up to order 6 by iteratively reweighted ridge. Suits games with few, high-order
  interactions (sums of unanimity games).
Below `permutation_below` * n coalitions there are too few pairs per player to fit anything, and the
method runs antithetic permutation sampling instead. The choice and its reason are in the result's
`details`. Measurements behind these choices: docs/estimators.md and benchmarks/estimators.py.

Reference: Witter, Liu & Musco, "Regression-adjusted Monte Carlo estimators for Shapley values and
probabilistic values", NeurIPS 2025; OddSHAP (ICML 2026: odd Fourier terms on paired samples);
Fumagalli et al., "PolySHAP" (polynomial surrogates of KernelSHAP).
"""

from __future__ import annotations

import itertools

import numpy as np

from .base import Method
from .fourier_kernel import cross_validated_error, fit_fourier_surrogate
from .game_batching import BudgetedGame
from .paired_design import PairedSample, PairedSampler, constrained_wls, constrained_wls_stderr
from .permutation import permutation
from .result import MethodOutput
from .rounds import reached, round_budgets

SURROGATES = ("auto", "fourier", "sparse_moebius", "none")
KERNEL_PENALTIES = np.logspace(-6, 1, 15)
MOEBIUS_MAX_ORDER = 6  # interactions up to this order can enter the sparse Moebius surrogate...
MOEBIUS_MAX_TERMS = 16_000  # ...lowered for large n so the design stays small (n=16: order 6, 14,892 terms)
MOEBIUS_REWEIGHTS = 6  # reweighting rounds; held-out error kept falling through 6 on SOUM games
MOEBIUS_KEEP_PER_ROW = 8  # after round 0 keep the 8*rows (at most 2048) strongest terms
MOEBIUS_KEEP_MAX = 2048
MOEBIUS_MIN_PAIRS = 128  # ...and on at least this many (when there are) even if the order must drop
MOEBIUS_MAX_PAIRS = 200  # it is fitted on at most this many pairs: one eigh of the rows per reweighting
MOEBIUS_MAX_CELLS = 2_000_000  # design entries (rows x terms): keeps the fit near a quarter second
# 'auto' tries the sparse Moebius fit only for few players: above, its order drops to 2-3 within the
# cost bound, where the Fourier fit already covers it (see docs/estimators.md).
MOEBIUS_AUTO_MAX_PLAYERS = 16
MIN_PAIRS_PER_PLAYER = 1.0  # fewer pairs than players: no surrogate, plain paired KernelSHAP


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


def _folds(m: int, k: int) -> list[np.ndarray]:
    """k contiguous folds of range(m), the first ones one longer (scikit-learn's unshuffled KFold)."""
    return np.array_split(np.arange(m), k)


def _sparse_moebius(
    z: np.ndarray, y: np.ndarray, v_empty: float, v_full: float, max_order: int, complement: np.ndarray
):
    """Sparse unanimity (Moebius) surrogate by iteratively reweighted ridge.

    Returns (terms, coefficients, held-out error, out-of-fold odd-part prediction per pair: the full
    coalition first, then the pairs in `complement` order).

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
    out_of_fold = np.zeros(len(pair_rows))
    for test_pairs in _folds(len(pair_rows), 3):
        train_pairs = np.setdiff1d(np.arange(len(pair_rows)), test_pairs)
        train = np.concatenate([pair_rows[train_pairs], partner_rows[train_pairs]])
        keep, beta = fit(np.sort(train[train >= 0]))
        pred = x_all[np.ix_(pair_rows[test_pairs], keep)] @ beta
        b_rows = partner_rows[test_pairs]
        pred_b = np.where(b_rows >= 0, x_all[np.ix_(np.maximum(b_rows, 0), keep)] @ beta, 0.0)
        out_of_fold[test_pairs] = (pred - pred_b) / 2
        error += np.mean((half[test_pairs] - out_of_fold[test_pairs]) ** 2) / 3
    keep, beta = fit(np.arange(len(rows)))
    return [terms[i] for i in keep], beta, error, out_of_fold


def _moebius_order(n: int, rows: int = 0) -> int:
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


def _odd_rows(sample: PairedSample, y: np.ndarray, v_empty: float, v_full: float):
    """+-1 rows (the full coalition, then one per pair) and their half-differences."""
    z, comp = sample.coalitions, sample.complement
    first = np.arange(len(z)) < comp
    x = np.vstack([np.ones((1, z.shape[1])), np.where(z[first], 1.0, -1.0)])
    t = np.concatenate([[(v_full - v_empty) / 2], (y[first] - y[comp[first]]) / 2])
    return x, t, first


def _with_pairs(sample: PairedSample, first: np.ndarray, per_pair: np.ndarray) -> np.ndarray:
    """Spread a per-pair odd value (pairs in `first` order) to every row: +value on the first, - on its partner."""
    out = np.zeros(len(sample.coalitions))
    idx = np.flatnonzero(first)
    out[idx] = per_pair
    out[sample.complement[idx]] = -per_pair
    return out


def _adjust(sample, y, v_empty, v_full, odd_fit, odd_honest, odd_full, phi_surrogate):
    """Surrogate values plus residual KernelSHAP; stderr from the residual of out-of-sample predictions."""
    r_empty, r_full = v_empty + odd_full, v_full - odd_full
    # In-sample residuals for the value (cross-fitted ones were measured worse: the correction then
    # carries the surrogate's own error), out-of-sample ones for the standard error.
    phi_res = constrained_wls(sample.coalitions, y - odd_fit, sample.weights, r_empty, r_full)
    _, stderr = constrained_wls_stderr(sample, y - odd_honest, r_empty, r_full)
    return phi_surrogate + phi_res, stderr


def _moebius_candidate(sample: PairedSample, y, v_empty, v_full, first, rng):
    """(held-out error, (terms, coef, odd prediction per pair, pairs fitted), honest odd prediction per pair,
    the odd rows it was fitted on).

    Fitted on at most MOEBIUS_MAX_PAIRS pairs (its cost is cubic in them); the pairs left out are
    predicted out of sample, those fitted get their out-of-fold prediction as the honest one.
    """
    from scipy.special import comb

    n = sample.coalitions.shape[1]
    pairs = np.flatnonzero(first)
    # More pairs lower the order the design bound allows; past MOEBIUS_MIN_PAIRS, keep the order instead.
    all_terms = sum(comb(n, k, exact=True) for k in range(1, min(MOEBIUS_MAX_ORDER, n) + 1))
    cap = max(MOEBIUS_MIN_PAIRS, min(MOEBIUS_MAX_PAIRS, (MOEBIUS_MAX_CELLS // all_terms - 1) // 2))
    if len(pairs) > cap:
        pairs = np.sort(rng.choice(pairs, cap, replace=False))
    rows = np.concatenate([pairs, sample.complement[pairs]])
    local = np.empty(len(sample.coalitions), dtype=np.int64)
    local[rows] = np.arange(len(rows))
    z_fit, comp_fit = sample.coalitions[rows], local[sample.complement[rows]]
    order = _moebius_order(n, len(rows) + 1)
    terms, coef, error, oof = _sparse_moebius(z_fit, y[rows], v_empty, v_full, order, comp_fit)
    by_degree: dict[int, list] = {}
    for term in terms:
        by_degree.setdefault(len(term), []).append(term)
    design = {k: np.array(v) for k, v in by_degree.items()}
    zs = np.vstack([np.ones((1, n), bool), sample.coalitions[first]])
    odd = (_design(zs, design, "moebius") @ coef - _design(~zs, design, "moebius") @ coef) / 2
    honest = odd.copy()
    # oof is ordered as the full coalition, then the fitted pairs in order of their first rows.
    fitted_first = np.sort(np.arange(len(rows))[np.arange(len(rows)) < comp_fit])
    position = np.searchsorted(np.flatnonzero(first), rows[fitted_first])
    honest[0] = oof[0]
    honest[1 + position] = oof[1:]
    x_rows = np.concatenate([[0], 1 + position])  # the rows of `_odd_rows` it was fitted on, in its fold order
    return error, (terms, coef, odd, len(pairs)), honest, x_rows


def _fit_and_adjust(sample, y, v_empty, v_full, n, surrogate, rng):
    x, t, first = _odd_rows(sample, y, v_empty, v_full)
    n_pairs = int(first.sum())
    if surrogate == "none" or n_pairs < MIN_PAIRS_PER_PLAYER * n:
        phi, stderr = constrained_wls_stderr(sample, y, v_empty, v_full)
        reason = "asked for" if surrogate == "none" else f"{n_pairs} pairs < {MIN_PAIRS_PER_PLAYER:g} per player"
        return phi, stderr, {"surrogate": "none", "reason": f"plain paired KernelSHAP: {reason}"}
    candidates = {}
    if surrogate in ("auto", "fourier"):
        four = fit_fourier_surrogate(x, t, rng)
        honest = four.predict(x)
        honest[four.fit_rows] = four.loo_prediction
        candidates["fourier"] = (four.loo_error, four, honest)
    if surrogate == "sparse_moebius" or (surrogate == "auto" and n <= MOEBIUS_AUTO_MAX_PLAYERS):
        *candidate, x_rows = _moebius_candidate(sample, y, v_empty, v_full, first, rng)
        candidates["sparse_moebius"] = tuple(candidate)
        if "fourier" in candidates:  # same rows, same folds, same targets: a fair comparison
            _, four, honest = candidates["fourier"]
            cv = cross_validated_error(four, x[x_rows], t[x_rows], _folds(len(x_rows), 3))
            candidates["fourier"] = (cv, four, honest)
    chosen = min(candidates, key=lambda k: candidates[k][0])
    _, fitted, honest = candidates[chosen]
    if chosen == "fourier":
        odd_pairs = fitted.predict(x)
        phi_sur = fitted.shapley()
        info = {"fit": fitted.choice}
    else:
        terms, coef, odd_pairs, fit_pairs = fitted
        phi_sur = _surrogate_shapley(n, terms, coef, "moebius")
        info = {"fit": {"terms": len(terms), "max_order": max(len(t) for t in terms), "fit_pairs": fit_pairs}}
    phi, stderr = _adjust(
        sample,
        y,
        v_empty,
        v_full,
        _with_pairs(sample, first, odd_pairs[1:]),
        _with_pairs(sample, first, honest[1:]),
        float(odd_pairs[0]),
        phi_sur,
    )
    tried = ", ".join(f"{k} {candidates[k][0]:.3g}" for k in candidates)
    reason = f"lowest held-out error of the half-differences ({tried})"
    if surrogate != "auto":
        reason = "asked for"
    elif "sparse_moebius" not in candidates:
        reason += f"; sparse_moebius is tried only for n <= {MOEBIUS_AUTO_MAX_PLAYERS}"
    return phi, stderr, {"surrogate": chosen, "reason": reason, **info}


def regression_adjusted(
    game: BudgetedGame,
    n: int,
    rng: np.random.Generator,
    *,
    surrogate: str = "auto",
    permutation_below: float = 3.0,
    target_stderr: float | None = None,
):
    if surrogate not in SURROGATES:
        raise ValueError(
            f"option surrogate={surrogate!r} is not valid for method 'regression_adjusted'; valid: {', '.join(SURROGATES)}"
        )
    if not isinstance(permutation_below, (int, float)) or isinstance(permutation_below, bool) or permutation_below < 0:
        raise ValueError(
            f"option permutation_below must be a number >= 0 for method 'regression_adjusted', got {permutation_below!r}"
        )
    if 2 * n <= game.budget < permutation_below * n and surrogate == "auto":
        out = permutation(game, n, rng, target_stderr=target_stderr)
        reason = (
            f"budget {game.budget} < {permutation_below:g}n: too few pairs per player to fit a surrogate; "
            "antithetic permutations measured better there"
        )
        return MethodOutput(
            out.values, out.stderr, {"surrogate": "none", "sampler": "permutation", "reason": reason, **out.details}
        )
    v_empty, v_full = game(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    sampler = PairedSampler(n, rng, "kernel")
    rounds = 0
    for total in round_budgets(n, game.budget, target_stderr):
        sampler.grow(total - 2)
        sample = sampler.sample()
        y = game(sample.coalitions)
        if sample.complete:  # every coalition evaluated: the regression is exact, no surrogate needed
            phi, stderr = constrained_wls_stderr(sample, y, v_empty, v_full)
            info = {"surrogate": "none", "reason": "every coalition evaluated: exact"}
        else:
            phi, stderr, info = _fit_and_adjust(sample, y, v_empty, v_full, n, surrogate, rng)
        rounds += 1
        if reached(stderr, target_stderr):
            break
    details = {"sampler": "paired_kernel", **info, "rounds": rounds}
    if (game.budget - 2) % 2 and not sample.complete:
        details["unspent_reason"] = "coalitions are drawn in complementary pairs; an odd one is left over"
    return MethodOutput(phi, stderr, details)


METHOD = Method.declare(
    "regression_adjusted",
    regression_adjusted,
    lambda n: min(4, 2**n),
    "paired KernelSHAP on the residual of an odd Fourier (kernel ridge) or sparse Moebius surrogate, "
    "chosen by held-out error; antithetic permutations below 3n",
    rounds=True,
)
