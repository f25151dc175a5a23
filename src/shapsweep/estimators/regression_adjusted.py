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

import numpy as np

from .base import Method
from .fourier_kernel import cross_validated_error, fit_fourier_surrogate
from .game_batching import BudgetedGame
from .paired_design import PairedSample, PairedSampler, constrained_wls, constrained_wls_stderr
from .permutation import permutation
from .result import MethodOutput
from .rounds import reached, round_budgets
from .sparse_moebius import fit_on_pairs, folds, moebius_shapley

SURROGATES = ("auto", "fourier", "sparse_moebius", "none")
# 'auto' tries the sparse Moebius fit only for few players: above, its order drops to 2-3 within the
# cost bound, where the Fourier fit already covers it (see docs/estimators.md).
MOEBIUS_AUTO_MAX_PLAYERS = 16
MIN_PAIRS_PER_PLAYER = 1.0  # fewer pairs than players: no surrogate, plain paired KernelSHAP


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
        *candidate, x_rows = fit_on_pairs(sample, y, v_empty, v_full, first, rng)
        candidates["sparse_moebius"] = tuple(candidate)
        if "fourier" in candidates:  # same rows, same folds, same targets: a fair comparison
            _, four, honest = candidates["fourier"]
            cv = cross_validated_error(four, x[x_rows], t[x_rows], folds(len(x_rows), 3))
            candidates["fourier"] = (cv, four, honest)
    chosen = min(candidates, key=lambda k: candidates[k][0])
    _, fitted, honest = candidates[chosen]
    if chosen == "fourier":
        odd_pairs = fitted.predict(x)
        phi_sur = fitted.shapley()
        info = {"fit": fitted.choice}
    else:
        terms, coef, odd_pairs, fit_pairs = fitted
        phi_sur = moebius_shapley(n, terms, coef)
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
