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
`adjust='auto'` (the default) also fits the sparse unanimity (Moebius) surrogate of regression_adjusted
to the same pairs for n <= MOEBIUS_MAX_PLAYERS, and takes the surrogate's own Banzhaf values,
sum_{T ni i} c_T / 2^(|T|-1), when its held-out error of the pairs' odd parts is below the linear fit's
leave-one-out error: on SOUM games at n = 16 that cuts the error 2-10x at 8n-16n, while from n = 32 on
the surrogate rarely wins and the linear fit stays (docs/estimators.md, Banzhaf). With the surrogate,
the standard errors are the OLS ones of a linear fit to its out-of-fold residuals (what a correction
would add; the surrogate's own error is not sampled).
Standard errors: MSR's are those of a difference of two sample means; the fit's are the OLS ones.
References: Wang and Jia, "Data Banzhaf", AISTATS 2023; Musco and Witter, "Provably accurate Shapley
value estimation via leverage score sampling" (Kernel Banzhaf), 2024.
"""

from __future__ import annotations

import numpy as np

from .base import Method
from .game_batching import BudgetedGame
from .monte_carlo import draw_new_uniform
from .paired_design import PairedSample
from .result import MethodOutput
from .sparse_moebius import fit_on_pairs

ADJUSTMENTS = ("auto", "linear", "none")
MOEBIUS_MAX_PLAYERS = 32  # above, the Moebius fit's order drops and it lost to the linear fit in every cell


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


def _linear_fit(z: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Slopes of the least-squares fit v ~ b0 + b.z and their standard errors; None if underdetermined."""
    m, n = z.shape
    if m <= n + 1:
        return None
    x = np.hstack([np.ones((m, 1)), z.astype(np.float64)])
    gram = x.T @ x
    if np.linalg.matrix_rank(gram) < n + 1:
        return None
    inverse = np.linalg.inv(gram)
    coef = inverse @ (x.T @ v)
    residual = v - x @ coef
    sigma2 = float(residual @ residual) / (m - n - 1)
    return coef[1:], np.sqrt(np.clip(np.diag(inverse)[1:] * sigma2, 0.0, None))


def _odd_rows(pairs: np.ndarray, y: np.ndarray, v_empty: float, v_full: float) -> tuple[np.ndarray, np.ndarray]:
    """+-1 rows (full, then each pair's first) and half-differences (v(S) - v(N\\S)) / 2."""
    x = np.vstack([np.ones((1, pairs.shape[1])), np.where(pairs[0::2], 1.0, -1.0)])
    return x, np.concatenate([[(v_full - v_empty) / 2], (y[0::2] - y[1::2]) / 2])


def _moebius(pairs, y, v_empty, v_full, rng):
    """The sparse Moebius surrogate's Banzhaf values, held-out error, OLS stderr of its residual, and
    the linear fit's leave-one-out error on the same odd rows (what it must beat); None if too few pairs."""
    n = pairs.shape[1]
    x, t = _odd_rows(pairs, y, v_empty, v_full)
    if len(x) <= n + 1:
        return None
    complement = np.arange(len(pairs)) ^ 1
    sample = PairedSample(pairs, np.ones(len(pairs)), complement, False)
    first = np.arange(len(pairs)) % 2 == 0
    error, (terms, coef, _odd, _fitted), honest, _rows = fit_on_pairs(sample, y, v_empty, v_full, first, rng)
    values = np.zeros(n)
    for term, c in zip(terms, coef, strict=True):
        values[list(term)] += c / 2.0 ** (len(term) - 1)
    pinv = np.linalg.pinv(x)
    hat = np.einsum("ij,ji->i", x, pinv)
    loo = float(np.mean(((t - x @ (pinv @ t)) / np.clip(1 - hat, 1e-9, None)) ** 2))
    residual = t - honest
    sigma2 = float(np.sum((residual - x @ (pinv @ residual)) ** 2)) / (len(x) - n)
    stderr = 2 * np.sqrt(np.clip(np.einsum("ij,ij->i", pinv, pinv) * sigma2, 0.0, None))
    return values, float(error), loo, stderr


def msr(game: BudgetedGame, n: int, rng: np.random.Generator, *, adjust: str = "auto"):
    if adjust not in ADJUSTMENTS:
        raise ValueError(f"option adjust={adjust!r} is not valid for method 'msr'; valid: {', '.join(ADJUSTMENTS)}")
    first = np.vstack([np.zeros((1, n), bool), np.ones((1, n), bool)])
    taken = {key.tobytes() for key in np.packbits(first, axis=1)}
    want = game.budget - len(taken)
    if adjust != "none":
        pairs = _draw_pairs(n, want // 2, rng, taken)
        rest = draw_new_uniform(game, n, want - len(pairs), rng, taken)  # odd budget, or pairs ran out
        z = np.vstack([first, pairs, rest])
    else:
        z = np.vstack([first, draw_new_uniform(game, n, want, rng, taken)])
    v = game(z)
    details: dict = {"adjust": adjust}
    if adjust == "auto" and 2 < n <= MOEBIUS_MAX_PLAYERS:
        moebius = _moebius(pairs, v[2 : 2 + len(pairs)], v[0], v[1], rng)
        if moebius is not None:
            values, error, loo, stderr = moebius
            if error < loo:
                details |= {
                    "adjust": "sparse_moebius",
                    "adjust_reason": f"held-out error {error:.3g} < linear {loo:.3g}",
                }
                return MethodOutput(values, stderr, details | _leftover(game))
            details["adjust_reason"] = f"sparse Moebius held-out error {error:.3g} >= linear {loo:.3g}"
    if adjust == "auto":
        details["adjust"] = "linear"
    fitted = _linear_fit(z, v) if adjust != "none" else None
    if fitted is None:
        if adjust != "none":
            details["adjust"] = "none"
            details["adjust_reason"] = f"{len(z)} coalitions cannot fit {n + 1} linear terms"
        values, stderr = _mean_difference(z, v)
    else:
        values, stderr = fitted
    return MethodOutput(values, stderr, details | _leftover(game))


def _leftover(game: BudgetedGame) -> dict:
    return {"unspent_reason": "every coalition is already evaluated"} if game.remaining > 0 else {}


METHOD = Method.declare(
    "msr",
    msr,
    lambda n: 2,
    "Banzhaf values: maximum sample reuse (Wang & Jia 2023), regression-adjusted: auto | linear | none",
    indices=("banzhaf",),
)
