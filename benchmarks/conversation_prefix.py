"""KV-prefix reuse on conversation rows: what the shared prefix is, and coalitions per second with and without.

    .venv/bin/python benchmarks/conversation_prefix.py [--repeats 3] [--threads 1]

The four three-turn rows of config/data/conversations.jsonl on a random Llama (hidden 256, 4 layers, the
test fixture's tokenizer and chat template), value logprob of the reference reply, 64 random coalitions
per row. With players from the last user turn the prefix (template, first user turn, assistant turn) is
computed once per row; with players from every user turn it ends before the first turn's first word, so
reuse saves little. Prints a Markdown table (best of --repeats) and writes
benchmarks/out/conversation_prefix_<threads>threads.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tiny_models import build_tiny_llama  # noqa: E402

from shapsweep.models import load_model  # noqa: E402
from shapsweep.models.prefix_cache import shared_prefix_length  # noqa: E402

DATA = os.path.join(HERE, "..", "config", "data", "conversations.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--coalitions", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [json.loads(line) for line in Path(DATA).read_text().splitlines()]
    results = []
    with tempfile.TemporaryDirectory() as folder:
        path = build_tiny_llama(folder, hidden_size=256, num_layers=4, num_heads=4)
        for players_from in ("last_user", "user"):
            model = load_model(
                {"connector": "hf_causal_lm", "path_or_id": path, "device": "cpu", "batch_size": 64},
                {"players_from": players_from},
                {"kind": "logprob", "response": "reference"},
            )
            games = [
                model.game({"row_id": r["id"], "messages": r["messages"], "reference": r["reference"]}) for r in rows
            ]
            prefix = [shared_prefix_length(g.tokenized.owners) for g in games]
            total = [len(g.tokenized.ids) for g in games]
            rng = np.random.default_rng(0)
            masks = [rng.random((args.coalitions, g.n_players)) < 0.5 for g in games]
            timing = {}
            for _ in range(args.repeats):
                for reuse in (True, False):
                    model.reuse_prefix = reuse
                    model.prefix_caches._caches.clear()  # each timed pass computes its prefixes itself
                    start = time.perf_counter()
                    for r, coalitions in zip(rows, masks):
                        game = model.game({"row_id": r["id"], "messages": r["messages"], "reference": r["reference"]})
                        game(coalitions)
                    seconds = time.perf_counter() - start
                    timing[reuse] = min(timing.get(reuse, float("inf")), seconds)
            n = args.coalitions * len(rows)
            results.append(
                {
                    "players_from": players_from,
                    "prompt_tokens_mean": float(np.mean(total)),
                    "prefix_tokens_mean": float(np.mean(prefix)),
                    "coalitions": n,
                    "per_s_reuse": n / timing[True],
                    "per_s_full": n / timing[False],
                }
            )
    print(
        "| players_from | prompt tokens | shared prefix | coalitions/s reuse | coalitions/s full prompts | speed-up |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['players_from']} | {r['prompt_tokens_mean']:.1f} | {r['prefix_tokens_mean']:.1f} | "
            f"{r['per_s_reuse']:.0f} | {r['per_s_full']:.0f} | {r['per_s_reuse'] / r['per_s_full']:.2f}x |"
        )
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    out = os.path.join(HERE, "out", f"conversation_prefix_{args.threads}threads.json")
    with open(out, "w") as handle:
        json.dump(results, handle, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
