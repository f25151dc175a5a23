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
pairs (a James-Stein-type factor; with random pairs the standard errors stay those of the unshrunk
correction, which is conservative, and under the design they are scaled to the shrunk value's error,
DESIGN_STDERR_SURROGATE_RATIO; where the whole correction's pairs were all in the fit, 32n up to 2,048 pairs, they are
widened by IN_SAMPLE_STDERR_SCALE). In the same range the sample is designed (`design='auto'`): half
the pairs are random, and if the Fourier surrogate wins on them clearly (or whatever won, below 8n),
the rest are chosen to reduce the posterior variance of its Shapley values (`adaptive_design.py`); the surrogate is refitted on all pairs and the correction
and standard errors use the random half only, whose sampling weights are known. Past the design's
budgets (>= 32n, or over 512 pairs, except at n > 128 up to 1,024 pairs, n = 256 at 8n, where the
design chooses its pairs under a fixed unanimity prior instead, UNANIMITY_DESIGN_* below) the random
pairs are spread over sizes by leverage score, equal
mass per size as in Leverage SHAP, instead of by the Shapley kernel's mass (n > 16). Where the Fourier
fit sees every pair (after the design, and on random pairs up to FIT_PAIRS for n > 16), it also tries a
unanimity (Moebius) prior, on both halves of every pair up to 1,024 pairs, and keeps the prior with the
lower leave-one-out error (UNANIMITY_* below). Below
`permutation_below` * n coalitions there are too few pairs per player to fit anything, and the method
runs antithetic permutation sampling instead. The choice and its reason are in the result's
`details`. Measurements behind these choices: docs/estimators.md and benchmarks/estimators.py.

Reference: Witter, Liu & Musco, "Regression-adjusted Monte Carlo estimators for Shapley values and
probabilistic values", NeurIPS 2025; OddSHAP (ICML 2026: odd Fourier terms on paired samples);
Fumagalli et al., "PolySHAP" (polynomial surrogates of KernelSHAP); Musco & Witter, "Provably accurate
Shapley value estimation via leverage score sampling", ICLR 2025 (the size mass past the design).
"""

from __future__ import annotations

import numpy as np

from .adaptive_design import candidate_pool, choose_pairs, choose_pairs_unanimity
from .base import Method
from .fourier_kernel import FIT_PAIRS, cross_validated_predictions, fit_fourier_surrogate
from .game_batching import BudgetedGame
from .paired_design import (
    PairedSample,
    PairedSampler,
    constrained_wls,
    constrained_wls_stderr,
    even_rows,
    odd_rows,
    weighted_kkt,
)
from .permutation import permutation
from .result import MethodOutput
from .rounds import reached, round_budgets
from .sparse_moebius import fit_on_pairs, folds, moebius_shapley
from .triple_screen import DEFAULT_SETTINGS, ScreenSettings, large_screen
from .unanimity_kernel import prior as unanimity_prior

SURROGATES = ("auto", "fourier", "sparse_moebius", "none")
# 'auto' tries the sparse Moebius fit only for few players: above, its order drops to 2-3 within the
# cost bound, where the Fourier fit already covers it (see docs/estimators.md).
MOEBIUS_AUTO_MAX_PLAYERS = 16
MIN_PAIRS_PER_PLAYER = 1.0  # fewer pairs than players: no surrogate, plain paired KernelSHAP
# Below this many coalitions per player the residual correction is shrunk by its split-half
# signal-to-noise ratio; at and above it, it is kept whole (measured: shrinking there lost accuracy on
# SOUM games, whose residual carries interactions no surrogate fitted). See docs/estimators.md.
SHRINK_BELOW = 32
# Nor is it shrunk when the surrogate was fitted on only part of the pairs (more than FIT_PAIRS): the
# pairs outside the fit make the residual an honest signal (measured: SOUM n = 256 at 16n, orders 3 and 5,
# 0.086 -> 0.076 and 0.147 -> 0.130, benchmarks/estimators_peers312.py seeds 0-2).
# Where the correction is kept whole and the surrogate was fitted on every one of its pairs (from
# SHRINK_BELOW * n coalitions up to FIT_PAIRS pairs), the sandwich misses the surrogate's own dependence on
# the sample; its standard errors are scaled by this (measured, seeds 0-23 at 32n: the 95% quantile of
# |error| / stderr was 2.33 on tiny-Llama games and 1.93 on MiniLM ones; 1.96 is nominal).
IN_SAMPLE_STDERR_SCALE = 1.2
# Adaptive design ('auto' below SHRINK_BELOW * n, Fourier surrogate, no target_stderr): this share of the
# pairs is drawn at random, at least ADAPTIVE_MIN_RANDOM_PER_PLAYER per player (only the random pairs give
# standard errors: with one per player their 95% intervals covered 80-92% at 4n, with 1.5 97.5-100%);
# the rest are chosen from a pool of ADAPTIVE_POOL random candidates per pair, at most
# ADAPTIVE_STEP_CELLS / (n + pairs) (a greedy step costs pool x (n + pairs)), and only up to
# ADAPTIVE_MAX_PAIRS pairs in all. The caps bound the design's cost (benchmarks/estimators_cost.py);
# ADAPTIVE_MARGIN: see where it is used.
DESIGNS = ("auto", "random")
ADAPTIVE_RANDOM_SHARE = 0.5
ADAPTIVE_MIN_RANDOM_PER_PLAYER = 1.5
ADAPTIVE_POOL = 16
ADAPTIVE_STEP_CELLS = 768 * 1024
ADAPTIVE_MAX_PAIRS = 512
ADAPTIVE_MARGIN = 0.6
# Standard errors under the design: the value is the surrogate (refitted on every pair) plus w x the
# correction on the random pairs, so its error is w x the correction's noise - (1 - w) x the surrogate's own
# error, of variance stderr^2 (w^2 + (1 - w)^2 c), stderr being the unshrunk correction's and c the
# surrogate's error energy over that noise's. The unshrunk stderr alone (c = 1) was 2.1-2.8x the RMS error
# (coverage 99-100%) in every cell the design ran in. Measured (benchmarks/estimators_coverage.py, tuning
# seeds 0-23, SOUM orders 3 and 5 at n = 16-256, MiniLM, tiny Llama, 4n-16n), the lowest cell's coverage:
# c = 0.5 96.4%, 0.4 95.6%, 0.35 94.8%, 0.3 93.5%, 0.25 91.9%, 0.2 90.9% (SOUM order 3, n = 16, 4n, heavy
# tails); 0.4 leaves margin over the 90% floor on held-out seeds (docs/estimators.md, "Standard errors").
# Rescanned after the unanimity prior joined the refit (below): 96.2% at 0.4, 95.3% at 0.3, 94.0% at 0.25,
# 92.7% at 0.2, always MiniLM at 4n (which never chooses that prior), so 0.4 stays.
DESIGN_STDERR_SURROGATE_RATIO = 0.4
# Below this many coalitions per player the design runs even when the first pairs chose sparse_moebius:
# that choice, on 1.5 random pairs per player, flips with the draw. Measured (seeds 0-11 / 0-5, 4n):
# tiny Llama 12 words 0.110 -> 0.063; SOUM n = 16 order 3 0.204 -> 0.204, order 5 0.145 -> 0.198 (still
# 0.67x the best peer); at 8n the margin stays (SOUM n = 16 order 3 lost 0.055 -> 0.074 there).
ADAPTIVE_ALWAYS_BELOW = 8
# Where every pair is random because the budget is past the design (>= SHRINK_BELOW * n coalitions or
# more than ADAPTIVE_MAX_PAIRS pairs) and n > LEVERAGE_MIN_PLAYERS, the pairs are spread over sizes by
# leverage score (equal mass per size, Leverage SHAP's design) instead of the Shapley kernel's mass, which
# would spend a fifth of the pairs on sizes 1 and n - 1 at n = 128. Measured (SOUM orders 3 and 5,
# n = 32..256, benchmarks/estimators_peers312.py seeds 0-2): the error there fell by up to a third (n = 128,
# 16n: 0.091 -> 0.068; n = 32, order 3, 32n: unchanged); for n <= 16 it was mixed, and at the design's
# own budgets leverage-spread random pairs helped some families and hurt others.
LEVERAGE_MIN_PLAYERS = 16
# Where every pair is random, for TRIPLES_MIN_PLAYERS <= n <= TRIPLES_MAX_PLAYERS and from
# TRIPLES_MIN_PAIRS_PER_PLAYER pairs a player, the Fourier fit first screens all C(n, 3) odd triples
# (triple_screen.py) and keeps those that stand out as a fixed part of the surrogate. Measured (SOUM order
# <= 3, seeds 0-5): n = 128 16n 0.0755 -> 0.056, 32n 0.048 -> 0.012; n = 64 32n 0.044 -> 0.000; below n = 64
# the game's few triples are the kernel's already; n = 129-182 at 16n (screened since the tenth round, as
# n <= 128 is): n = 160 0.0723 -> 0.0589, n = 182 0.0641 -> 0.0618, order 5 unchanged (seeds 0-5). Where a
# full screen is large (triple_screen.LARGE: C(n, 3) over a million, n >= 183; C(256, 3) = 2.8 million):
# - past FIT_PAIRS pairs (32n), where the kernel sees part of them, the screen is cut to fit the cost floor
#   (DEFAULT_SETTINGS' large-screen rules): order 3 0.0493 -> 0.0374, order 5 unchanged (0.0868), seeds 0-5;
# - where the kernel sees every pair (16n, 2,047 pairs at n = 256) it looks harder, TRIPLES_WHOLE_FIT: its
#   full screens on every row (a score's z grows as sqrt(rows): on 1,024 of the 2,048 rows the first path
#   kept too few to start the snowball; on 1,536 the median was 0.0635 against 0.0608), a lower entry and keep
#   bar, two full screens, and one that would keep fewer than 12 triples keeps none (order-5 games kept 4-8
#   triples there, each such game 3-6% worse; order-3 games 13-52). Where triples were kept only the
#   unanimity prior is fitted to the rest: on the 384 selection rows the Fourier prior won 3 of 12 order-3
#   games and was worse on all three (0.0532 / 0.0420, 0.0513 / 0.0407, 0.0605 / 0.0482), and skipping it
#   pays for part of the screen (0.12 CPU s). Measured (SOUM n = 256, 16n, median relative error;
#   docs/estimators.md): tuning seeds 0-11 order 3 0.0703 -> 0.0588, order 5 unchanged; CPU (the cost
#   benchmark, three runs) 0.60 -> 0.87-0.88 s on order-3 games, 0.85-0.88 s on order-6 ones.
TRIPLES_MIN_PLAYERS = 64
TRIPLES_MAX_PLAYERS = 256
TRIPLES_MIN_PAIRS_PER_PLAYER = 4
TRIPLES_WHOLE_FIT = ScreenSettings(
    entry=0.75,
    keep=1.1,
    screen_rows=FIT_PAIRS,
    later_rows=FIT_PAIRS,
    full_screens_large=2,
    min_kept=12,
    unanimity_after_kept=True,
)
# The unanimity (Moebius) prior (unanimity_kernel.py) ties a sum of unanimity games' odd Fourier terms of
# degree 1, 3 and 5 (u_T puts one coefficient on every odd subset of T) and, fitted to both halves of every
# pair, lets the even parts (v(S) + v(N \\ S)) / 2, which the Fourier fit throws away, measure the same
# coefficients again. The Fourier fit tries it on the same rows and keeps whichever prior has the lower
# leave-one-(pair-)out error of the odd parts, so games it does not suit keep the Fourier prior (the MiniLM
# and tiny-Llama games never chose it, n = 12-16, 4n-16n). Where:
# - after the adaptive design (the refit on every pair), from UNANIMITY_AFTER_DESIGN_MIN_PLAYERS players;
# - on random pairs where the Fourier fit sees every pair (up to FIT_PAIRS), for n > UNANIMITY_MIN_PLAYERS
#   (at and below it the sparse Moebius fit competes on folds, which the joint fit of both halves has no
#   odd-only kernel for), with or without screened triples (the triples are odd Walsh terms: the even parts
#   need no offset): both halves up to UNANIMITY_VALUES_MAX_PAIRS pairs, the odd parts only above that and
#   only for n > UNANIMITY_ODD_MIN_PLAYERS (n = 256 at 16n: the joint fit on 4,096 rows took 1.1-1.9 CPU s,
#   for 1-5%; n = 128 at 32n on the odd parts: 0.0742 -> 0.0729 at 1.0 CPU s, not taken).
# Measured (SOUM orders 3 / 5, tuning seeds 0-11, median relative error, Fourier prior -> with the choice;
# docs/estimators.md, issue 22's eighth round): after the design n = 16 4n 0.152 / 0.201 -> 0.129 / 0.158,
# n = 32 4n 0.141 / 0.301 -> 0.125 / 0.216, 8n 0.085 / 0.167 -> 0.077 / 0.140, n = 64 4n 0.147 / 0.292 ->
# 0.134 / 0.230, 8n 0.079 / 0.150 -> 0.073 / 0.135, 16n 0.055 / 0.096 -> 0.051 / 0.082, n = 128 4n
# 0.154 / 0.297 -> 0.129 / 0.220, 8n 0.091 / 0.164 -> 0.081 / 0.137, n = 256 4n 0.155 / 0.288 -> 0.144 /
# 0.232; random pairs n = 32 32n 0.039 / 0.072 -> 0.036 / 0.060, n = 64 32n 0.000 / 0.072 -> 0.000 / 0.071,
# n = 128 16n 0.046 / 0.125 -> 0.046 / 0.112; n = 256 8n 0.111 / 0.198 -> 0.106 / 0.194 and 16n 0.070 /
# 0.129 -> 0.070 / 0.126 (the seventh round).
UNANIMITY_AFTER_DESIGN_MIN_PLAYERS = 12
UNANIMITY_MIN_PLAYERS = MOEBIUS_AUTO_MAX_PLAYERS
UNANIMITY_VALUES_MAX_PAIRS = 1024
UNANIMITY_ODD_MIN_PLAYERS = 128
# Past ADAPTIVE_MAX_PAIRS, for n > UNANIMITY_DESIGN_ABOVE_PLAYERS and up to UNANIMITY_DESIGN_MAX_PAIRS pairs
# (n = 256 at 8n), the design still runs, with its pairs chosen under a fixed unanimity prior of orders
# <= UNANIMITY_DESIGN_ORDER instead of the Fourier prior fitted to the first pairs: a Gaussian process's
# posterior covariance does not depend on the values, so no first fit is needed, and the greedy takes
# UNANIMITY_DESIGN_BLOCK pairs a step from a pool of UNANIMITY_DESIGN_POOL candidates a designed pair
# (adaptive_design.choose_pairs_unanimity). The refit after either design compares the two priors on every
# row where the selection rows leave them close (fourier_kernel.ALL_ROWS_CHOICE_MARGIN). Measured (SOUM, n = 256, 8n, held-out seeds 100-105): order <= 3
# 0.0989 -> 0.0846, order <= 5 0.1895 -> 0.1579, at 0.72-0.76 user CPU s; a pool of 4 a pair was no better on
# tuning seeds 0-11 (0.0893 against 0.0867 with 3); at 16n the design measured no gain (docs/estimators.md).
UNANIMITY_DESIGN_ABOVE_PLAYERS = 128
UNANIMITY_DESIGN_MAX_PAIRS = 1024
UNANIMITY_DESIGN_ORDER = 3
UNANIMITY_DESIGN_POOL = 3
UNANIMITY_DESIGN_BLOCK = 32


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


def _adjust(sample, y, v_empty, v_full, first, odd, honest, phi_surrogate, shrink: bool):
    """Surrogate values plus residual KernelSHAP; stderr from the residual of out-of-sample predictions.

    `odd` and `honest` are the surrogate's in-sample and out-of-sample odd predictions at the rows of
    `odd_rows` (the full coalition, then one per pair of `first`).
    Returns (values, stderr, weight given to the residual correction).
    """
    odd_fit, odd_honest = _with_pairs(sample, first, odd[1:]), _with_pairs(sample, first, honest[1:])
    odd_full = float(odd[0])
    r_empty, r_full = v_empty + odd_full, v_full - odd_full
    # In-sample residuals for the value (cross-fitted ones were measured worse: the correction then
    # carries the surrogate's own error), out-of-sample ones for the standard error.
    kkt = weighted_kkt(sample.coalitions, sample.weights)
    phi_res = constrained_wls(sample.coalitions, y - odd_fit, sample.weights, r_empty, r_full, kkt)
    _, stderr = constrained_wls_stderr(sample, y - odd_honest, r_empty, r_full, kkt=kkt)
    weight = _split_half_shrinkage(sample, y - odd_fit, r_empty, r_full) if shrink else 1.0
    # Only the deviations from the mean are shrunk: the mean is fixed by efficiency.
    mean = phi_res.mean()
    return phi_surrogate + mean + weight * (phi_res - mean), stderr, weight


def _choose(sample, y, v_empty, v_full, first, x, t, x_rows, four, candidates):
    """(name, reason, variances) of the candidate whose adjusted estimate has the least estimated variance.

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
    return chosen, f"least estimated variance of the adjusted values (sum of stderr^2: {tried})", variance


def _fit_candidates(sample, y, v_empty, v_full, n, surrogate, rng, triples=None, unanimity=None):
    """Fit the surrogate candidates to a sample's pairs and choose one.

    Returns (rows, candidates, chosen, reason, fourier fit or None, estimated variances if both competed):
    rows = (x, t, first) of `odd_rows`; candidates maps a name to (odd prediction at x, honest
    prediction, Shapley values, fit details).
    """
    x, t, first = odd_rows(sample, y, v_empty, v_full)
    candidates, four, variance = {}, None, {}
    if surrogate in ("auto", "fourier"):
        even = None
        if unanimity == "values":  # the even parts (v(S) + v(N \\ S)) / 2 of the rows of x
            even = even_rows(sample, y, v_empty, v_full)
        four = fit_fourier_surrogate(x, t, rng, triples=triples, unanimity=unanimity is not None, even=even)
        odd = four.fitted
        honest = odd.copy()
        honest[four.fit_rows] = four.loo_prediction
        candidates["fourier"] = (odd, honest, four.shapley(), four.choice)
    if surrogate == "sparse_moebius" or (surrogate == "auto" and n <= MOEBIUS_AUTO_MAX_PLAYERS):
        _, (terms, coef, odd, fit_pairs), honest, x_rows = fit_on_pairs(sample, y, v_empty, v_full, first, rng)
        fit = {"terms": len(terms), "max_order": max(len(t) for t in terms), "fit_pairs": fit_pairs}
        candidates["sparse_moebius"] = (odd, honest, moebius_shapley(n, terms, coef), fit)
    if len(candidates) == 2:
        chosen, reason, variance = _choose(sample, y, v_empty, v_full, first, x, t, x_rows, four, candidates)
    else:
        (chosen,) = candidates
        reason = "asked for"
        if surrogate == "auto":
            reason = (
                f"fourier, held-out error of the half-differences {four.loo_error:.3g}; "
                f"sparse_moebius is tried only for n <= {MOEBIUS_AUTO_MAX_PLAYERS}"
            )
    return (x, t, first), candidates, chosen, reason, four, variance


def _plain(sample, y, v_empty, v_full, reason):
    phi, stderr = constrained_wls_stderr(sample, y, v_empty, v_full)
    return phi, stderr, {"surrogate": "none", "reason": f"plain paired KernelSHAP: {reason}"}


def _correction_details(weight, coalitions, shrink, n_pairs=0):
    if shrink:
        reason = f"split-half signal / (signal + noise), sample of {coalitions} < {SHRINK_BELOW:g}n coalitions"
    elif n_pairs > FIT_PAIRS:
        reason = f"full: the surrogate was fitted on {FIT_PAIRS} of the {n_pairs} pairs"
    else:
        reason = f"full: sample of {coalitions} >= {SHRINK_BELOW:g}n coalitions"
    return {"weight": round(weight, 4), "reason": reason}


def _unanimity_fit(n: int, n_pairs: int) -> str | None:
    """Whether the Fourier fit also tries the unanimity prior: on both halves of every pair ('values'),
    on the odd parts ('odd'), or not (None)."""
    if n <= UNANIMITY_MIN_PLAYERS or n_pairs > FIT_PAIRS:
        return None
    if n_pairs <= UNANIMITY_VALUES_MAX_PAIRS:
        return "values"
    return "odd" if n > UNANIMITY_ODD_MIN_PLAYERS else None


def _triple_screen(n: int, n_pairs: int) -> tuple[ScreenSettings | None, str]:
    """The odd-triple screen's settings for the Fourier fit on random pairs (None where it does not run)
    and why, for `fit.triples.reason`."""
    if not (TRIPLES_MIN_PLAYERS <= n <= TRIPLES_MAX_PLAYERS and n_pairs >= TRIPLES_MIN_PAIRS_PER_PLAYER * n):
        return None, ""
    why = (
        f"odd triples screened: {TRIPLES_MIN_PLAYERS} <= n <= {TRIPLES_MAX_PLAYERS}, every pair random and "
        f">= {TRIPLES_MIN_PAIRS_PER_PLAYER:g} pairs a player"
    )
    kept = "; those kept are a fixed part of the surrogate"
    if not large_screen(n):
        return DEFAULT_SETTINGS, why + kept
    if n_pairs > FIT_PAIRS:
        return (
            DEFAULT_SETTINGS,
            f"{why}, C({n}, 3) triples: cut to fit the cost floor, more than the kernel's {FIT_PAIRS} pairs{kept}",
        )
    return TRIPLES_WHOLE_FIT, f"{why}, C({n}, 3) triples: every row screened, every pair in the kernel's fit{kept}"


def _fit_and_adjust(sample, y, v_empty, v_full, n, surrogate, rng):
    n_pairs = len(sample.coalitions) // 2  # every row has its complement in the sample
    if surrogate == "none" or n_pairs < MIN_PAIRS_PER_PLAYER * n:
        reason = "asked for" if surrogate == "none" else f"{n_pairs} pairs < {MIN_PAIRS_PER_PLAYER:g} per player"
        return _plain(sample, y, v_empty, v_full, reason)
    triples, triples_reason = _triple_screen(n, n_pairs)
    unanimity = _unanimity_fit(n, n_pairs)
    (_, _, first), candidates, chosen, reason, *_ = _fit_candidates(
        sample, y, v_empty, v_full, n, surrogate, rng, triples, unanimity
    )
    odd_pairs, honest, phi_sur, fit = candidates[chosen]
    if "triples" in fit:
        fit["triples"]["reason"] = triples_reason
    coalitions = 2 * n_pairs + 2
    shrink = coalitions < SHRINK_BELOW * n and n_pairs <= FIT_PAIRS
    phi, stderr, weight = _adjust(sample, y, v_empty, v_full, first, odd_pairs, honest, phi_sur, shrink)
    correction = _correction_details(weight, coalitions, shrink, n_pairs)
    in_sample = n_pairs <= FIT_PAIRS if chosen == "fourier" else fit.get("fit_pairs", 0) >= n_pairs
    if not shrink and in_sample:
        stderr = IN_SAMPLE_STDERR_SCALE * stderr
        correction["stderr_scale"] = (
            f"{IN_SAMPLE_STDERR_SCALE:g}: the surrogate was fitted on every pair of the whole correction, "
            "which the sandwich does not see (measured: 95% intervals covered 90% on tiny-Llama games at 32n)"
        )
    return phi, stderr, {"surrogate": chosen, "reason": reason, "fit": fit, "correction": correction}


def _design_split(n: int, budget: int, design: str, surrogate: str, target_stderr) -> tuple[int, int, str, str]:
    """(random pairs, designed pairs, kind, reason) for a sample of `budget` coalitions: kind 'random'
    (designed 0, the reason says why), 'adaptive' (for the Fourier prior fitted to the random pairs) or
    'unanimity' (for the fixed unanimity prior; reason empty for both designs)."""
    pairs = (budget - 2) // 2
    random_pairs = max(int(np.ceil(ADAPTIVE_RANDOM_SHARE * pairs)), int(np.ceil(ADAPTIVE_MIN_RANDOM_PER_PLAYER * n)))
    why_not = None
    if design == "random":
        why_not = "asked for"
    elif budget >= 2**n:
        why_not = "every coalition fits the budget"
    elif target_stderr is not None:
        why_not = "target_stderr samples in rounds of random pairs"
    elif surrogate not in ("auto", "fourier"):
        why_not = f"surrogate {surrogate!r} has no Gaussian prior to design for"
    elif budget >= SHRINK_BELOW * n:
        why_not = f"budget {budget} >= {SHRINK_BELOW:g}n, where the unshrunk residual correction needs random pairs"
    elif pairs > ADAPTIVE_MAX_PAIRS and not _unanimity_design(n, pairs):
        why_not = f"{pairs} pairs > {ADAPTIVE_MAX_PAIRS} (the design's cost bound)"
    elif random_pairs >= pairs:
        why_not = f"{pairs} pairs leave none to design after {random_pairs} random ones"
    if why_not is not None:
        return pairs, 0, "random", f"random pairs: {why_not}"
    return random_pairs, pairs - random_pairs, "unanimity" if pairs > ADAPTIVE_MAX_PAIRS else "adaptive", ""


def _unanimity_design(n: int, pairs: int) -> bool:
    """Whether a sample of `pairs` pairs past ADAPTIVE_MAX_PAIRS is designed under the fixed unanimity prior."""
    return n > UNANIMITY_DESIGN_ABOVE_PLAYERS and pairs <= UNANIMITY_DESIGN_MAX_PAIRS


def _random_mass(n: int, budget: int, designed: int, surrogate: str) -> tuple[str, str]:
    """(size mass of the random pairs, reason): leverage past the design's budgets at n > LEVERAGE_MIN_PLAYERS."""
    pairs = (budget - 2) // 2
    past_design = budget >= SHRINK_BELOW * n or pairs > ADAPTIVE_MAX_PAIRS
    if surrogate == "none":
        return "kernel", "plain paired KernelSHAP asked for"
    if designed or not past_design:
        return "kernel", "Shapley-kernel mass per size, the design's measured better range"
    if n <= LEVERAGE_MIN_PLAYERS:
        return "kernel", f"n <= {LEVERAGE_MIN_PLAYERS}: leverage-spread pairs measured no better"
    why = (
        f"budget {budget} >= {SHRINK_BELOW:g}n"
        if budget >= SHRINK_BELOW * n
        else f"{pairs} pairs > {ADAPTIVE_MAX_PAIRS}"
    )
    return "leverage", (
        f"{why}, past the adaptive design: equal mass per size (leverage scores) measured up to a third "
        "lower error than the Shapley kernel's mass here (docs/estimators.md)"
    )


def _adaptive(game, n, sampler, sample, y, v_empty, v_full, designed, rows, four, rng):
    """Choose `designed` pairs for the fitted Fourier surrogate (`four`; None: under the fixed unanimity
    prior), refit on all pairs, correct on the random ones."""
    x, t, first = rows
    pairs = len(x) - 1 + designed
    if four is None:
        pool = candidate_pool(sampler, UNANIMITY_DESIGN_POOL * designed)
        prior = unanimity_prior(UNANIMITY_DESIGN_ORDER)
        index = choose_pairs_unanimity(x, pool, min(designed, len(pool)), prior, UNANIMITY_DESIGN_BLOCK)
        design_prior = f"unanimity, orders <= {UNANIMITY_DESIGN_ORDER} (fixed)"
        why = (
            f"pairs chosen to reduce the posterior variance of the Shapley values under a fixed unanimity prior "
            f"(orders <= {UNANIMITY_DESIGN_ORDER}), {UNANIMITY_DESIGN_BLOCK} a step: past {ADAPTIVE_MAX_PAIRS} "
            f"pairs, n > {UNANIMITY_DESIGN_ABOVE_PLAYERS}, measured better than random pairs (docs/estimators.md)"
        )
    else:
        pool = candidate_pool(sampler, min(ADAPTIVE_POOL * designed, ADAPTIVE_STEP_CELLS // (n + pairs)))
        index = choose_pairs(four, x, pool, min(designed, len(pool)))
        design_prior = "fourier (fitted to the random pairs)"
        why = (
            "pairs chosen to reduce the posterior variance of the Fourier surrogate's Shapley values; "
            f"below {SHRINK_BELOW:g}n measured better than random pairs (docs/estimators.md)"
        )
    chosen = pool[index]
    y_new = game(np.vstack([chosen, ~chosen]))
    x_all = np.vstack([x, np.where(chosen, 1.0, -1.0)])
    t_all = np.concatenate([t, (y_new[: len(chosen)] - y_new[len(chosen) :]) / 2])
    even_all = None
    if n >= UNANIMITY_AFTER_DESIGN_MIN_PLAYERS:  # the pairs' even parts, in x_all's order (row 0: N and the empty set)
        designed_even = (y_new[: len(chosen)] + y_new[len(chosen) :]) / 2
        even_all = np.concatenate([even_rows(sample, y, v_empty, v_full), designed_even])
    refit = fit_fourier_surrogate(
        x_all, t_all, rng, unanimity=even_all is not None, even=even_all, choose_on_all_rows=True
    )
    odd = refit.fitted[: len(x)]
    honest = odd.copy()
    in_fit = refit.fit_rows < len(x)
    honest[refit.fit_rows[in_fit]] = refit.loo_prediction[in_fit]
    # The correction and its standard error use only the random pairs: their sampling weights are known.
    phi, stderr, weight = _adjust(sample, y, v_empty, v_full, first, odd, honest, refit.shapley(), True)
    scale = float(np.sqrt(weight**2 + (1 - weight) ** 2 * DESIGN_STDERR_SURROGATE_RATIO))
    random_pairs = len(x) - 1
    info = {
        "surrogate": "fourier",
        "fit": refit.choice,
        "correction": _correction_details(weight, 2 * (random_pairs + len(chosen)) + 2, True)
        | {
            "pairs": f"the {random_pairs} random pairs",
            "stderr_scale": f"{scale:.4g} = sqrt(w^2 + (1 - w)^2 x {DESIGN_STDERR_SURROGATE_RATIO:g}): the surrogate "
            "refitted on every pair errs less than the random pairs' correction (measured, docs/estimators.md)",
        },
        "design": {
            "kind": "adaptive",
            "random_pairs": random_pairs,
            "designed_pairs": len(chosen),
            "pool": len(pool),
            "prior": design_prior,
            "reason": why,
        },
    }
    return phi, scale * stderr, info


def regression_adjusted(
    game: BudgetedGame,
    n: int,
    rng: np.random.Generator,
    *,
    surrogate: str = "auto",
    permutation_below: float = 3.0,
    design: str = "auto",
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
    if design not in DESIGNS:
        raise ValueError(
            f"option design={design!r} is not valid for method 'regression_adjusted'; valid: {', '.join(DESIGNS)}"
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
    random_pairs, designed, design_kind, design_reason = _design_split(n, game.budget, design, surrogate, target_stderr)
    mass, mass_reason = _random_mass(n, game.budget, designed, surrogate)
    sampler = PairedSampler(n, rng, mass)
    if designed:
        sampler.grow(2 * random_pairs)
        sample = sampler.sample()
        y = game(sample.coalitions)
        if design_kind == "unanimity":  # the fixed prior's design needs no fit of the first pairs
            rows, four, run_design = odd_rows(sample, y, v_empty, v_full), None, True
            reason = "fourier or unanimity prior refitted on every pair, chosen by leave-one-out error"
        else:
            rows, _, chosen, reason, four, variance = _fit_candidates(sample, y, v_empty, v_full, n, surrogate, rng)
            # Sparse Moebius fits gain more from more random pairs: design only when Fourier is clearly ahead,
            # except on the smallest samples, where the choice on the first pairs is too noisy to follow.
            ahead = not variance or variance["fourier"] < ADAPTIVE_MARGIN * variance["sparse_moebius"]
            tiny = game.budget < ADAPTIVE_ALWAYS_BELOW * n
            run_design = (chosen == "fourier" and ahead) or tiny
            if run_design and chosen != "fourier":
                reason = (
                    f"fourier designed for although {chosen} was chosen on the first {random_pairs} pairs: "
                    f"below {ADAPTIVE_ALWAYS_BELOW:g}n that choice is too noisy to follow ({reason})"
                )
        if run_design:
            phi, stderr, info = _adaptive(game, n, sampler, sample, y, v_empty, v_full, designed, rows, four, rng)
            return MethodOutput(
                phi,
                stderr,
                _leftover(
                    game.budget,
                    {"sampler": "paired_kernel", **info, "reason": reason, "rounds": 1, "mass_reason": mass_reason},
                ),
            )
        design_reason = (
            f"random pairs: {chosen} chosen on the first {random_pairs} pairs"
            if chosen != "fourier"
            else f"random pairs: fourier not {ADAPTIVE_MARGIN:g}x below sparse_moebius in estimated variance "
            f"on the first {random_pairs} pairs"
        )
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
    details = {
        "sampler": f"paired_{mass}",
        **info,
        "design": {"kind": "random", "reason": design_reason},
        "mass_reason": mass_reason,
    }
    details["rounds"] = rounds
    return MethodOutput(phi, stderr, details if sample.complete else _leftover(game.budget, details))


def _leftover(budget: int, details: dict) -> dict:
    if (budget - 2) % 2:
        details["unspent_reason"] = "coalitions are drawn in complementary pairs; an odd one is left over"
    return details


METHOD = Method.declare(
    "regression_adjusted",
    regression_adjusted,
    lambda n: min(4, 2**n),
    "paired KernelSHAP on the residual of an odd Fourier (kernel ridge) or sparse Moebius surrogate, "
    "chosen by estimated variance, correction shrunk by split halves and half the pairs designed below 32n, "
    "pairs spread by leverage score past the design; "
    "antithetic permutations below 3n",
    rounds=True,
)
