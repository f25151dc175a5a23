"""Banzhaf estimators (`msr`, `mc`) against mllm-shap 0.8's (Kernel Banzhaf, MC) at equal budgets.

    .venv/bin/python benchmarks/estimators_banzhaf_peers.py                  # verdict seeds 100-105
    .venv/bin/python benchmarks/estimators_banzhaf_peers.py --ns 16 --mults 8 --seeds 0,1
    .venv/bin/python benchmarks/estimators_banzhaf_peers.py --cells 5:64:16,3:128:8   # order:n:budget/n
    .venv/bin/python benchmarks/estimators_banzhaf_peers.py --models --orders 3 --ns 16   # + model tables

msr's constants (design, CV folds, the 12n threshold of the triples) were tuned on seeds 0-5; the
verdict is read on the held-out seeds 100-105 (the default).

The peers run in the Python 3.12 venv of estimators_peers312.py (built there when missing; `--venv`).
Games: SOUM orders 3 and 5 (estimators_games.SoumClosedForm), whose Banzhaf values are closed form:
beta_i = sum_{T ni i} c_T / 2^(|T|-1); with `--models`, also the tables of estimators_peers.py's real model
games (all-MiniLM-L6-v2 similarity, 13-14 words; tiny-Llama log-probability, 12 words; tabulated on first
use), whose Banzhaf values are read off the whole table. Per cell (family x budget): median relative L2
error of each method over the seeds, and `msr`'s ratio to the best peer. Floor (PASS/FAIL lines): ratio <= 0.8, and
never above 1.0. CPU: msr's largest one-thread CPU time per explanation in the cell; `--cost` adds
n = 256 at 32n (order 3 and 5).
Writes benchmarks/out/estimators_banzhaf_peers.md.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: CPU times are stated for one thread

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators_games as games_mod  # noqa: E402
import estimators_peers312 as peers312  # noqa: E402

from shapsweep.estimators import estimate  # noqa: E402
from shapsweep.estimators.exact import banzhaf_from_all_values  # noqa: E402

PEERS = ("mllm-shap Kernel Banzhaf", "mllm-shap MC Banzhaf")
OURS = {"msr": {}, "msr linear": {"adjust": "linear"}, "msr plain": {"adjust": "none"}, "mc": {}}
FLOOR = 0.8


def banzhaf_of(game) -> np.ndarray:
    if isinstance(game, games_mod.TabulatedGame):
        return banzhaf_from_all_values(game.table, game.n)
    return game.incidence @ (game.coef / 2.0 ** (game.sizes - 1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ns", default="16,32,64,128")
    parser.add_argument("--orders", default="3,5")
    parser.add_argument("--mults", default="4,8,16,32")
    parser.add_argument("--seeds", default="100,101,102,103,104,105")
    parser.add_argument("--venv", default=str(games_mod.OUT / "peers312"))
    parser.add_argument("--cells", default="", help="only these cells, order:n:multiple (e.g. 5:64:16,3:128:8)")
    parser.add_argument("--models", action="store_true", help="also the MiniLM and tiny-Llama value tables")
    parser.add_argument("--cost", action="store_true", help="also time msr at n = 128 and 256, 32n")
    parser.add_argument("--out", default="estimators_banzhaf_peers.md")
    args = parser.parse_args(argv)
    ns, orders, mults = (tuple(int(x) for x in getattr(args, a).split(",")) for a in ("ns", "orders", "mults"))
    seeds = tuple(int(x) for x in args.seeds.split(","))
    cells = {tuple(int(v) for v in c.split(":")) for c in args.cells.split(",") if c}
    if cells:
        orders, ns, mults = (tuple(sorted({c[k] for c in cells})) for k in range(3))

    def wanted(family: str, mult: int) -> bool:
        if not family.startswith("SOUM"):
            return True  # the model tables: every budget
        return not cells or any(family == f"SOUM order <= {o}, n = {n}" and mult == k for o, n, k in cells)

    python = peers312.ensure_venv(Path(args.venv))
    games = peers312.build_games(ns, orders, seeds, models=args.models)
    errors: dict[tuple[str, int, str], list[float]] = {}
    cpu: dict[tuple[str, int], float] = {}
    for row in peers312.run_peers(python, games, mults, PEERS):
        family, _seed, game = games[row["index"]]
        mult = row["budget"] // game.n
        error = peers312.rel_error(row["phi"], banzhaf_of(game)) if "error" not in row else float("inf")
        errors.setdefault((family, mult, row["method"]), []).append(error)
    for family, seed, game in games:
        for mult in (k for k in mults if wanted(family, k)):
            budget = min(mult * game.n, 2**game.n)
            for name, options in OURS.items():
                method = name.split()[0]
                t0 = time.process_time()
                phi = estimate(game, game.n, method, budget=budget, seed=seed, batch_size=1024, **options).values
                if name == "msr":
                    key = (family, mult)
                    cpu[key] = max(cpu.get(key, 0.0), time.process_time() - t0)
                errors.setdefault((family, mult, name), []).append(peers312.rel_error(phi, banzhaf_of(game)))
    families = list(dict.fromkeys(f for f, _s, _g in games))
    columns = [*OURS, *PEERS]
    lines = [
        f"Banzhaf, median relative L2 error over seeds {args.seeds} (msr tuned on seeds 0-5); "
        f"ratio = msr / best peer (floor <= {FLOOR}, never above 1.0); msr CPU s = largest per explanation",
        "",
        "| game | budget | " + " | ".join(columns) + " | ratio | msr CPU s |",
        "|---" * (len(columns) + 4) + "|",
    ]
    verdicts = []
    for family in families:
        for mult in (k for k in mults if wanted(family, k)):
            med = {c: float(np.median(errors[(family, mult, c)])) for c in columns}
            ratio = med["msr"] / min(med[p] for p in PEERS)
            lines.append(
                f"| {family} | {mult}n | "
                + " | ".join(f"{med[c]:.4f}" for c in columns)
                + f" | {ratio:.2f} | {cpu[(family, mult)]:.2f} |"
            )
            verdict = "PASS" if ratio <= FLOOR else "FAIL (above 1.0)" if ratio > 1.0 else "FAIL"
            verdicts.append(f"{verdict} {family}, {mult}n: msr / best peer {ratio:.2f}")
    passed = sum(v.startswith("PASS") for v in verdicts)
    verdicts.append(f"{passed} PASS, {len(verdicts) - passed} FAIL ({sum('above' in v for v in verdicts)} above 1.0)")
    if args.cost:
        verdicts += ["", *_cost(seeds)]
    text = "\n".join([*lines, "", *verdicts]) + "\n"
    games_mod.OUT.mkdir(parents=True, exist_ok=True)
    (games_mod.OUT / args.out).write_text(text)
    print(text)
    return 0


def _cost(seeds) -> list[str]:
    """msr's one-thread CPU time per explanation at 32n, n = 128 (the largest n with the triples and
    sets) and 256 (the cost bound: under 1 s to n = 256)."""
    out = []
    for n in (128, 256):
        for order in (3, 5):
            times = []
            for seed in seeds:
                game = games_mod.SoumClosedForm(n, 1000 * order + seed, max_order=order)
                t0 = time.process_time()
                estimate(game, n, "msr", budget=32 * n, seed=seed, batch_size=1024)
                times.append(time.process_time() - t0)
            out.append(
                f"cost: msr at n = {n}, 32n, SOUM order <= {order}: CPU s max {max(times):.2f}, "
                f"median {float(np.median(times)):.2f} (game evaluation included)"
            )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
