r"""`msr`: Banzhaf values by maximum sample reuse (Wang and Jia, 2023), optionally regression-adjusted.

What: coalitions drawn uniformly (Bernoulli(1/2) per player, distinct, empty and full included); every
evaluation is reused for every player: phi_i = mean v(S) over S containing i - mean v(S) over S without i
(`adjust='none'`, the MSR estimator).
Idea (`adjust='linear'`, the default): the Banzhaf values are the slopes of the least-squares linear fit
of v under the uniform distribution (Hammer and Holzman, 1992). Fitting v ~ b0 + b.z on the same
samples removes the other players' additive effects from each player's estimate, which plain MSR
leaves in as noise; it is exact for additive games and equals MSR applied to the fit's residual. The
linear fit draws coalitions in complementary pairs (S, N\S): in +-1 coding a term of even degree takes
the same value on both, so pairs cancel every even-degree (pairwise, ...) interaction from the slopes
exactly (Kernel Banzhaf's design); plain MSR draws them independently, as pairing would double its noise.
The pairs come from random-column Hadamard blocks (hadamard_design.py), not i.i.d. draws: the main
effects are exactly orthogonal, which removes OLS's variance inflation (error sigma^2 n / m instead of
sigma^2 n / (m - n) on m pairs; at 4n about 0.7x Kernel Banzhaf's error), and stays unbiased.
`adjust='auto'` (the default) first peels the pair and triple unanimity terms that the full Hadamard blocks
identify exactly (walsh_peeling.py; a sparse game's terms, read off single Walsh readings) off the pairs,
when most readings are zero after them, and adds their Banzhaf values whole; on what is left it also
tries, and takes whichever predicts the pairs' odd parts best out of sample (`details.adjust`,
`adjust_reason`): order-3 Walsh terms fitted with the main effects, their number chosen by 5-fold
cross-validation (odd_triples.py; from 12n, n <= 64); the odd parts of unanimity sets
of 3-5 players grown from the strongest triples, rescreened every round (odd_sets.py;
from 12n, n <= 128: a 4- or 5-set is one coefficient where its triples are 4 or 10); from 12n for n = 32-128,
unanimity sets of 2-5 players found one significance bar at a time on both halves, each find cleaning the
next screen (set_cascade.py; taken by C_p with the risk inflation penalty, entered as its ratio to the linear
fit's; where that is under 1 the greedy triples and sets are not run); at 8n for n = 32-64,
pair_triple_fit.py's order-3 unanimity fit of both halves, offered only when its held-out error is under
half the linear fit's (odd_pair_triples.py); at 8n for n = 64-128, the unanimity prior's kernel fit of
both halves, its K-fold error taken relative to the linear fit's on its own folds (banzhaf_unanimity.py);
for n <= MOEBIUS_MAX_PLAYERS (from n = 16 below 24n) the sparse unanimity (Moebius) surrogate of
regression_adjusted, whose own Banzhaf values are sum_{T ni i} c_T / 2^(|T|-1) (fitted last, it stops
once its held-out error passes the best other candidate's, where it could not win); and for
n <= FOURIER_MAX_PLAYERS from 8n the Fourier prior's posterior mean (fourier_kernel.py), whose Banzhaf
values are twice its degree-1 coefficients, refitted with a single-index cubic column where its
leave-one-out error says so (single_index.py). With the surrogate, the standard errors are the OLS ones of
a linear fit to its out-of-fold residuals (the surrogate's own error is not sampled); with the triples, the
sets or the Fourier prior, the OLS ones with the held-out error as the residual variance (it prices the
selection); with the cascade, with C_p's prediction error a row.
Standard errors: MSR's are those of a difference of two sample means; the fit's are the OLS ones
(the linear fit's widened by LINEAR_TAIL_SCALE below 4n odd rows, where its errors are heavy-tailed).
References: Wang and Jia, "Data Banzhaf", AISTATS 2023; Musco and Witter, "Provably accurate Shapley
value estimation via leverage score sampling" (Kernel Banzhaf), 2024.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from .additive_design import (
    POOL_MAX,
    POOL_PER_PAIR,
    choose_rest,
    first_rows,
    first_stage,
    nearly_additive,
)
from .banzhaf_unanimity import fit_banzhaf_unanimity
from .base import Method
from .fourier_kernel import fit_fourier_surrogate
from .game_batching import BudgetedGame
from .hadamard_design import BlockDesign, draw_blocks
from .monte_carlo import draw_new_uniform
from .odd_pair_triples import fit_odd_pair_triples
from .odd_sets import fit_odd_sets
from .odd_triples import fit_odd_triples
from .paired_design import PairedSample
from .result import MethodOutput
from .set_cascade import fit_set_cascade
from .single_index import fit_single_index
from .sparse_moebius import fit_on_pairs, pairs_to_fit
from .walsh_peeling import MIN_ZERO_SHARE, TOLERANCE, Peeled, peel

ADJUSTMENTS = ("auto", "linear", "none")
DESIGNS = ("auto", "blocks")  # auto: additive_design.py's second stage where the game is nearly additive
TRIPLES_MAX_PLAYERS = 64  # above, odd_sets only (see _paired_fit)
MOEBIUS_MAX_PLAYERS = 32  # above, the Moebius fit's order drops and it lost to the linear fit in every cell
# From n = 16 the Moebius fit is offered below MOEBIUS_MAX_PAIRS_PER_PLAYER pairs a player (24n) only: it cost
# about 1 CPU s of msr's 1.5-2.0 s at 32n, and on SOUM orders 3 and 5 (n = 16-32, seeds 0-5 and 100-105) it
# was never chosen at 24n or 32n, while at 16n it was (n = 16, order 5: 9 of seeds 200-211); at n = 8-12 it still
# wins at 24n-32n (order 5: 5-7 of 12 at 24n), where it is cheap.
MOEBIUS_EVERY_BUDGET_BELOW = 16
MOEBIUS_MAX_PAIRS_PER_PLAYER = 12
# odd_pair_triples.py: n = 32-64 (pair_triple_fit's range: C(n, 3) triples in its kernel), 4-6 pairs a player
# (8n: where nothing else beat the linear fit; from 12n the triples and sets are tried)
PAIR_TRIPLES_PLAYERS = (32, 64)
PAIR_TRIPLES_ROWS_PER_PLAYER = (4, 6)
# banzhaf_unanimity.py: the unanimity prior's kernel fit of both halves, at 4-6 pairs a player (8n; from 12n
# it lost to auto at n = 32-128 on tuning seeds 0-23, and at n = 128, 16n it costs about 7 CPU s); n = 64-128:
# below, sparse_moebius is there and the kernel raised the tuning medians (n = 32 order 5 0.1571 -> 0.1577,
# n = 16 order 3 0.058 -> 0.064)
UNANIMITY_PLAYERS = (64, 128)
# With the linear fit on fewer than LINEAR_TAIL_PAIRS_PER_PLAYER pairs a player (below 8n), the OLS standard
# errors are right on average (mean stderr 1.0-1.2x the RMS error) but the errors are heavy-tailed: within a
# Hadamard block an odd interaction lands whole on one Walsh column, so a few players take it all (median
# |error| / stderr 0.09-0.2 on order-3 games against 0.67 for a normal), and +-1.96 stderr covered only
# 90.0-94.8% on tuning seeds 0-23 (SOUM orders 3 and 5, n = 16-128, 4n) and 89.1% on held-out seeds 100-105.
# They are scaled by LINEAR_TAIL_SCALE there: the lowest 4n cell on the tuning seeds was 92.2% at 1.1,
# 93.5% at 1.2, 95.1% at 1.3 (benchmarks/estimators_coverage.py --method msr; docs/estimators.md).
LINEAR_TAIL_PAIRS_PER_PLAYER = 4
LINEAR_TAIL_SCALE = 1.3
UNANIMITY_ROWS_PER_PLAYER = (4, 6)
# The Fourier prior's posterior mean (fourier_kernel.py, the Shapley default's surrogate): its degree-1 part is
# the Banzhaf values of dense low-order games, such as sentence-embedding similarities and log-probabilities,
# better than any least-squares fit. Offered from 8n (4 pairs a player) to n = 32; measured on the
# MiniLM and tiny-Llama tables (n = 12-14) in docs/estimators.md. Its single-index refit (single_index.py) took
# MiniLM's 8n cell from 0.0564 to 0.0480 (held-out seeds 200-223).
FOURIER_MAX_PLAYERS = 32
FOURIER_MIN_PAIRS_PER_PLAYER = 4
# the linear fit is underdetermined when X'X's smallest eigenvalue is under this share of its largest
# (singular values 1e-6 apart)
RANK_TOLERANCE = 1e-12
# set_cascade.py's C_p under this share of the linear fit's: the greedy triples and sets are not tried (they
# cost 0.5-1 CPU s at n = 64-128; with 0.5, nearly the same errors on seeds 200-211, order 5, 16n)
CASCADE_DECISIVE = 1.0
# The order msr offers its candidates in: of equal held-out errors the first is chosen.
CANDIDATE_ORDER = (
    "linear",
    "odd_triples",
    "odd_sets",
    "set_cascade",
    "odd_pair_triples",
    "sparse_moebius",
    "unanimity_kernel",
    "fourier_kernel",
)


def _draw_pairs(n: int, k: int, rng: np.random.Generator, taken: set[bytes]) -> np.ndarray:
    """Up to k uniform complementary pairs (S, N\\S), both new; adds them to `taken`."""
    k = min(k, (2**n - len(taken)) // 2) if n < 63 else k
    rows: list[np.ndarray] = []
    while len(rows) < 2 * k:
        batch = rng.random((2 * k - len(rows) + 8, n)) < 0.5
        for row in batch:
            key, other = np.packbits(row).tobytes(), np.packbits(~row).tobytes()
            if key not in taken and other not in taken:
                taken.update((key, other))
                rows.extend((row, ~row))
                if len(rows) == 2 * k:
                    break
    return np.array(rows, dtype=bool).reshape(-1, n)


def _mean_difference(z: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MSR: per player, mean of v with the player minus mean without, and its standard error."""
    inside = z.sum(axis=0)
    outside = len(z) - inside
    mean_in = (z * v[:, None]).sum(axis=0) / np.maximum(inside, 1)
    mean_out = (~z * v[:, None]).sum(axis=0) / np.maximum(outside, 1)
    var_in = ((z * (v[:, None] - mean_in) ** 2).sum(axis=0)) / np.maximum(inside - 1, 1)
    var_out = ((~z * (v[:, None] - mean_out) ** 2).sum(axis=0)) / np.maximum(outside - 1, 1)
    stderr = np.sqrt(var_in / np.maximum(inside, 1) + var_out / np.maximum(outside, 1))
    return mean_in - mean_out, stderr


def _with_complements(rows: np.ndarray) -> np.ndarray:
    """Each row followed by its complement: the pairs (S, N\\S)."""
    return np.repeat(rows, 2, axis=0) ^ (np.arange(2 * len(rows)) % 2 == 1)[:, None]


def _odd_rows(pairs: np.ndarray, y: np.ndarray, v_empty: float, v_full: float) -> tuple[np.ndarray, np.ndarray]:
    """+-1 rows (full, then each pair's first) and half-differences (v(S) - v(N\\S)) / 2."""
    x = np.vstack([np.ones((1, pairs.shape[1])), np.where(pairs[0::2], 1.0, -1.0)])
    return x, np.concatenate([[(v_full - v_empty) / 2], (y[0::2] - y[1::2]) / 2])


def _moebius_sample(pairs: np.ndarray, rng) -> tuple[PairedSample, np.ndarray, np.ndarray] | None:
    """(the pairs as a PairedSample, their first rows, the pairs to fit); None if too few pairs. The
    subsample is drawn here, where the candidate stands in msr's rng stream; the fit can come later."""
    n = pairs.shape[1]
    if len(pairs) // 2 + 1 <= n + 1:
        return None
    sample = PairedSample(pairs, np.ones(len(pairs)), np.arange(len(pairs)) ^ 1, False)
    first = np.arange(len(pairs)) % 2 == 0
    return sample, first, pairs_to_fit(sample, first, rng)


def _moebius(drawn, x, t, y, v_empty, v_full, give_up_above: float):
    """The sparse Moebius surrogate's Banzhaf values, held-out error and the OLS stderr of a linear fit
    to its out-of-fold residual on the odd rows (x, t: `_odd_rows` of the pairs); None once its held-out
    error exceeds `give_up_above`."""
    sample, first, fit_pairs = drawn
    n = x.shape[1]
    fitted = fit_on_pairs(sample, y, v_empty, v_full, first, None, fit_pairs, give_up_above)
    if fitted is None:
        return None
    error, (terms, coef, _odd, _fitted), honest, _rows = fitted
    values = np.zeros(n)
    for term, c in zip(terms, coef, strict=True):
        values[list(term)] += c / 2.0 ** (len(term) - 1)
    pinv = np.linalg.pinv(x)
    residual = t - honest
    sigma2 = float(np.sum((residual - x @ (pinv @ residual)) ** 2)) / (len(x) - n)
    stderr = 2 * np.sqrt(np.clip(np.einsum("ij,ij->i", pinv, pinv) * sigma2, 0.0, None))
    return values, float(error), stderr


def _odd_linear(x: np.ndarray, t: np.ndarray):
    """Banzhaf values (twice the slopes of t ~ x, +-1 coding), OLS stderr, leave-one-out error and residual
    variance; None if underdetermined."""
    m, n = x.shape
    if m <= n:
        return None
    gram = x.T @ x
    spectrum = np.linalg.eigvalsh(gram)
    if spectrum[0] <= RANK_TOLERANCE * spectrum[-1]:
        return None
    # (X'X)^-1 X' by Cholesky: the SVD of a pseudo-inverse and a rank check cost 0.3 CPU s at n = 256, 32n
    pinv = cho_solve(cho_factor(gram), x.T)
    coef = pinv @ t
    residual = t - x @ coef
    hat = np.einsum("ij,ji->i", x, pinv)
    loo = float(np.mean((residual / np.clip(1 - hat, 1e-9, None)) ** 2))
    sigma2 = float(residual @ residual) / (m - n)
    return 2 * coef, 2 * np.sqrt(np.clip(np.einsum("ij,ij->i", pinv, pinv) * sigma2, 0.0, None)), loo, sigma2


def _paired_fit(design: BlockDesign, y, v_empty, v_full, adjust: str, rng):
    """(values, stderr, details) of the paired fit on the design's pairs, or None if underdetermined."""
    n = design.rows.shape[1]
    pairs = _with_complements(design.rows)
    details: dict = {}
    peeled = None
    if adjust == "auto":
        peeled, y, v_full, details = _peeled(design, pairs, y, v_full)
    x, t = _odd_rows(pairs, y, v_empty, v_full)
    linear = _odd_linear(x, t)
    if linear is None:
        return None
    values, stderr, loo, sigma2 = linear
    if adjust == "linear":
        return values, stderr, {"adjust": "linear"}
    # the peeling's tolerance on the scale of what is left: a residual under it is zero
    zero = TOLERANCE * max(float(np.max(np.abs(t))), 1e-300)
    if peeled is not None and loo <= zero**2:
        # the peeled terms leave an additive game: the linear fit is exact and no other fit can do better
        details |= {"adjust": "linear", "adjust_reason": "the peeled terms leave an additive game (residual 0)"}
        return (*_with_peeled(values, stderr, peeled, zero), details)
    candidates = {"linear": (loo, values, stderr)}
    block = np.concatenate([[-1], design.block])
    index = np.concatenate([[0], design.index])
    even = np.concatenate([[(v_full + v_empty) / 2], (y[0::2] + y[1::2]) / 2])  # the pairs' even parts
    cascade = fit_set_cascade(x, t, even, design, block, index, sigma2)
    # where the cascade's sets beat the linear fit the greedy fits of triples and sets are not run
    decisive = cascade is not None and cascade[2] < CASCADE_DECISIVE
    # above TRIPLES_MAX_PLAYERS the sets alone (they include the triples): as good on seeds 0-5 at n = 128,
    # and both cost over 1 s an explanation at 32n
    odd = fit_odd_triples(x, t, design, block, index, rng) if 2 < n <= TRIPLES_MAX_PLAYERS and not decisive else None
    if odd is not None:
        coef, odd_stderr, cv_linear, cv_best, odd_details = odd
        details |= odd_details
        candidates["linear"] = (cv_linear, values, stderr)
        if odd_details["odd_triples"] > 0:
            candidates["odd_triples"] = (cv_best, 2 * coef, 2 * odd_stderr)
    sets = None if decisive else fit_odd_sets(x, t, design, block, index, rng, even)
    if sets is not None:
        coef, sets_stderr, cv_linear, cv_best, sets_details = sets
        details |= sets_details
        if odd is None:
            candidates["linear"] = (cv_linear, values, stderr)
        if sets_details["odd_sets"] > 0:
            candidates["odd_sets"] = (cv_best, 2 * coef, 2 * sets_stderr)
    if cascade is not None:
        c_values, c_stderr, c_ratio, c_details = cascade
        details |= c_details
        # it enters as its ratio to the linear fit's C_p, on the same rows
        candidates["set_cascade"] = (candidates["linear"][0] * c_ratio, 2 * c_values, 2 * c_stderr)
    low, high = PAIR_TRIPLES_ROWS_PER_PLAYER
    # not after peeling: what it leaves is nearly additive, and the fit cost 7.8 CPU s for 8e-4 against the
    # linear fit's 1.8e-3 (n = 64, 8n, order 3, seed 7; the other 11 of seeds 0-11 peeled exactly)
    in_range = PAIR_TRIPLES_PLAYERS[0] <= n <= PAIR_TRIPLES_PLAYERS[1] and low * n <= len(x) < high * n
    if in_range and peeled is None:
        fitted, pt_details = fit_odd_pair_triples(x, t, even, rng)
        details |= pt_details
        if fitted is not None:
            coef, pt_stderr, cv_linear, cv_fit = fitted
            candidates["linear"] = (cv_linear, values, stderr)
            candidates["odd_pair_triples"] = (cv_fit, 2 * coef, 2 * pt_stderr)
    few_pairs = n < MOEBIUS_EVERY_BUDGET_BELOW or len(x) < MOEBIUS_MAX_PAIRS_PER_PLAYER * n
    moebius_drawn = _moebius_sample(pairs, rng) if 2 < n <= MOEBIUS_MAX_PLAYERS and few_pairs else None
    low, high = UNANIMITY_ROWS_PER_PLAYER
    if UNANIMITY_PLAYERS[0] <= n <= UNANIMITY_PLAYERS[1] and low * n <= len(x) < high * n:
        # last: it draws its folds from rng after every other candidate, which stay as they were
        u_values, u_stderr, cv_linear, cv_fit, u_details = fit_banzhaf_unanimity(x, t, even, rng)
        details |= u_details
        if cv_linear > 0:
            # its folds are not the others': it enters as its ratio to the linear fit on its own folds
            candidates["unanimity_kernel"] = (candidates["linear"][0] * cv_fit / cv_linear, u_values, u_stderr)
    if n <= FOURIER_MAX_PLAYERS and len(x) >= FOURIER_MIN_PAIRS_PER_PLAYER * n:
        # last: its row subsample (past SELECT_PAIRS rows) draws from rng after every other candidate
        surrogate = fit_fourier_surrogate(x, t, rng)
        refit = fit_single_index(surrogate, x, t)
        fitted = surrogate
        if refit is not None and refit.tau > 0:
            fitted = refit
            details["fourier_single_index"] = refit.choice
        held_out = float(np.mean((t[surrogate.fit_rows] - fitted.loo_prediction) ** 2))
        # the OLS stderr with the surrogate's held-out error as the residual variance
        f_stderr = stderr * np.sqrt(held_out / max(sigma2, 1e-300))
        # it enters as its ratio to the linear fit's leave-one-out error, on the same rows
        candidates["fourier_kernel"] = (
            candidates["linear"][0] * held_out / max(loo, 1e-300),
            fitted.banzhaf(),
            f_stderr,
        )
    stopped = ""
    if moebius_drawn is not None:
        # fitted last, so it can stop once its held-out error passes the best one: it could not be chosen
        best = min(e for e, _v, _s in candidates.values())
        moebius = _moebius(moebius_drawn, x, t, y, v_empty, v_full, give_up_above=best)
        if moebius is None:
            stopped = f", sparse_moebius > {best:.3g} (stopped)"
        else:
            candidates["sparse_moebius"] = (moebius[1], moebius[0], moebius[2])
            # back to its place before unanimity_kernel and fourier_kernel: min keeps the first of equals
            candidates = {k: candidates[k] for k in sorted(candidates, key=CANDIDATE_ORDER.index)}
    name = min(candidates, key=lambda k: candidates[k][0])
    reason = ", ".join(f"{k} {e:.3g}" for k, (e, _v, _s) in candidates.items()) + stopped
    details |= {"adjust": name, "adjust_reason": f"held-out error of the pairs' odd parts: {reason}"}
    values, stderr = candidates[name][1], candidates[name][2]
    if peeled is not None:
        values, stderr = _with_peeled(values, stderr, peeled, zero)
    return values, stderr, details


def _with_peeled(values, stderr, peeled: Peeled, zero: float):
    """The peeled terms are exact: their Banzhaf values are added whole; the fit of the rest may be exact
    too (residual 0), so the intervals keep twice the peeling's tolerance (a Banzhaf value is twice a slope)
    as a floor."""
    return values + peeled.banzhaf(len(values)), np.maximum(stderr, 2 * zero)


def _peeled(design: BlockDesign, pairs: np.ndarray, y: np.ndarray, v_full: float):
    """(peeled terms or None, the pairs' values and v(N) less the terms, details): the pair and triple
    unanimity terms the exact Hadamard blocks identify (walsh_peeling.py), used when the game is sparse
    enough that most readings are zero after them."""
    found: Peeled = peel(design, (y[0::2] - y[1::2]) / 2, (y[0::2] + y[1::2]) / 2)
    if not found.terms:
        return None, y, v_full, {}
    if found.zero_share < MIN_ZERO_SHARE:
        reason = f"not used: {found.zero_share:.0%} of the readings zero after, under {MIN_ZERO_SHARE:.0%}"
        return None, y, v_full, {"walsh_peeling": f"{found.summary()}; {reason}"}
    rest = y - found.values_on(pairs)
    return found, rest, v_full - sum(c for _p, c in found.terms), {"walsh_peeling": found.summary()}


def msr(game: BudgetedGame, n: int, rng: np.random.Generator, *, adjust: str = "auto", design: str = "auto"):
    if adjust not in ADJUSTMENTS:
        raise ValueError(f"option adjust={adjust!r} is not valid for method 'msr'; valid: {', '.join(ADJUSTMENTS)}")
    if design not in DESIGNS:
        raise ValueError(f"option design={design!r} is not valid for method 'msr'; valid: {', '.join(DESIGNS)}")
    first = np.vstack([np.zeros((1, n), bool), np.ones((1, n), bool)])
    taken = {key.tobytes() for key in np.packbits(first, axis=1)}
    want = game.budget - len(taken)
    details: dict = {"adjust": adjust}
    if adjust == "none":
        z = np.vstack([first, draw_new_uniform(game, n, want, rng, taken)])
        values, stderr = _mean_difference(z, game(z))
        return MethodOutput(values, stderr, details | _leftover(game))
    blocks = draw_blocks(n, want // 2, rng, taken, lambda k, r, tk: _draw_pairs(n, k, r, tk)[0::2])
    rest = draw_new_uniform(game, n, want - 2 * len(blocks.rows), rng, taken)  # odd budget, or pairs ran out
    details["design"] = f"{int(np.sum(blocks.block >= 0))} pairs in Hadamard blocks of {blocks.size}"
    # the designed pairs serve the Fourier surrogate, which auto offers from FOURIER_MIN_PAIRS_PER_PLAYER on
    fourier = n <= FOURIER_MAX_PLAYERS and len(blocks.rows) + 1 >= FOURIER_MIN_PAIRS_PER_PLAYER * n
    if design == "auto" and adjust == "auto" and fourier:
        blocks, v, note = _two_stage(game, first, blocks, rest, rng, taken)
        details |= note
    else:
        v = game(np.vstack([first, _with_complements(blocks.rows), rest]))
    pairs = _with_complements(blocks.rows)
    fitted = _paired_fit(blocks, v[2 : 2 + len(pairs)], v[0], v[1], adjust, rng)
    if fitted is None:
        details |= {"adjust": "none", "adjust_reason": f"{len(blocks.rows) + 1} pairs cannot fit {n} slopes"}
        values, stderr = _mean_difference(np.vstack([first, pairs, rest]), v)
        return MethodOutput(values, stderr, details | _leftover(game))
    values, stderr, choice = fitted
    # odd rows: one per pair and the full coalition's (8n gives 4n of them: not widened)
    if choice["adjust"] == "linear" and len(blocks.rows) + 1 < LINEAR_TAIL_PAIRS_PER_PLAYER * n:
        stderr = LINEAR_TAIL_SCALE * stderr
        choice["stderr_scale"] = (
            f"{LINEAR_TAIL_SCALE:g}: the linear fit on < {LINEAR_TAIL_PAIRS_PER_PLAYER} pairs a player has "
            "heavy-tailed errors (measured: 95% intervals covered 89-91% on order-3 sums of unanimity games at 4n)"
        )
    return MethodOutput(values, stderr, details | choice | _leftover(game))


def _two_stage(game: BudgetedGame, first: np.ndarray, blocks: BlockDesign, rest: np.ndarray, rng, taken: set[bytes]):
    """(the design, the values of first + its pairs + rest, details): the first blocks evaluated, then either
    the blocks drawn for the rest or, where the game is nearly additive, pairs chosen for it
    (additive_design.py; the pool excludes `taken`). Blocks kept, every draw and value is that of the
    one-stage design."""
    n = first.shape[1]
    cut = first_rows(blocks)
    later = len(blocks.rows) - cut
    stage_pairs = _with_complements(blocks.rows[:cut])
    if later <= 0:
        return blocks, game(np.vstack([first, stage_pairs, rest])), {}
    v_stage = game(np.vstack([first, stage_pairs]))
    y = v_stage[2:]
    x, t = _odd_rows(stage_pairs, y, v_stage[0], v_stage[1])
    linear = _odd_linear(x, t)
    stage = first_stage(blocks, cut)
    chosen, reason = None, "blocks kept: the first blocks cannot fit the slopes"
    if linear is not None:
        designed, reason = nearly_additive(stage, t, (y[0::2] + y[1::2]) / 2, linear[2], later)
        if designed:
            pool = _draw_pairs(n, min(POOL_PER_PAIR * later, POOL_MAX), rng, set(taken))[0::2]
            chosen = choose_rest(x, later, pool)
            if chosen is None:
                reason += f"; blocks kept: {len(pool)} new pairs left for {later}"
    if chosen is None:
        more = game(np.vstack([_with_complements(blocks.rows[cut:]), rest]))
        return blocks, np.concatenate([v_stage, more]), {"design_stage": reason}
    more = game(np.vstack([_with_complements(chosen), rest]))
    design = BlockDesign(
        np.vstack([stage.rows, chosen]),
        np.concatenate([stage.block, np.full(later, -1)]),
        np.concatenate([stage.index, np.zeros(later, dtype=np.int64)]),
        stage.labels,
        stage.flips,
        stage.size,
    )
    note = f"{cut} pairs in Hadamard blocks of {blocks.size}, then {later} chosen for the Banzhaf values"
    return design, np.concatenate([v_stage, more]), {"design": note, "design_stage": reason}


def _leftover(game: BudgetedGame) -> dict:
    return {"unspent_reason": "every coalition is already evaluated"} if game.remaining > 0 else {}


METHOD = Method.declare(
    "msr",
    msr,
    lambda n: 2,
    "Banzhaf values: maximum sample reuse (Wang & Jia 2023), regression-adjusted: auto | linear | none; design: auto | blocks",
    indices=("banzhaf",),
)
