"""Adaptive design: the pairs that most reduce the posterior variance of a surrogate's Shapley values.

What: given an odd Fourier surrogate fitted to a random first part of the pairs, choose the remaining
pairs one at a time from a pool of random candidates (drawn like the random part, by the Shapley
kernel's size mass, without replacement), each time the one whose half-difference would most reduce
the total posterior variance of the Shapley values (the trace of their posterior covariance) under the
surrogate's fitted Gaussian prior and noise.

Idea: the kernel ridge surrogate is a Gaussian-process posterior mean. Adding a pair at +-1 row x
lowers the trace by ||Cov(phi, f(x) | data)||^2 / (Var(f(x) | data) + noise); both are updated by a
rank-one step once x is chosen. The pool's posterior covariance is kept as K0 - V V^T, one column per
chosen pair, so a step costs O(pool * (n + pairs)) and the pool's full Gram matrix is never formed.
Random kernel sampling spends most pairs on sizes 1 and n-1, where the Fourier characters are nearly
collinear; the design spreads its pairs where they separate the characters that carry Shapley value.
Measured against random pairs in docs/estimators.md.

Reference: greedy Bayesian (A-optimal) experimental design for Gaussian-process regression (Krause,
Singh & Guestrin, "Near-optimal sensor placements in Gaussian processes", JMLR 2008).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cholesky, solve_triangular

from .fourier_kernel import FourierSurrogate, kernel_matrix, shapley_rows
from .paired_design import PairedSampler
from .unanimity_kernel import kernel_matrix as unanimity_kernel_matrix
from .unanimity_kernel import odd_variance as unanimity_odd_variance
from .unanimity_kernel import shapley_rows as unanimity_shapley_rows

# The fixed prior's ridge, relative to the data's mean prior variance: the design's noise only keeps the
# factorisations stable (the greedy's choice barely depends on it; the refit chooses its own noise).
UNANIMITY_DESIGN_JITTER = 1e-6


def candidate_pool(sampler: PairedSampler, size: int) -> np.ndarray:
    """Up to `size` new pairs (their first halves, bool rows), spread over size groups like the sampler's.

    Drawn with the sampler's generator, excluding the pairs it already holds (`PairedSampler.draw`);
    groups it has enumerated completely add none.
    """
    new = sampler.draw(sampler.n_coalitions + 2 * size)
    return np.vstack(list(new.values())) if new else np.zeros((0, sampler.n), dtype=bool)


def choose_pairs(surrogate: FourierSurrogate, x: np.ndarray, pool: np.ndarray, count: int) -> np.ndarray:
    """Indexes into `pool` of `count` pairs chosen greedily to reduce the trace of Cov(phi | data).

    Args:
        surrogate: the fitted surrogate (its prior weights, ARD scale and ridge define the GP).
        x: (p, n) +-1 rows the surrogate was fitted to (the data the posterior conditions on).
        pool: (c, n) bool first halves of candidate pairs.
        count: pairs to choose (at most c).
    """
    weights, scale = surrogate.weights, surrogate.scale
    return _greedy(
        x, pool, count, weights, scale, max(surrogate.ridge, 1e-12), lambda s: shapley_rows(s, weights, scale)
    )


def choose_pairs_banzhaf(
    x: np.ndarray, pool: np.ndarray, count: int, weights: dict[int, float], noise: float
) -> np.ndarray:
    """Indexes into `pool` of `count` pairs chosen greedily to reduce the trace of the posterior covariance of
    the Banzhaf values under a fixed isotropic Fourier prior `weights` (degree -> w_k) and ridge `noise`.
    The Banzhaf values are twice the degree-1 coefficients, so Cov(beta, f(s)) = 2 w_1 s; a Gaussian
    process's posterior covariance does not depend on the values observed, so no fit is needed."""
    return _greedy(x, pool, count, weights, None, noise, lambda s: 2.0 * weights[1] * s)


def _greedy(x, pool, count, weights, scale, noise, target_rows) -> np.ndarray:
    """The greedy A-optimal choice under the Fourier prior; target_rows(s) is Cov(target, f(s)) a row."""
    cand = np.where(pool, 1.0, -1.0)
    k_data = kernel_matrix(x, x, weights, scale)
    k_cand_data = kernel_matrix(cand, x, weights, scale)
    solve = np.linalg.solve(k_data + noise * np.eye(len(x)), k_cand_data.T).T  # K_cd (K_dd + noise)^-1
    variance = np.diag(kernel_matrix(cand[:1], cand[:1], weights, scale))[0] - np.sum(solve * k_cand_data, axis=1)
    cov_phi = target_rows(cand) - solve @ target_rows(x)
    factors = np.zeros((len(cand), count))  # V: the chosen pairs' rank-one terms, K_post = K0 - V V^T
    chosen = np.zeros(count, dtype=np.int64)
    free = np.ones(len(cand), dtype=bool)
    for step in range(count):
        score = np.where(free, np.sum(cov_phi**2, axis=1) / (np.maximum(variance, 0.0) + noise), -np.inf)
        j = int(np.argmax(score))
        chosen[step], free[j] = j, False
        # Column j of the posterior covariance over the pool, given the data and the pairs chosen so far.
        column = kernel_matrix(cand, cand[j : j + 1], weights, scale)[:, 0] - solve @ k_cand_data[j]
        column -= factors[:, :step] @ factors[j, :step]
        d = column[j] + noise
        cov_phi -= np.outer(column, cov_phi[j]) / d
        factors[:, step] = column / np.sqrt(d)
        variance -= column**2 / d
    return chosen


def choose_pairs_unanimity(
    x: np.ndarray, pool: np.ndarray, count: int, weights: dict[int, float], block: int
) -> np.ndarray:
    """Indexes into `pool` of `count` pairs chosen greedily under a fixed unanimity prior, `block` a step.

    A Gaussian process's posterior covariance does not depend on the values observed, so under a fixed
    prior (unanimity_kernel.py, orders and weights `weights`) the design needs no fit of the first pairs.
    Each step takes the `block` best scores and conditions on them at once (a Cholesky of their block of
    the posterior covariance), which turns `count` rank-one updates into count / block matrix products.
    """
    cand = np.where(pool, 1.0, -1.0)
    k_data = unanimity_kernel_matrix(x, x, weights)
    jitter = UNANIMITY_DESIGN_JITTER * float(np.mean(np.diag(k_data)))
    chol = cholesky(k_data + jitter * np.eye(len(x)), lower=True)
    # The pool's posterior covariance is K0 - F F^T: F's first columns condition on the data, and each
    # step appends `block` more (allocated once: growing it by copies faulted in fresh pages each step)
    factors = np.empty((len(cand), len(x) + count))
    factors[:, : len(x)] = solve_triangular(chol, unanimity_kernel_matrix(cand, x, weights).T, lower=True).T
    used = len(x)
    variance = unanimity_odd_variance(cand, weights) - np.sum(factors[:, :used] ** 2, axis=1)
    rows_data = solve_triangular(chol, unanimity_shapley_rows(x, weights), lower=True)
    cov_phi = unanimity_shapley_rows(cand, weights) - factors[:, :used] @ rows_data  # Cov(f(pool), phi | data)
    chosen, free = [], np.ones(len(cand), dtype=bool)
    while len(chosen) < count:
        b = min(block, count - len(chosen))
        score = np.where(free, np.sum(cov_phi * cov_phi, axis=1) / (np.maximum(variance, 0.0) + jitter), -np.inf)
        picked = np.argpartition(-score, b - 1)[:b]
        free[picked] = False
        chosen.extend(picked.tolist())
        column = unanimity_kernel_matrix(cand, cand[picked], weights) - factors[:, :used] @ factors[picked, :used].T
        block_chol = cholesky(column[picked] + jitter * np.eye(b), lower=True)
        new = solve_triangular(block_chol, column.T, lower=True).T
        cov_phi -= new @ solve_triangular(block_chol, cov_phi[picked], lower=True)
        variance -= np.sum(new * new, axis=1)
        factors[:, used : used + b] = new
        used += b
    return np.array(chosen, dtype=np.int64)
