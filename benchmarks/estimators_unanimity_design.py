"""The next lead for issue 22's last two cells: the adaptive design run under the unanimity prior.

    .venv/bin/python benchmarks/estimators_unanimity_design.py --n 256 --mult 8 --orders 3,5 --seeds 0-5
    .venv/bin/python benchmarks/estimators_unanimity_design.py ... --block 1     # one pair a greedy step

A prototype measured, not the default: the default runs the adaptive design only up to 512 pairs
(`regression_adjusted.ADAPTIVE_MAX_PAIRS`) and chooses its pairs under the fitted Fourier prior. Here the
design also runs at n = 256, 8n (1,023 pairs) and chooses its pairs greedily to reduce the trace of the
posterior covariance of the Shapley values under a fixed unanimity prior (orders <= K, equal variance per
order; `unanimity_kernel.py`). A Gaussian process's posterior covariance does not depend on the values
observed, so this design needs no fit of the first pairs. `--block B` chooses B pairs a step (the B best
scores, then one exact rank-B update: a Cholesky of their B x B block), which turns the greedy's rank-one
updates into matrix products. Everything after the choice is the default's (the refit on every pair, the
correction on the random half). Prints, per order, the median relative L2 error, the CPU seconds of a whole
explanation and of the greedy alone (one thread), against the default on the same games.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.linalg import cholesky, solve_triangular  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators_games as games_mod  # noqa: E402

from shapsweep.estimators import (  # noqa: E402
    DEFAULT_METHOD,
    estimate,
    unanimity_kernel,
)
from shapsweep.estimators import regression_adjusted as ra  # noqa: E402


def unanimity_block_greedy(x, pool, count, weights, block, clock):
    """Indexes into `pool` of `count` pairs that most reduce the trace of Cov(phi | data) under the prior."""
    started = time.process_time()
    cand, n = np.where(pool, 1.0, -1.0), x.shape[1]
    k_data = unanimity_kernel.kernel_matrix(x, x, weights)
    ridge = 1e-6 * np.trace(k_data) / len(k_data)
    chol = cholesky(k_data + ridge * np.eye(len(k_data)), lower=True)
    factors = solve_triangular(chol, unanimity_kernel.kernel_matrix(cand, x, weights).T, lower=True).T
    table = unanimity_kernel._table(n, weights)
    size = (cand > 0).sum(axis=1)
    variance = table[size] - 2 * table[0] + table[n - size] - np.sum(factors * factors, axis=1)
    rows_data = solve_triangular(chol, unanimity_kernel.shapley_rows(x, weights), lower=True)
    cov_phi = unanimity_kernel.shapley_rows(cand, weights) - factors @ rows_data
    chosen, free = [], np.ones(len(cand), dtype=bool)
    while len(chosen) < count:
        b = min(block, count - len(chosen))
        score = np.where(free, np.sum(cov_phi * cov_phi, axis=1) / (np.maximum(variance, 0.0) + ridge), -np.inf)
        picked = np.argpartition(-score, b - 1)[:b]
        free[picked] = False
        chosen.extend(picked.tolist())
        column = unanimity_kernel.kernel_matrix(cand, cand[picked], weights) - factors @ factors[picked].T
        block_chol = cholesky(column[picked] + ridge * np.eye(b), lower=True)
        new = solve_triangular(block_chol, column.T, lower=True).T
        cov_phi -= new @ solve_triangular(block_chol, cov_phi[picked], lower=True)
        variance -= np.sum(new * new, axis=1)
        factors = np.hstack([factors, new])
    clock[0] += time.process_time() - started
    return np.array(chosen, dtype=np.int64)


def run(games, n, budget):
    errors, cpu = [], []
    for seed, game in games:
        started = time.process_time()
        r = estimate(game, n, DEFAULT_METHOD, budget=budget, seed=seed, batch_size=1024)
        cpu.append(time.process_time() - started)
        errors.append(np.linalg.norm(r.values - game.exact) / np.linalg.norm(game.exact))
    return np.array(errors), float(np.median(cpu))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--mult", type=int, default=8)
    parser.add_argument("--orders", default="3,5")
    parser.add_argument("--seeds", default="0-5", help="tuning seeds; 100-105 are the verdict's")
    parser.add_argument("--prior-order", type=int, default=3, help="K of the design's unanimity prior")
    parser.add_argument("--pool-per-pair", type=float, default=4.0)
    parser.add_argument("--block", type=int, default=32)
    args = parser.parse_args(argv)
    n, budget = args.n, args.mult * args.n
    pairs = (budget - 2) // 2
    random_pairs = max(
        int(np.ceil(ra.ADAPTIVE_RANDOM_SHARE * pairs)), int(np.ceil(ra.ADAPTIVE_MIN_RANDOM_PER_PLAYER * n))
    )
    weights, clock = unanimity_kernel.prior(args.prior_order), [0.0]
    for order in (int(o) for o in args.orders.split(",")):
        games = [
            (s, games_mod.SoumClosedForm(n, 1000 * order + s, max_order=order)) for s in games_mod.seed_list(args.seeds)
        ]
        default, default_cpu = run(games, n, budget)
        saved = ra.choose_pairs, ra.ADAPTIVE_MAX_PAIRS, ra.ADAPTIVE_STEP_CELLS
        ra.choose_pairs = lambda _four, x, pool, count: unanimity_block_greedy(
            x, pool, count, weights, args.block, clock
        )
        ra.ADAPTIVE_MAX_PAIRS = max(ra.ADAPTIVE_MAX_PAIRS, pairs)
        ra.ADAPTIVE_STEP_CELLS = int(args.pool_per_pair * (pairs - random_pairs) * (n + pairs))
        clock[0] = 0.0
        try:
            designed, designed_cpu = run(games, n, budget)
        finally:
            ra.choose_pairs, ra.ADAPTIVE_MAX_PAIRS, ra.ADAPTIVE_STEP_CELLS = saved
        print(
            f"SOUM order <= {order}, n = {n}, {args.mult}n, seeds {args.seeds}: default {np.median(default):.4f} "
            f"({default_cpu:.2f} CPU s), unanimity design K = {args.prior_order}, pool {args.pool_per_pair:g} a pair, "
            f"block {args.block}: {np.median(designed):.4f} ({designed_cpu:.2f} CPU s, greedy "
            f"{clock[0] / len(games):.2f}); lower on {int(np.sum(designed < default))}/{len(games)}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
