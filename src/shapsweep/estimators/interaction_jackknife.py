"""Standard errors of pairwise indices from fits that have none: a delete-a-group jackknife over the pairs.

Why: the unanimity surrogate (STII, and k-SII / FSII with few pairs at n < 32), the pair-and-triple fit
and the even-part Lasso without its refit (too few residual degrees of freedom, pairwise_regression.py)
select their terms from the data, so no sandwich formula prices them. The jackknife does: the fit is
repeated with each of FOLDS groups of complementary pairs left out, and
var = (FOLDS - 1) / FOLDS * sum_g (matrix_g - mean)^2 (Efron and Stein 1981; the delete-d jackknife of
Shao and Wu 1989). That variance has FOLDS - 1 degrees of freedom, so the standard error reported is
scaled by t_{0.975, FOLDS-1} / 1.96 (1.42): value +- 1.96 stderr, what the shards and compare read, is
then the t interval. Unscaled, STII's intervals covered 89% of the closed-form pairs at n = 16, 8n and
85% of each row's top 5 (benchmarks/estimators_interaction_stderr.py --index STII). Cost: FOLDS more fits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

FOLDS = 5


def jackknife_stderr(fit: Callable[[np.ndarray], np.ndarray], pairs: int, rng: np.random.Generator) -> np.ndarray:
    """(n, n) standard errors of fit(all pairs); fit(kept) takes the indices of the pairs it may use."""
    groups = np.array_split(rng.permutation(pairs), FOLDS)
    return jackknife_spread(np.stack([fit(np.setdiff1d(np.arange(pairs), group)) for group in groups]))


def jackknife_spread(repeats: np.ndarray) -> np.ndarray:
    """Standard errors from the fits without each of G groups (axis 0), t-scaled as above."""
    # scipy.special's t quantile (what scipy.stats.t.ppf computes, bit for bit): importing scipy.stats cost the
    # first explanation of a process about 0.4 CPU s (msr at 8n, n = 32: 1.2 s of which the fit was 0.7)
    from scipy.special import stdtrit

    folds = len(repeats)
    spread = ((repeats - repeats.mean(axis=0)) ** 2).sum(axis=0)
    return np.sqrt((folds - 1) / folds * spread) * stdtrit(folds - 1, 0.975) / 1.96
