"""regression_adjusted's adaptive design against random pairs, on seeds the main benchmark does not use.

    .venv/bin/python benchmarks/estimators_design.py                    # seeds 6..17, budgets 4n, 8n, 16n, 32n
    .venv/bin/python benchmarks/estimators_design.py --first-seed 0 --seeds 2

The same games as benchmarks/estimators.py (model tables cached under benchmarks/out/). For each family
and budget: median relative L2 error to the exact values with `design: 'auto'` (the default: adaptive
where it applies) and `design: 'random'`, their ratio, the share of runs that took the adaptive
design, and the share of players whose 95% interval (value +- 1.96 stderr) holds the exact value. Prints a Markdown table and writes benchmarks/out/estimators_design.md (or --out-name).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # as in the other estimator benchmarks

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators_games as games_mod  # noqa: E402

from shapsweep.estimators import estimate  # noqa: E402


def families(log) -> dict[str, list]:
    out = {
        "SOUM n=12": games_mod.soum_games(12, 3, seed=0),
        "SOUM n=16": games_mod.soum_games(16, 3, seed=100),
        "MiniLM n=13-14": games_mod.minilm_games(log=log),
        "tiny Llama logprob n=12": games_mod.llama_logprob_games(log=log),
        "MiniLM n=16": games_mod.minilm_long_games(log=log),
    }
    for n in (32, 64, 128):
        out[f"SOUM n={n}"] = [games_mod.SoumClosedForm(n, 1000 * n + k) for k in range(3)]
    return out


def compare(games, mult: int, seeds) -> dict[str, float]:
    """Median error and 95%-interval coverage with design auto and random; share of runs that were adaptive."""
    errors = {"auto": [], "random": []}
    covered = {"auto": [], "random": []}
    adaptive = []
    for game in games:
        norm = np.linalg.norm(game.exact)
        for seed in seeds:
            for design in errors:
                r = estimate(game, game.n, "regression_adjusted", budget=mult * game.n, seed=seed, design=design)
                errors[design].append(np.linalg.norm(r.values - game.exact) / norm)
                covered[design].extend(np.abs(r.values - game.exact) <= 1.96 * r.stderr)
                if design == "auto":
                    adaptive.append(r.details.get("design", {}).get("kind") == "adaptive")
    out = {f"error {d}": float(np.median(v)) for d, v in errors.items()}
    out |= {f"coverage {d}": float(np.mean(v)) for d, v in covered.items()}
    return out | {"adaptive": float(np.mean(adaptive))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-seed", type=int, default=6, help="the main benchmark uses seeds 0 and 1")
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--mults", default="4,8,16,32")
    parser.add_argument("--only", default="", help="comma-separated family name prefixes")
    parser.add_argument("--out-name", default="estimators_design", help="writes benchmarks/out/<name>.md")
    args = parser.parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    mults = [int(m) for m in args.mults.split(",")]
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    lines = [
        f"# Adaptive design vs random pairs (regression_adjusted; median relative L2 error over the family's "
        f"games x seeds {seeds.start}..{seeds.stop - 1})",
        "",
        "| family | budget | design auto | design random | auto / random | adaptive runs | 95% coverage auto | random |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, games in families(log).items():
        if wanted and not any(name.startswith(w) for w in wanted):
            continue
        for mult in mults:
            r = compare(games, mult, seeds)
            auto, random = r["error auto"], r["error random"]
            lines.append(
                f"| {name} | {mult}n | {auto:.4f} | {random:.4f} | {auto / random:.2f} | {r['adaptive']:.0%} "
                f"| {r['coverage auto']:.1%} | {r['coverage random']:.1%} |"
            )
            log(lines[-1])
    text = "\n".join(lines) + "\n"
    print(text)
    games_mod.OUT.mkdir(parents=True, exist_ok=True)
    (games_mod.OUT / f"{args.out_name}.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
