"""Estimator cost floor: each method's own time per explanation (outside the game), one BLAS thread.

    .venv/bin/python benchmarks/estimators_cost.py            # n = 16..256, budgets 2n..32n
    .venv/bin/python benchmarks/estimators_cost.py --quick    # n = 16, 64, 256; budgets 4n, 32n

The game is a closed-form sum of unanimity games (benchmarks/estimators_games.SoumClosedForm), whose
own time is measured and subtracted. Prints a Markdown table (median of `--repeats` seeds, seconds)
and the cost floor's PASS/FAIL line (default method under 1 s for every n <= 256 and budget <= 32n);
writes benchmarks/out/estimators_cost.md.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: the floor is stated for one thread

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators_games as games_mod  # noqa: E402

from shapsweep.estimators import DEFAULT_METHOD, estimate  # noqa: E402

OUT = games_mod.OUT
METHODS = (DEFAULT_METHOD, "kernel", "permutation")


def own_time(method: str, n: int, budget: int, seed: int) -> tuple[float, dict]:
    game = games_mod.SoumClosedForm(n, seed)
    inside = [0.0]

    def timed(z):
        t = time.process_time()
        v = game(z)
        inside[0] += time.process_time() - t
        return v

    t = time.process_time()
    r = estimate(timed, n, method, budget=budget, seed=seed, batch_size=1024)
    return time.process_time() - t - inside[0], r.details


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    ns = (16, 64, 256) if args.quick else (16, 32, 64, 128, 256)
    mults = (4, 32) if args.quick else (2, 4, 8, 16, 32)
    lines = [
        "# Estimator cost (own CPU time per explanation, seconds, one BLAS thread; median of "
        f"{args.repeats} seeds; 2 shared cores, noisy)",
        "",
        "| method | n | " + " | ".join(f"{m}n" for m in mults) + " | surrogate at the largest budget |",
        "|---|---|" + "---|" * len(mults) + "---|",
    ]
    worst = 0.0
    for method in METHODS:  # warm up: imports and first-call costs are not per-explanation costs
        own_time(method, 16, 64, 0)
    for method in METHODS:
        for n in ns:
            cells, details = [], {}
            for mult in mults:
                runs = [own_time(method, n, mult * n, seed) for seed in range(args.repeats)]
                median = float(np.median([t for t, _ in runs]))
                details = runs[0][1]
                cells.append(f"{median:.3f}")
                if method == DEFAULT_METHOD:
                    worst = max(worst, median)
            lines.append(f"| {method} | {n} | " + " | ".join(cells) + f" | {details.get('surrogate', '')} |")
            print(lines[-1], file=sys.stderr, flush=True)
    verdict = "PASS" if worst < 1.0 else "FAIL"
    lines += [
        "",
        f"Cost floor ({DEFAULT_METHOD} < 1 s for n <= {max(ns)}, budget <= {max(mults)}n): worst {worst:.3f} s {verdict}",
    ]
    report = "\n".join(lines)
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = OUT / "estimators_cost.md.tmp"
    tmp.write_text(report + "\n")
    tmp.replace(OUT / "estimators_cost.md")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
