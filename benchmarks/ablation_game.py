"""Seconds per row of the ablation game (exact, every attention head a player) by coalitions per forward pass.

    .venv/bin/python benchmarks/ablation_game.py [--repeats 3] [--layers 2] [--heads 4] [--threads 1]

A random-weight Llama (hidden 128, `--layers` x `--heads` heads: 2^(layers*heads) coalitions per row) from
tests/tiny_models.py, value `logprob` of a 4-token greedy response, four rows of the test corpus. Each
`shap.batch_size` (1, 16, 64) and each ablation (zero, mean over the four rows) is timed in the same
invocation, interleaved, best of `--repeats`. The values must not depend on the batch size (checked to 1e-4:
float32 batches differ in the last bits). Prints a Markdown table and writes
benchmarks/out/ablation_game_<threads>threads.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import numpy as np
import torch
from tiny_models import CORPUS, build_tiny_llama

from shapsweep.estimators import estimate
from shapsweep.models import load_model
from shapsweep.models.ablation import ComponentAblation
from shapsweep.row_explainers.ablation_game import AblationGame, record_reference_means

OUT = os.path.join(os.path.dirname(__file__), "out")
BATCHES = (1, 16, 64)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (more than the free cores thrash)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = build_tiny_llama(tempfile.mkdtemp(), hidden_size=128, num_layers=args.layers, num_heads=args.heads, seed=0)
    model = {"connector": "hf_causal_lm", "path_or_id": folder, "max_new_tokens": 4}
    connector = load_model(model, {}, {"kind": "logprob"})
    targets = [connector.game({"row_id": str(i), "text": t}) for i, t in enumerate(CORPUS[:4])]
    ablations = {"zero": ComponentAblation(connector.model, "head")}
    ablations["mean"] = ComponentAblation(connector.model, "head", "mean")
    record_reference_means(ablations["mean"], connector, targets)
    n = ablations["zero"].n_players
    best: dict[tuple[str, int], float] = {}
    values: dict[tuple[str, int], np.ndarray] = {}
    for _ in range(args.repeats):
        for kind, ablation in ablations.items():
            for batch in BATCHES:
                started = time.perf_counter()
                got = [
                    estimate(AblationGame(ablation, connector, t, batch), n, method="exact", batch_size=batch).values
                    for t in targets
                ]
                seconds = (time.perf_counter() - started) / len(targets)
                best[kind, batch] = min(best.get((kind, batch), np.inf), seconds)
                values[kind, batch] = np.asarray(got)
    for kind in ablations:
        for batch in BATCHES:
            np.testing.assert_allclose(values[kind, batch], values[kind, BATCHES[0]], rtol=0, atol=1e-4)
    threads = torch.get_num_threads()
    print(f"{n} head players, {2**n} coalitions per row, {threads} torch threads, best of {args.repeats}\n")
    print("| ablation | " + " | ".join(f"batch {b} s/row" for b in BATCHES) + " |")
    print("|---|" + "---|" * len(BATCHES))
    for kind in ablations:
        print(f"| {kind} | " + " | ".join(f"{best[kind, b]:.3f}" for b in BATCHES) + " |")
    os.makedirs(OUT, exist_ok=True)
    record = {
        "players": n,
        "coalitions": 2**n,
        "threads": threads,
        "seconds_per_row": {f"{k}/{b}": s for (k, b), s in best.items()},
    }
    with open(os.path.join(OUT, f"ablation_game_{threads}threads.json"), "w") as f:
        json.dump(record, f, indent=2)


if __name__ == "__main__":
    main()
