"""msr's odd-term fit by triple_screen.screen_triples (the Shapley default's screen) against msr auto.

Usage (from the repository root, tuning seeds 0-23 unless --seeds):
    PYTHONPATH=src .venv/bin/python benchmarks/estimators_banzhaf_screen.py 3:128:8 [--z-scale 0.7 --keep-scale 0.8]
    PYTHONPATH=src .venv/bin/python benchmarks/estimators_banzhaf_screen.py 3:64:8 --rounds 12   # pair_triple_fit's rounds

Why: issue 22 section 2 asked whether the screen (greedy over all C(n, 3) odd Walsh triples on the pairs'
half-differences, refits, a keep bar) could fit msr's odd terms at 8n-16n, n = 64-128, or replace the
costly pair-and-triple fit at n = 64, 8n. Per seed it runs msr auto (estimate(..., 'msr')) on
estimators_games.SoumClosedForm(n, 1000 * order + seed, max_order=order) and, on the same pairs (msr's
_paired_fit is wrapped to see them), the linear fit and the screen's main effects (Banzhaf = 2 x slope);
prints each seed's relative L2 errors and the medians. --z-scale / --keep-scale set the screen's entry and
keep bars (its Z_SCALE, KEEP_SCALE); --rounds and --keep set pair_triple_fit's ROUNDS and KEEP (msr auto's
fit at n = 32-64, 8n). Not a verdict: the held-out verdicts are estimators_banzhaf_peers.py's.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: CPU times are stated for one thread

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators_games as games_mod  # noqa: E402

import shapsweep.estimators.pair_triple_fit as pair_triple_fit  # noqa: E402
import shapsweep.estimators.triple_screen as triple_screen  # noqa: E402
from shapsweep.estimators import estimate  # noqa: E402
from shapsweep.estimators import msr as msr_mod  # noqa: E402


def banzhaf_of(game) -> np.ndarray:
    return game.incidence @ (game.coef / 2.0 ** (game.sizes - 1))


def rel_error(phi, exact) -> float:
    return float(np.linalg.norm(phi - exact) / np.linalg.norm(exact))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cell", help="order:n:multiple, e.g. 3:128:8")
    parser.add_argument("--seeds", default="0-23", help="first-last (inclusive) or a comma list")
    parser.add_argument("--z-scale", type=float, default=triple_screen.Z_SCALE)
    parser.add_argument("--keep-scale", type=float, default=triple_screen.KEEP_SCALE)
    parser.add_argument("--rounds", type=int, default=pair_triple_fit.ROUNDS)
    parser.add_argument("--keep", type=int, default=pair_triple_fit.KEEP)
    args = parser.parse_args(argv)
    order, n, mult = (int(v) for v in args.cell.split(":"))
    if "-" in args.seeds:
        lo, hi = (int(v) for v in args.seeds.split("-"))
        seeds = range(lo, hi + 1)
    else:
        seeds = [int(v) for v in args.seeds.split(",")]
    settings = triple_screen.ScreenSettings(entry=args.z_scale, keep=args.keep_scale)
    pair_triple_fit.ROUNDS, pair_triple_fit.KEEP = args.rounds, args.keep

    seen: dict = {}
    paired_fit = msr_mod._paired_fit

    def watched(design, y, v_empty, v_full, adjust, rng):
        x, t = msr_mod._odd_rows(msr_mod._with_complements(design.rows), y, v_empty, v_full)
        seen["linear"] = msr_mod._odd_linear(x, t)[0]
        t0 = time.process_time()
        _triples, coef, details = triple_screen.screen_triples(x, t, settings)
        seen["screen_cpu"] = time.process_time() - t0
        seen["screen"] = 2 * coef[:n]
        seen["kept"] = (details.get("screened", 0), details["triples"])
        return paired_fit(design, y, v_empty, v_full, adjust, rng)

    msr_mod._paired_fit = watched
    rows = []
    for seed in seeds:
        game = games_mod.SoumClosedForm(n, 1000 * order + seed, max_order=order)
        exact = banzhaf_of(game)
        t0 = time.process_time()
        out = estimate(game, n, "msr", budget=mult * n, seed=seed, batch_size=1024)
        cpu = time.process_time() - t0
        row = {
            "seed": seed,
            "auto": rel_error(out.values, exact),
            "linear": rel_error(seen["linear"], exact),
            "screen": rel_error(seen["screen"], exact),
            "screened, kept": seen["kept"],
            "screen CPU s": round(seen["screen_cpu"], 2),
            "msr CPU s": round(cpu, 2),
            "adjust": out.details["adjust"],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"cell {args.cell}, seeds {args.seeds}: median relative L2 error", end="")
    for key in ("auto", "linear", "screen"):
        print(f", {key} {np.median([r[key] for r in rows]):.4f}", end="")
    print(
        f"; CPU s max: screen {max(r['screen CPU s'] for r in rows):.2f}, msr {max(r['msr CPU s'] for r in rows):.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
