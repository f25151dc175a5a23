"""The path_kernel kind on transformers models: its batched path (layer hooks over Linear, Conv1D, Embedding
and norm layers, every quadrature node of a step in one pass per layer) against one vector-Jacobian product per
row and node (the path the kind took before), seconds per test row, in one process on the same trace.

A tiny BERT or RoBERTa classifier (`--kind hf_classifier --arch bert|roberta`) or a tiny Llama or GPT-2
(`--kind hf_causal_lm --arch llama|gpt2`, the Llama `--hidden` wide) from tests/tiny_models.py is fine-tuned through the pipeline's own `rows` and `trace` commands; its test rows are
explained by `PathKernelRows.explain` (batched) and by `path_kernel` with the one-row value and per-row
losses (VJPs), and the largest relative difference of their example scores is printed with the timings:

    .venv/bin/python benchmarks/path_kernel_hf.py --kind hf_classifier --rows 16 --steps 4 --midpoints 10
    .venv/bin/python benchmarks/path_kernel_hf.py --kind hf_causal_lm --hidden 128 --rows 16
    .venv/bin/python benchmarks/path_kernel_hf.py --kind hf_causal_lm --arch gpt2 --rows 16 --steps 4
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from tiny_models import (  # noqa: E402
    CORPUS,
    build_tiny_bert_classifier,
    build_tiny_gpt2,
    build_tiny_llama,
    build_tiny_roberta_classifier,
)

BUILDERS = {
    "bert": lambda folder, hidden: build_tiny_bert_classifier(folder),
    "roberta": lambda folder, hidden: build_tiny_roberta_classifier(folder),
    "llama": lambda folder, hidden: build_tiny_llama(folder, hidden_size=hidden),
    "gpt2": lambda folder, hidden: build_tiny_gpt2(folder),
}


def setup(folder: Path, kind: str, arch: str, hidden: int, n_test: int, n_train: int, steps: int, midpoints: int):
    from shapsweep.cli import main
    from shapsweep.config.experiment_set import from_config
    from shapsweep.row_explainers.path_kernel import PathKernelRows

    texts = list(dict.fromkeys(CORPUS))
    model_path = BUILDERS[arch](folder / "model", hidden)
    train_lines = [
        {"text": texts[i % len(texts)][:24], "label": i % 3, "target": texts[i % len(texts)][24:40] or "ok"}
        for i in range(n_train)
    ]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train_lines))
    test_texts = [texts[i % len(texts)][:30] for i in range(n_test)]
    (folder / "test.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in test_texts))
    causal = kind == "hf_causal_lm"
    cfg = {
        "experiment_set_id": "bench",
        "output_root": str(folder / "results"),
        "dataset": {"source": "json", "data_files": str(folder / "test.jsonl")},
        "model": {"connector": kind, "path_or_id": model_path, **({"max_new_tokens": 4} if causal else {})},
        "value": {"kind": "logprob"} if causal else {"kind": "logit"},
        "features": {"max_players": 64},
        "training": {
            "model": {"connector": kind, "path_or_id": model_path},
            "dataset": {"source": "json", "data_files": str(folder / "train.jsonl")},
            **({"target": "target"} if causal else {}),
            "lr": 3e-3,
            "weight_decay": 0.1,
            "batch_size": 8,
            "steps": steps,
            "seed": 1,
        },
        "experiments": [
            {
                "name": "pk",
                "shap": {"method": "path_kernel", "options": {"midpoints": midpoints, "chunk_size": n_test}},
            }
        ],
    }
    config_path = folder / "set.json"
    config_path.write_text(json.dumps(cfg))
    exp = from_config(cfg)
    spec = exp.training
    rows_file = exp.set_dir / "data" / spec["data_id"] / "rows.parquet"
    quiet = io.StringIO()
    sys.stdout, real = quiet, sys.stdout
    try:
        assert main(["rows", str(config_path), "--data-id", spec["data_id"], "--out", str(rows_file)]) == 0
        done = exp.set_dir / "traces" / spec["trace_id"] / "done.json"
        assert (
            main(
                ["trace", str(config_path), "--trace", spec["trace_id"], "--rows", str(rows_file), "--done", str(done)]
            )
            == 0
        )
    finally:
        sys.stdout = real
    explainer = PathKernelRows(next(iter(exp.runs.values())))
    rows = [{"row_id": str(i), "text": t} for i, t in enumerate(test_texts)]
    return explainer, rows


def main() -> None:
    import numpy as np
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("hf_classifier", "hf_causal_lm"), default="hf_classifier")
    parser.add_argument("--arch", choices=tuple(BUILDERS), help="default: bert (classifier), llama (causal LM)")
    parser.add_argument("--hidden", type=int, default=64, help="the Llama's width (the others are fixed)")
    parser.add_argument("--rows", type=int, default=16, help="test rows explained")
    parser.add_argument("--train-rows", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--midpoints", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    arch = args.arch or ("bert" if args.kind == "hf_classifier" else "llama")
    if (arch in ("bert", "roberta")) != (args.kind == "hf_classifier"):
        parser.error(f"--arch {arch} is not a {args.kind} here")
    torch.set_num_threads(args.threads)
    from shapsweep.training.path_kernel import path_kernel
    from shapsweep.training.train import example_losses

    with tempfile.TemporaryDirectory() as tmp:
        explainer, rows = setup(
            Path(tmp), args.kind, arch, args.hidden, args.rows, args.train_rows, args.steps, args.midpoints
        )
        traced = explainer.traced
        games = [explainer.connector.game(r) for r in rows]
        started = time.perf_counter()
        records = list(explainer.explain(rows))
        batched_s = time.perf_counter() - started
        started = time.perf_counter()
        reference = path_kernel(
            traced.root,
            traced.net,
            traced.value,
            games,
            lambda model, batch: example_losses(model, traced.tokenizer, traced.kind, batch),
            explainer.training_rows,
            steps=explainer.window,
            midpoints=args.midpoints,
            chunk_size=args.rows,
        )
        vjp_s = time.perf_counter() - started
        params = sum(p.numel() for p in traced.net.parameters())
    batched = np.array([r["attribution"] for r in records])
    scale = np.abs(reference.group_scores).max()
    diff = float(np.abs(batched - reference.group_scores).max() / scale)
    print(
        f"{args.kind} {arch} ({params:,} parameters), {args.rows} test rows, {args.train_rows} training rows, "
        f"{args.steps} steps, {args.midpoints} midpoints, {args.threads} thread(s)"
    )
    print(f"per-row VJPs (before): {vjp_s / args.rows:.3f} s/row")
    print(f"batched layer hooks (now): {batched_s / args.rows:.3f} s/row ({vjp_s / batched_s:.1f}x)")
    print(f"max |batched − VJP| / max |score| over example scores: {diff:.1e}")


if __name__ == "__main__":
    main()
