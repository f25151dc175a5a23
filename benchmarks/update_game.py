"""The update game's coalitions batched in one forward (each coalition's parameters in its own copy of the
layers') against one forward a coalition with the parameters written in place (the path it took before),
seconds per coalition and per test row, in one process on the same trace.

A tiny Llama, GPT-2 or BERT from tests/tiny_models.py is fine-tuned through the pipeline's own `rows` and
`trace` commands (benchmarks/path_kernel_hf.py's setup); each test row's update game over `--components`
is evaluated on `--coalitions` random coalitions (plus the empty and full ones) both ways, interleaved,
best of `--repeats`, and the largest difference of the values is printed:

    .venv/bin/python benchmarks/update_game.py --arch llama --hidden 128 --components head
    .venv/bin/python benchmarks/update_game.py --arch gpt2 --components head
    .venv/bin/python benchmarks/update_game.py --arch bert --components block
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from path_kernel_hf import setup  # noqa: E402


def main() -> None:
    import numpy as np
    import torch

    from shapsweep.training.update_game import UpdateGame, UpdateWindow

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=("llama", "gpt2", "bert", "roberta"), default="llama")
    parser.add_argument("--hidden", type=int, default=128, help="the Llama's width (the others are fixed)")
    parser.add_argument("--components", default="head", choices=("tensor", "layer", "block", "head"))
    parser.add_argument("--rows", type=int, default=4, help="test rows")
    parser.add_argument("--coalitions", type=int, default=256, help="random coalitions per row")
    parser.add_argument("--batch-size", type=int, default=64, help="coalitions per forward (shap.batch_size)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kind = "hf_classifier" if args.arch in ("bert", "roberta") else "hf_causal_lm"
    with tempfile.TemporaryDirectory() as tmp:
        explainer, rows = setup(Path(tmp), kind, args.arch, args.hidden, args.rows, 16, 4, 2)
        traced = explainer.traced
        games = [explainer.connector.game(r) for r in rows]

        window = UpdateWindow(traced.root, traced.net, steps=(0, 4), components=args.components)  # once, as the kind

        def game(target, batched: bool) -> UpdateGame:
            value = traced.batch_value if batched else traced.value
            collate = traced.collate if batched else None
            return UpdateGame(window, value, target, collate=collate, batch_size=args.batch_size)

        n = game(games[0], True).n_players
        rng = np.random.default_rng(0)
        coalitions = rng.random((args.coalitions + 2, n)) < 0.5
        coalitions[0], coalitions[1] = False, True
        best = {True: float("inf"), False: float("inf")}
        values: dict = {}
        passes: dict = {}
        for _ in range(args.repeats):
            for batched in (False, True):
                started = time.perf_counter()
                out, count = [], 0
                for target in games:
                    g = game(target, batched)
                    out.append(g(coalitions))
                    count += g.forward_passes
                    assert g.stacked == batched
                best[batched] = min(best[batched], time.perf_counter() - started)
                values[batched], passes[batched] = np.array(out), count
        params = sum(p.numel() for p in traced.net.parameters())
    spread = float(np.ptp(values[False], axis=1).max())
    diff = float(np.abs(values[True] - values[False]).max())
    total = len(games) * len(coalitions)
    print(
        f"{kind} {args.arch} ({params:,} parameters, float64), components {args.components}: {n} players, "
        f"{len(games)} rows x {len(coalitions)} coalitions, {args.threads} thread(s), best of {args.repeats}"
    )
    for batched, label in ((False, "one forward a coalition (before)"), (True, f"{args.batch_size} a forward (now)")):
        per = best[batched] / total
        print(
            f"{label}: {per * 1e3:.2f} ms/coalition, {best[batched] / len(games):.2f} s/row, {passes[batched]} forwards"
        )
    print(
        f"speed-up {best[False] / best[True]:.1f}x; max |batched - one by one| {diff:.1e} (the values span {spread:.3f} over a row's coalitions)"
    )


if __name__ == "__main__":
    main()
