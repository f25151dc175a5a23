"""Calibration of the default estimator's 95% intervals (issue 22 §1), per cell and per stderr regime.

    .venv/bin/python benchmarks/estimators_coverage.py                       # held-out seeds 100-105, n = 16..256
    .venv/bin/python benchmarks/estimators_coverage.py --seeds 0-23 --quick  # tuning seeds, n = 256 left out
    .venv/bin/python benchmarks/estimators_coverage.py --method msr          # Banzhaf (SOUM only)
    .venv/bin/python benchmarks/estimators_coverage.py --target --ns 32,64   # evaluations spent by target_stderr

No peers needed. The games are those of benchmarks/estimators_peers312.py (its `build_games`: SOUM with
2n terms of order <= 3 and <= 5, `SoumClosedForm(n, 1000 * order + seed, max_order=order)`, closed-form
exact values; the MiniLM and tiny-Llama value tables with `--families` naming them, tabulated once under
benchmarks/out/). Per cell (family x budget), over all players x seeds: the coverage of value +- 1.96
stderr, the median of |error| / stderr, and the mean stderr over the RMS error (a calibrated stderr gives
about 1; over 1 is conservative), each also per stderr regime (which branch of `regression_adjusted`
produced the stderr, read from `details`). Writes benchmarks/out/<out-name>.md.

`--target`: for each SOUM game, the evaluations `target_stderr` spends to reach a target (the median over
the seeds of the max stderr of a 32n run, times 1.5: a target the rounds reach before the budget), and
the error it then has.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # as in the other estimator benchmarks

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators_games as games_mod  # noqa: E402
import estimators_peers312 as peers312  # noqa: E402

from shapsweep.estimators import DEFAULT_METHOD, estimate  # noqa: E402

Z95 = peers312.Z95
MODEL_FAMILIES = {"minilm": "MiniLM 13-14 words", "llama": "tiny Llama logprob 12 words"}


def exact_of(game, method: str) -> np.ndarray:
    if method == "msr":  # Banzhaf of a sum of unanimity games: c_T / 2^(|T| - 1) to each member of T
        return game.incidence @ (game.coef / 2.0 ** (game.sizes - 1))
    return game.exact


def regime(details: dict) -> str:
    """Which stderr branch a result came from (regression_adjusted's details; other methods: their sampler)."""
    if "adjust" in details:  # msr: its adjustment (linear fit, triples, sets, a surrogate)
        return f"adjust {details['adjust']}"
    correction = details.get("correction")
    if correction is None:
        return details.get("sampler", details.get("surrogate", "?"))
    if details.get("design", {}).get("kind") == "adaptive":
        return "design, shrunk"
    if correction["reason"].startswith("split-half"):
        return "random, shrunk"
    if "stderr_scale" in correction:
        return "whole, fit on every pair"
    return "whole, fit on part"


def build(args, log) -> list[tuple[str, int, object]]:
    ns = [int(x) for x in args.ns.split(",") if x]
    if args.quick:
        ns = [n for n in ns if n < 256]
    orders = [int(x) for x in args.orders.split(",") if x]
    families = [f for f in args.families.split(",") if f]
    games = peers312.build_games(ns if "soum" in families else [], orders, args.seeds, False, log)
    wanted = {MODEL_FAMILIES[f] for f in families if f in MODEL_FAMILIES}
    if wanted and args.method != "msr":
        games += [g for g in peers312.build_games([], [], args.seeds, True, log) if g[0] in wanted]
    return games


def run_cells(games, mults, method, log, **options) -> dict:
    """{(family, mult): [(regime, |error| array, stderr array, weight)]} over the games' seeds."""
    cells = defaultdict(list)
    for family, seed, game in games:
        exact = exact_of(game, method)
        for mult in mults:
            budget = min(mult * game.n, 2**game.n)
            r = estimate(game, game.n, method, budget=budget, seed=seed, batch_size=1024, **options)
            weight = r.details.get("correction", {}).get("weight", 1.0)
            cells[(family, mult)].append((regime(r.details), np.abs(r.values - exact), r.stderr, weight))
        log(f"{family} seed {seed} done")
    return cells


def stats(runs) -> tuple[int, float, float, float]:
    """(runs, coverage, median |error| / stderr, mean stderr / RMS error) over all players of the runs."""
    err = np.concatenate([r[1] for r in runs])
    se = np.concatenate([r[2] for r in runs])
    covered = float(np.mean(err <= Z95 * se + 1e-12))
    ratio = err[se > 0] / se[se > 0]
    z = float(np.median(ratio)) if len(ratio) else float("nan")
    rms = float(np.sqrt(np.mean(err**2)))
    return len(runs), covered, z, float(np.mean(se) / rms) if rms > 0 else float("nan")


def report(cells, mults, args) -> str:
    lines = [
        f"# 95% intervals of `{args.method}` (seeds {args.seeds_text})",
        "",
        "coverage: share of players x seeds with |error| <= 1.96 stderr; |e|/se: median of |error| / stderr "
        "(0.67 for a calibrated normal); se/rms: mean stderr over the RMS error (1 calibrated, > 1 conservative).",
        "",
        "| family | budget | regimes (runs) | coverage | median abs(e)/se | mean se / RMS e |",
        "|---|---|---|---|---|---|",
    ]
    lows = []
    for (family, mult), runs in cells.items():
        _, cov, z, width = stats(runs)
        counts = defaultdict(int)
        for r in runs:
            counts[r[0]] += 1
        shown = "; ".join(f"{k} ({v})" for k, v in counts.items())
        lines.append(f"| {family} | {mult}n | {shown} | {100 * cov:.1f}% | {z:.2f} | {width:.2f} |")
        lows.append((cov, f"{family}, {mult}n"))
    by_regime = defaultdict(list)
    for runs in cells.values():
        for r in runs:
            by_regime[r[0]].append(r)
    lines += ["", "## Per regime (all cells)", "", "| regime | runs | coverage | median abs(e)/se | mean se / RMS e |"]
    lines.append("|---|---|---|---|---|")
    for name, runs in by_regime.items():
        k, cov, z, width = stats(runs)
        lines.append(f"| {name} | {k} | {100 * cov:.1f}% | {z:.2f} | {width:.2f} |")
    low = min(lows)
    lines += [
        "",
        f"Coverage >= 90% in every cell: lowest {100 * low[0]:.1f}% ({low[1]}) {'PASS' if low[0] >= 0.9 else 'FAIL'}",
    ]
    return "\n".join(lines) + "\n"


def target_runs(games, args, log) -> str:
    """Evaluations spent by target_stderr to reach a target set from 32n runs, and the error reached."""
    lines = [
        "",
        "## target_stderr: evaluations spent (median over seeds) to reach 1.5x the median max stderr at 32n",
        "",
        "| family | target | evaluations (median) | reached | median rel. L2 error |",
        "|---|---|---|---|---|",
    ]
    by_family = defaultdict(list)
    for family, seed, game in games:
        if family.startswith("SOUM"):
            by_family[family].append((seed, game))
    for family, runs in by_family.items():
        n = runs[0][1].n
        full = [estimate(g, n, args.method, budget=32 * n, seed=s, batch_size=1024).max_stderr for s, g in runs]
        target = 1.5 * float(np.median(full))
        spent, reached, errors = [], [], []
        for seed, game in runs:
            r = estimate(game, n, args.method, budget=64 * n, seed=seed, batch_size=1024, target_stderr=target)
            spent.append(r.n_evals)
            reached.append(bool(r.details.get("target_reached")))
            errors.append(peers312.rel_error(r.values, exact_of(game, args.method)))
        lines.append(
            f"| {family} | {target:.4g} | {np.median(spent):.0f} ({np.median(spent) / n:.1f}n) | "
            f"{sum(reached)}/{len(reached)} | {np.median(errors):.4f} |"
        )
        log(f"target {family} done")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", default=DEFAULT_METHOD)
    parser.add_argument("--ns", default="16,32,64,128,256")
    parser.add_argument("--orders", default="3,5")
    parser.add_argument("--mults", default="4,8,16,32")
    parser.add_argument("--seeds", default="100-105", help="held-out seeds 100-105 (verdict); tuning: 0-23")
    parser.add_argument("--families", default="soum", help="soum, minilm, llama (comma-separated)")
    parser.add_argument("--design", default="", help="regression_adjusted's design option (e.g. random)")
    parser.add_argument("--quick", action="store_true", help="leave out n = 256 (about 1 s a run)")
    parser.add_argument("--target", action="store_true", help="also the evaluations target_stderr spends (SOUM)")
    parser.add_argument("--out-name", default="estimators_coverage")
    args = parser.parse_args(argv)
    args.seeds_text, args.seeds = args.seeds, games_mod.seed_list(args.seeds)
    mults = [int(x) for x in args.mults.split(",") if x]
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    t0 = time.process_time()
    games = build(args, log)
    options = {"design": args.design} if args.design else {}
    text = report(run_cells(games, mults, args.method, log, **options), mults, args)
    if args.target:
        text += target_runs(games, args, log)
    text += f"\n({time.process_time() - t0:.0f} CPU s)\n"
    games_mod.OUT.mkdir(parents=True, exist_ok=True)
    (games_mod.OUT / f"{args.out_name}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
