"""`regression_adjusted`: Shapley values of a fitted surrogate plus paired KernelSHAP on the residual.

What: the game is split as v = f + (v - f), where f is a surrogate whose Shapley values are exact and
cheap, and only the residual's Shapley values are estimated from the sample (regression adjustment).
Efficiency is exact; standard errors are a sandwich over the sampled pairs of the residual, taken
with out-of-sample surrogate predictions (leave-one-out or cross-fitted), so overfitting does not
make them look smaller than they are.

Idea: only the odd part of a game, (v(S) - v(N\\S)) / 2, carries Shapley value, and a complementary
pair measures it directly, so surrogates are fitted to half-differences of pairs. Two surrogate
families compete (`surrogate='auto'`) on the estimated variance of the adjusted values they would give
(the sandwich variance of the residual correction with out-of-fold predictions, same folds for both):
- `fourier` (every n): all odd Fourier characters of degree 1, 3 and 5 under a Gaussian prior, fitted
  by kernel ridge regression whose cost does not depend on the number of characters
  (`fourier_kernel.py`). Suits dense low-order games such as sentence-embedding similarities.
- `sparse_moebius` (small n and budgets, where it is cheap): a sparse sum of unanimity games with
  interactions up to order 6 by iteratively reweighted ridge. Suits games with few, high-order
  interactions (sums of unanimity games).
On small samples (below SHRINK_BELOW * n coalitions) the residual correction is mostly noise, and it
is shrunk towards the surrogate by its signal-to-noise ratio, estimated from two split halves of the
pairs (a James-Stein-type factor; the standard errors stay those of the unshrunk correction, which is
conservative). Below `permutation_below` * n coalitions there are too few pairs per player to fit
anything, and the method runs antithetic permutation sampling instead. The choice and its reason are in the result's
`details`. Measurements behind these choices: docs/estimators.md and benchmarks/estimators.py.

Reference: Witter, Liu & Musco, "Regression-adjusted Monte Carlo estimators for Shapley values and
probabilistic values", NeurIPS 2025; OddSHAP (ICML 2026: odd Fourier terms on paired samples);
Fumagalli et al., "PolySHAP" (polynomial surrogates of KernelSHAP).
"""

from __future__ import annotations

import numpy as np

from .base import Method
from .fourier_kernel import cross_validated_predictions, fit_fourier_surrogate
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
# Below this many coalitions per player the residual correction is shrunk by its split-half
# signal-to-noise ratio; at and above it, it is kept whole (measured: shrinking there lost accuracy on
# SOUM games, whose residual carries interactions no surrogate fitted). See docs/estimators.md.
SHRINK_BELOW = 32


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


def _split_half_shrinkage(sample, residual, r_empty, r_full) -> float:
    """Weight in [0, 1] for the residual correction: its signal over signal plus noise, by split halves.

    The pairs are split into two halves, alternating within each size group, and the residual KernelSHAP
    is computed on each. Their centred estimates a, b share the correction's signal and have independent
    noise, so <a, b> estimates the signal's energy and |a - b|^2 / 4 the noise energy of the full-sample
    correction (a James-Stein-type factor that does not rely on the sandwich variance).
    """
    idx = np.flatnonzero(np.arange(len(sample.coalitions)) < sample.complement)
    half = np.zeros(len(idx), dtype=bool)
    for j in np.unique(sample.group[idx]):
        half[np.flatnonzero(sample.group[idx] == j)[::2]] = True
    parts = []
    for side in (half, ~half):
        rows = np.concatenate([idx[side], sample.complement[idx[side]]])
        est = constrained_wls(sample.coalitions[rows], residual[rows], sample.weights[rows], r_empty, r_full)
        parts.append(est - est.mean())
    signal = float(np.dot(parts[0], parts[1]))
    noise = float(np.sum((parts[0] - parts[1]) ** 2)) / 4
    return float(np.clip(signal / (signal + noise), 0.0, 1.0)) if signal > 0 else 0.0


def _adjust(sample, y, v_empty, v_full, odd_fit, odd_honest, odd_full, phi_surrogate, shrink: bool):
    """Surrogate values plus residual KernelSHAP; stderr from the residual of out-of-sample predictions.

    Returns (values, stderr, weight given to the residual correction).
    """
    r_empty, r_full = v_empty + odd_full, v_full - odd_full
    # In-sample residuals for the value (cross-fitted ones were measured worse: the correction then
    # carries the surrogate's own error), out-of-sample ones for the standard error.
    phi_res = constrained_wls(sample.coalitions, y - odd_fit, sample.weights, r_empty, r_full)
    _, stderr = constrained_wls_stderr(sample, y - odd_honest, r_empty, r_full)
    weight = _split_half_shrinkage(sample, y - odd_fit, r_empty, r_full) if shrink else 1.0
    # Only the deviations from the mean are shrunk: the mean is fixed by efficiency.
    mean = phi_res.mean()
    return phi_surrogate + mean + weight * (phi_res - mean), stderr, weight


def _choose(sample, y, v_empty, v_full, first, x, t, x_rows, four, candidates):
    """(name, reason) of the candidate whose regression-adjusted estimate has the least estimated variance.

    The variance is the sandwich variance of the residual correction with out-of-fold predictions of
    both candidates, on the same 3 folds of the same pairs (measured closer to the error of the Shapley
    values than the held-out error of the half-differences, which picked sparse_moebius on
    sentence-embedding games where its values were worse).
    """
    honest_four = candidates["fourier"][1].copy()
    honest_four[x_rows] = cross_validated_predictions(four, x[x_rows], t[x_rows], folds(len(x_rows), 3))
    honest = {"fourier": honest_four, "sparse_moebius": candidates["sparse_moebius"][1]}
    variance = {}
    for name, (odd, *_rest) in candidates.items():
        residual = y - _with_pairs(sample, first, honest[name][1:])
        _, stderr = constrained_wls_stderr(sample, residual, v_empty + odd[0], v_full - odd[0])
        variance[name] = float(np.sum(stderr**2))
    chosen = min(variance, key=variance.get)
    tried = ", ".join(f"{k} {v:.3g}" for k, v in variance.items())
    return chosen, f"least estimated variance of the adjusted values (sum of stderr^2: {tried})"


def _fit_and_adjust(sample, y, v_empty, v_full, n, surrogate, rng):
    x, t, first = _odd_rows(sample, y, v_empty, v_full)
    n_pairs = int(first.sum())
    if surrogate == "none" or n_pairs < MIN_PAIRS_PER_PLAYER * n:
        phi, stderr = constrained_wls_stderr(sample, y, v_empty, v_full)
        reason = "asked for" if surrogate == "none" else f"{n_pairs} pairs < {MIN_PAIRS_PER_PLAYER:g} per player"
        return phi, stderr, {"surrogate": "none", "reason": f"plain paired KernelSHAP: {reason}"}
    # name -> (odd prediction at the rows of x, honest (out-of-sample) prediction, Shapley values, fit details)
    candidates = {}
    if surrogate in ("auto", "fourier"):
        four = fit_fourier_surrogate(x, t, rng)
        odd = four.predict(x)
        honest = odd.copy()
        honest[four.fit_rows] = four.loo_prediction
        candidates["fourier"] = (odd, honest, four.shapley(), four.choice)
    if surrogate == "sparse_moebius" or (surrogate == "auto" and n <= MOEBIUS_AUTO_MAX_PLAYERS):
        _, (terms, coef, odd, fit_pairs), honest, x_rows = fit_on_pairs(sample, y, v_empty, v_full, first, rng)
        fit = {"terms": len(terms), "max_order": max(len(t) for t in terms), "fit_pairs": fit_pairs}
        candidates["sparse_moebius"] = (odd, honest, moebius_shapley(n, terms, coef), fit)
    if len(candidates) == 2:
        chosen, reason = _choose(sample, y, v_empty, v_full, first, x, t, x_rows, four, candidates)
    else:
        (chosen,) = candidates
        reason = "asked for"
        if surrogate == "auto":
            reason = (
                f"fourier, held-out error of the half-differences {four.loo_error:.3g}; "
                f"sparse_moebius is tried only for n <= {MOEBIUS_AUTO_MAX_PLAYERS}"
            )
    odd_pairs, honest, phi_sur, fit = candidates[chosen]
    coalitions = 2 * n_pairs + 2
    shrink = coalitions < SHRINK_BELOW * n
    phi, stderr, weight = _adjust(
        sample,
        y,
        v_empty,
        v_full,
        _with_pairs(sample, first, odd_pairs[1:]),
        _with_pairs(sample, first, honest[1:]),
        float(odd_pairs[0]),
        phi_sur,
        shrink,
    )
    correction = {
        "weight": round(weight, 4),
        "reason": f"split-half signal / (signal + noise), sample of {coalitions} < {SHRINK_BELOW:g}n coalitions"
        if shrink
        else f"full: sample of {coalitions} >= {SHRINK_BELOW:g}n coalitions",
    }
    return phi, stderr, {"surrogate": chosen, "reason": reason, "fit": fit, "correction": correction}


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
    "chosen by estimated variance, correction shrunk by split halves below 32n; antithetic permutations below 3n",
    rounds=True,
)
