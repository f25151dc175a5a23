"""Estimator cost floor: each method's own time per explanation (outside the game), one BLAS thread.

    .venv/bin/python benchmarks/estimators_cost.py            # n = 16..256, budgets 2n..32n
    .venv/bin/python benchmarks/estimators_cost.py --quick    # n = 16, 64, 256; budgets 4n, 32n

The game is a closed-form sum of unanimity games (benchmarks/estimators_games.SoumClosedForm), whose
own time is measured and subtracted: interactions up to order 6, and for the default method also up to
order 3 (`--orders`), whose sparse triples the default screens and keeps at n = 256 (its costliest path).
Prints a Markdown table (median of `--repeats` seeds, seconds) and the cost floor's PASS/FAIL line
(default method under 1 s for every n <= 256 and budget <= 32n, every order);
writes benchmarks/out/estimators_cost.md. The allocator is set as `shapsweep explain` sets it
(shapsweep/allocator.py; `--glibc-heap` leaves glibc's default). Process time is user plus system time; the floor's line is on
it, and a second line gives the worst cell on user time alone with the system time it left out, since on
a VM a page fault can cost tens of microseconds and the system time of the same run then swings by most
of a second (docs/estimators.md, "Cost floor").
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: the floor is stated for one thread

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators_games as games_mod  # noqa: E402

from shapsweep.allocator import keep_freed_memory  # noqa: E402
from shapsweep.estimators import DEFAULT_METHOD, estimate  # noqa: E402

OUT = games_mod.OUT
METHODS = (DEFAULT_METHOD, "kernel", "permutation")


def own_time(method: str, n: int, budget: int, seed: int, max_order: int = 6) -> tuple[float, float, float, dict]:
    """(process, user, system) seconds outside the game, and the result's details."""
    game = games_mod.SoumClosedForm(n, seed, max_order=max_order)
    inside = [0.0]

    def timed(z):
        t = time.process_time()
        v = game(z)
        inside[0] += time.process_time() - t
        return v

    before, t = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
    r = estimate(timed, n, method, budget=budget, seed=seed, batch_size=1024)
    process = time.process_time() - t - inside[0]
    after = resource.getrusage(resource.RUSAGE_SELF)
    # the game is pure NumPy on small arrays: its time counts as user time
    user = after.ru_utime - before.ru_utime - inside[0]
    return process, user, after.ru_stime - before.ru_stime, r.details


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--orders", default="6,3", help="the games' highest interaction orders for the default method (others: 6)"
    )
    parser.add_argument(
        "--glibc-heap",
        action="store_true",
        help="leave glibc's allocator as it starts (default: as `shapsweep explain` sets it, allocator.py)",
    )
    args = parser.parse_args(argv)
    heap = "glibc's default heap" if args.glibc_heap else f"heap kept as in explain jobs: {keep_freed_memory()}"
    ns = (16, 64, 256) if args.quick else (16, 32, 64, 128, 256)
    mults = (4, 32) if args.quick else (2, 4, 8, 16, 32)
    lines = [
        "# Estimator cost (own CPU time per explanation, seconds, one BLAS thread; median of "
        f"{args.repeats} seeds; 2 shared cores, noisy; {heap})",
        "",
        "| method | game order <= | n | " + " | ".join(f"{m}n" for m in mults) + " | surrogate at the largest budget |",
        "|---|---|---|" + "---|" * len(mults) + "---|",
    ]
    worst, worst_user = 0.0, (0.0, 0.0, "")
    for method in METHODS:  # warm up: imports and first-call costs are not per-explanation costs
        own_time(method, 16, 64, 0)
    orders = [int(o) for o in args.orders.split(",")]
    for method in METHODS:
        for order in orders if method == DEFAULT_METHOD else [6]:
            for n in ns:
                cells, details = [], {}
                for mult in mults:
                    runs = [own_time(method, n, mult * n, seed, order) for seed in range(args.repeats)]
                    median = float(np.median([r[0] for r in runs]))
                    details = runs[0][3]
                    cells.append(f"{median:.3f}")
                    if method == DEFAULT_METHOD:
                        worst = max(worst, median)
                        user = float(np.median([r[1] for r in runs]))
                        if user > worst_user[0]:
                            system = float(np.median([r[2] for r in runs]))
                            worst_user = (user, system, f"order <= {order}, n = {n}, {mult}n")
                row = f"| {method} | {order} | {n} | " + " | ".join(cells) + f" | {details.get('surrogate', '')} |"
                lines.append(row)
                print(row, file=sys.stderr, flush=True)
    verdict = "PASS" if worst < 1.0 else "FAIL"
    lines += [
        "",
        f"Cost floor ({DEFAULT_METHOD} < 1 s for n <= {max(ns)}, budget <= {max(mults)}n): worst {worst:.3f} s {verdict}",
        f"User time alone: worst {worst_user[0]:.3f} s ({worst_user[2]}; median system time there "
        f"{worst_user[1]:.3f} s)",
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
