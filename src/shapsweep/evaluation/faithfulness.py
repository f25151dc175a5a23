"""Faithfulness of one explanation, measured on the game it explains (the run's own model and value).

Players are ranked by attribution (largest first, ties by position). With `v` the game and `n` players:

- deletion curve: `v(all players but the top k)` for k = 0..n; its area over the fraction removed
  (trapezoid on [0, 1]) is small when the top-ranked players really carry the value;
- insertion curve: `v(only the top k)` for k = 0..n; its area is large for a faithful ranking;
- AOPC comprehensiveness: mean over `fractions` q of `v(full) - v(full without the top ceil(q n))`
  (higher is better); AOPC sufficiency: mean of `v(full) - v(only the top ceil(q n))` (lower is better);
- leave-one-out rank correlation: Spearman between the attributions and `v(full) - v(full without i)`.

All coalitions of a row (about 3n + 2, most shared) go to the game in one batched call; the game caches and
deduplicates them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from shapsweep.file_schemas import FAITHFULNESS_METRICS

DEFAULT_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5)
METRICS = FAITHFULNESS_METRICS


@dataclass(frozen=True)
class Faithfulness:
    deletion_curve: list[float]
    insertion_curve: list[float]
    deletion_auc: float
    insertion_auc: float
    aopc_comprehensiveness: float
    aopc_sufficiency: float
    loo_spearman: float | None  # None when either side is constant (rank correlation undefined)
    n_coalitions: int

    def metrics(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in METRICS}


def ranking(attribution) -> np.ndarray:
    """Player indexes, largest attribution first; equal values keep their input order (stable)."""
    values = np.asarray(attribution, dtype=float)
    return np.argsort(-values, kind="stable")


def top_k(fraction: float, n: int) -> int:
    """How many players a fraction of n means: at least one, at most n."""
    return min(n, max(1, math.ceil(fraction * n - 1e-9)))


def area(curve: np.ndarray) -> float:
    """Trapezoid area of a curve sampled at k/n, k = 0..n, over [0, 1]."""
    if len(curve) < 2:
        return float(curve[0]) if len(curve) else float("nan")
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


def evaluate(game, attribution, fractions=DEFAULT_FRACTIONS) -> Faithfulness:
    """Faithfulness of `attribution` (length n) for `game` (bool (k, n) -> (k,))."""
    values = np.asarray(attribution, dtype=float)
    n = len(values)
    if n == 0:
        raise ValueError("an explanation with no players has no faithfulness")
    if not np.all(np.isfinite(values)):
        raise ValueError("attribution has non-finite values")
    fractions = list(fractions)
    if not fractions or any(not (0 < q <= 1) for q in fractions):
        raise ValueError(f"evaluation.fractions: each must be in (0, 1], got {fractions}")

    order = ranking(values)
    # Row k of `deleted` lacks the top-k players; row k of `inserted` has only them.
    deleted = np.ones((n + 1, n), dtype=bool)
    inserted = np.zeros((n + 1, n), dtype=bool)
    for k in range(1, n + 1):
        deleted[k:, order[k - 1]] = False
        inserted[k:, order[k - 1]] = True
    leave_one_out = ~np.eye(n, dtype=bool)
    coalitions = np.concatenate([deleted, inserted, leave_one_out])
    unique, inverse = np.unique(coalitions, axis=0, return_inverse=True)
    scores = np.asarray(game(unique), dtype=float)[inverse.reshape(-1)]

    deletion = scores[: n + 1]
    insertion = scores[n + 1 : 2 * n + 2]
    loo_values = scores[2 * n + 2 :]
    v_full = deletion[0]
    ks = [top_k(q, n) for q in fractions]
    loo_effect = v_full - loo_values
    rho = None
    if n > 1 and np.ptp(values) > 0 and np.ptp(loo_effect) > 0:
        rho = float(spearmanr(values, loo_effect).statistic)
    return Faithfulness(
        deletion_curve=deletion.tolist(),
        insertion_curve=insertion.tolist(),
        deletion_auc=area(deletion),
        insertion_auc=area(insertion),
        aopc_comprehensiveness=float(np.mean([v_full - deletion[k] for k in ks])),
        aopc_sufficiency=float(np.mean([v_full - insertion[k] for k in ks])),
        loo_spearman=rho,
        n_coalitions=len(unique),
    )
