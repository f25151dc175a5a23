"""The adaptive design under a fixed unanimity prior (n = 256, 8n) against random pairs, and its knobs.

    .venv/bin/python benchmarks/estimators_unanimity_design.py --n 256 --mult 8 --orders 3,5 --seeds 0-5
    .venv/bin/python benchmarks/estimators_unanimity_design.py ... --pool-per-pair 4 --block 1

Past 512 pairs the default's design chooses its pairs greedily to reduce the trace of the posterior
covariance of the Shapley values under a fixed unanimity prior (`adaptive_design.choose_pairs_unanimity`,
used for n > 128 up to 1,024 pairs: n = 256 at 8n), `--block` pairs a greedy step from a pool of
`--pool-per-pair` candidates a designed pair (`regression_adjusted.UNANIMITY_DESIGN_*`). Prints, per order,
the median relative L2 error and the median CPU seconds of a whole explanation (one thread, game included)
of the design and of `design='random'` on the same games, and how many games the design lowered.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators_games as games_mod  # noqa: E402

from shapsweep.estimators import DEFAULT_METHOD, estimate  # noqa: E402
from shapsweep.estimators import regression_adjusted as ra  # noqa: E402


def run(games, n, budget, **options):
    errors, cpu, kinds = [], [], set()
    for seed, game in games:
        started = time.process_time()
        r = estimate(game, n, DEFAULT_METHOD, budget=budget, seed=seed, batch_size=1024, **options)
        cpu.append(time.process_time() - started)
        errors.append(np.linalg.norm(r.values - game.exact) / np.linalg.norm(game.exact))
        kinds.add(r.details["design"].get("prior", r.details["design"]["kind"]))
    return np.array(errors), float(np.median(cpu)), ", ".join(sorted(kinds))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--mult", type=int, default=8)
    parser.add_argument("--orders", default="3,5")
    parser.add_argument("--seeds", default="0-5", help="tuning seeds; 100-105 are the verdict's")
    parser.add_argument("--pool-per-pair", type=int, default=ra.UNANIMITY_DESIGN_POOL)
    parser.add_argument("--block", type=int, default=ra.UNANIMITY_DESIGN_BLOCK)
    args = parser.parse_args(argv)
    n, budget = args.n, args.mult * args.n
    ra.UNANIMITY_DESIGN_POOL, ra.UNANIMITY_DESIGN_BLOCK = args.pool_per_pair, args.block
    for order in (int(o) for o in args.orders.split(",")):
        games = [
            (s, games_mod.SoumClosedForm(n, 1000 * order + s, max_order=order)) for s in games_mod.seed_list(args.seeds)
        ]
        random, random_cpu, _ = run(games, n, budget, design="random")
        designed, designed_cpu, kinds = run(games, n, budget)
        print(
            f"SOUM order <= {order}, n = {n}, {args.mult}n, seeds {args.seeds}: random pairs {np.median(random):.4f} "
            f"({random_cpu:.2f} CPU s); default ({kinds}; pool {args.pool_per_pair} a pair, block {args.block}) "
            f"{np.median(designed):.4f} ({designed_cpu:.2f} CPU s); lower on "
            f"{int(np.sum(designed < random))}/{len(games)}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
