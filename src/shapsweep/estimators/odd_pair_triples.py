r"""Banzhaf values from the pair-and-triple fit of both halves of the complementary pairs (msr at 8n).

Why: at 4-6 pairs a player the linear fit's whole error is the odd Walsh terms of degree 3 that alias
onto the main effects, and neither odd_triples.py nor odd_sets.py (the odd half alone, or the even
half as extra evidence for a greedy screen) found them out of sample on seeds 0-5. The sparse
unanimity fit of order 3 of pair_triple_fit.py (made for the k-SII pairs) sees a triple T as one
unknown in both halves, x_T / 8 in the odd part and its three pairs / 8 in the even part, and its
reweighted ridge identifies many of them where a screen cannot. Its triples' odd terms are taken from
the pairs' half-differences and the main effects refitted by least squares: the Banzhaf values are
twice those slopes.
When: only where it predicts the odd parts out of fold much better than the linear fit, K-fold error
under MARGIN times the linear fit's on the same folds. A sum of unanimity games of order <= 3 (the
model's own form) gave ratios 0.02-0.38 at n = 32 and 64, 8n, seeds 0-5; order <= 5 games, whose 4-
and 5-sets the model misreads, gave 0.81-1.15 and slopes up to 1.15x worse (a plain "lower error"
rule lost there). Standard errors: the larger of OLS with the cross-validated error as the residual variance and the
folds' jackknife.
"""

from __future__ import annotations

import numpy as np

from .interaction_jackknife import jackknife_spread
from .pair_triple_fit import fit_pairs_and_triples

FOLDS = 5  # 3 (training on 2/3 of the pairs) never offered it at n = 64, 8n, seeds 0-5: too few to find the triples
MARGIN = 0.5  # held-out error ratio to the linear fit under which the fit is offered (seeds 0-5, see above)
# The check ends early once the folds so far give a ratio of at least this (the fit no better than the
# linear one): seeds 0-5 and 100-105, n = 32 and 64, 8n, order-3 games never had a fold over 0.77, and each
# decision was the same as with all five folds; order-5 games, where it is not offered, pay less.
GIVE_UP = 1.0
# The folds' reweighting rounds (the final fit keeps pair_triple_fit.ROUNDS, 24): they only decide whether the
# fit is offered and give the jackknife's spread. 8 took the same decision as 24 on every seed measured (0-23 and
# 10-17, order 3 and 5, n = 32 and 64, 8n: the same estimates) at about 2/3 of the CPU; 4 lost one order-3 game
# of 8 at each n. Coverage of the 95% intervals (seeds 10-17, order 3): n = 64 98.2% -> 97.5%, n = 32 99.6% -> 98.4%.
FOLD_ROUNDS = 8


def _triple_part(members: np.ndarray, coef: np.ndarray):
    """x -> the fitted triples' odd terms, sum_T c_T / 8 prod_{j in T} x_j (+-1 rows)."""
    triple = members.sum(axis=1) == 3
    players = np.argsort(~members[triple], axis=1, kind="stable")[:, :3]  # each triple's three players
    c = coef[triple] / 8

    def part(x: np.ndarray) -> np.ndarray:  # one product of columns, not a loop over ~2000 triples
        return (x[:, players[:, 0]] * x[:, players[:, 1]] * x[:, players[:, 2]]) @ c

    return part


def _fit(x: np.ndarray, even: np.ndarray, t: np.ndarray, rounds: int | None = None):
    part = _triple_part(*fit_pairs_and_triples(x > 0, even, t, rounds))
    slopes = np.linalg.lstsq(x, t - part(x), rcond=None)[0]
    return slopes, part


def fit_odd_pair_triples(x: np.ndarray, t: np.ndarray, even: np.ndarray, rng):
    """(main effects, their stderr, the linear and this fit's held-out errors, details) or None when the
    fit is not clearly better out of fold. x: (m, n) +-1 first coalitions of the pairs; t, even: their
    odd and even parts."""
    m, n = x.shape
    fold = rng.permutation(m) % FOLDS
    held_linear = held_fit = 0.0
    repeats, scored = [], 0
    for k in range(FOLDS):
        held, train = fold == k, fold != k
        scored += int(held.sum())
        slopes, part = _fit(x[train], even[train], t[train], FOLD_ROUNDS)
        repeats.append(slopes)
        held_fit += float(np.sum((t[held] - x[held] @ slopes - part(x[held])) ** 2))
        linear = np.linalg.lstsq(x[train], t[train], rcond=None)[0]
        held_linear += float(np.sum((t[held] - x[held] @ linear) ** 2))
        if held_fit >= GIVE_UP * held_linear:
            break
    held_linear, held_fit = held_linear / scored, held_fit / scored
    folds = f"{FOLDS}-fold" if len(repeats) == FOLDS else f"{len(repeats)} of {FOLDS} folds' (given up)"
    details = {"odd_pair_triples_cv": f"{folds} error: linear {held_linear:.4g}, pairs and triples {held_fit:.4g}"}
    if held_fit >= MARGIN * held_linear:
        return None, details
    slopes, part = _fit(x, even, t)
    residual = t - x @ slopes - part(x)
    sigma2 = max(float(residual @ residual) / max(1, m - n), held_fit, 1e-16 * float(t @ t) / m)
    stderr = np.sqrt(np.clip(np.diag(np.linalg.pinv(x.T @ x)) * sigma2, 0.0, None))
    # the folds' fits are a delete-a-group jackknife of the slopes (interaction_jackknife.py's scaling): it
    # sees the triples' selection, which the OLS formula does not (n = 64, 8n: 87% coverage without it)
    stderr = np.maximum(stderr, jackknife_spread(np.array(repeats)))
    return (slopes, stderr, held_linear, held_fit), details
