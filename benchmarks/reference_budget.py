"""At what budget is a sampling run good enough to be a set's reference run (`reference: true`)?

    .venv/bin/python benchmarks/reference_budget.py           # 4 MiniLM word games, 5 seeds
    .venv/bin/python benchmarks/reference_budget.py --quick   # 2 games, 2 seeds

When exact is out of reach (more than ~20 players), the reference run that other runs are compared with
must be a high-budget run of an estimator that reports standard errors (`permutation`). This measures, on
real all-MiniLM-L6-v2 word games tabulated over all 2^n coalitions (benchmarks/estimators_games.py), how
the reported relative standard error ||stderr|| / ||phi|| tracks the true relative L2 error against exact,
and how often exact lies within 2 standard errors, per budget (multiples of n). docs/pipeline.md ("A
reference run when exact is out of reach") quotes the table this prints (also benchmarks/out/reference_budget.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators_games as games_mod

from shapsweep.estimators import estimate

MULTIPLIERS = (16, 32, 64, 128, 256)
METHOD = "permutation"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sentences = games_mod.SENTENCES[: 2 if args.quick else 4]
    seeds = range(2 if args.quick else 5)
    games = games_mod.minilm_games(sentences)
    lines = [
        f"{METHOD} on {len(games)} MiniLM word games (n = {', '.join(str(g.n) for g in games)}), {len(seeds)} seeds",
        "",
        "| budget | median reported rel. stderr | median true rel. L2 error | exact within 2 stderr |",
        "|---|---|---|---|",
    ]
    for mult in MULTIPLIERS:
        rel_se, rel_err, covered = [], [], []
        for game in games:
            norm = np.linalg.norm(game.exact)
            for seed in seeds:
                r = estimate(game, game.n, method=METHOD, budget=min(mult * game.n, 2**game.n), seed=seed)
                rel_se.append(np.linalg.norm(r.stderr) / np.linalg.norm(r.values))
                rel_err.append(np.linalg.norm(r.values - game.exact) / norm)
                covered.append(np.mean(np.abs(r.values - game.exact) <= 2 * r.stderr))
        lines.append(f"| {mult}n | {np.median(rel_se):.3f} | {np.median(rel_err):.3f} | {np.mean(covered):.0%} |")
    text = "\n".join(lines) + "\n"
    print(text)
    games_mod.OUT.mkdir(parents=True, exist_ok=True)
    (games_mod.OUT / "reference_budget.md").write_text(text)


if __name__ == "__main__":
    main()
