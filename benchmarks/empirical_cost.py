"""What an empirical explainer costs: seconds to train on a synthetic target run, seconds per row to predict.

    .venv/bin/python benchmarks/empirical_cost.py                      # 400 rows of ~10 words, MiniLM, defaults
    .venv/bin/python benchmarks/empirical_cost.py --rows 100 --epochs 5  # quicker

The target run is the tests' synthetic one (tests/empirical/synthetic_target.py): sentences of 8-12 words
from a 40-word lexicon, each word's attribution a fixed seeded value, written as real shard files. The
explainer is `train_explainer` with the given options (default encoder: the shipped all-MiniLM-L6-v2), so
training time includes loading the encoder and saving the folder. Prediction is timed after a fresh
`EmpiricalExplainer.from_pretrained`, on every row, in batches of `--predict-batch`, best of `--repeats`.
Prints one JSON object. 2-core machine shared with other work: figures are noisy.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests" / "empirical"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--min-words", type=int, default=8)
    parser.add_argument("--max-words", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--encoder", default=None, help="default: the shipped all-MiniLM-L6-v2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--predict-batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch
    from synthetic_target import synthetic_rows, write_target_run

    from shapsweep.empirical.explainer import EmpiricalExplainer
    from shapsweep.empirical.training import TrainingData, train_explainer

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = synthetic_rows(args.rows, words=(args.min_words, args.max_words))
        files = write_target_run(tmp / "target", rows)
        data = TrainingData.from_files(files["shards"], files["rows"])
        log = io.StringIO()
        started = time.perf_counter()
        metrics = train_explainer(
            data, tmp / "explainer", encoder=args.encoder, epochs=args.epochs, device=args.device, log=log
        )
        train_s = time.perf_counter() - started
        explainer = EmpiricalExplainer.from_pretrained(tmp / "explainer", device=args.device)
        texts, spans = [r["text"] for r in rows], [r["player_spans"] for r in rows]
        explainer.predict(texts[: args.predict_batch], spans[: args.predict_batch], args.predict_batch)  # warm-up
        best = float("inf")
        for _ in range(args.repeats):
            explainer.forward_passes = 0
            t0 = time.perf_counter()
            explainer.predict(texts, spans, args.predict_batch)
            best = min(best, time.perf_counter() - t0)
        words = sum(len(r["player_spans"]) for r in rows) / len(rows)
        out = {
            "rows": args.rows,
            "mean_words_per_row": round(words, 2),
            "encoder": explainer.info["encoder"]["path_or_id"],
            "threads": args.threads,
            "device": args.device,
            "train_seconds_total": round(train_s, 2),
            "train_seconds": {k: round(v, 2) for k, v in metrics["seconds"].items()},
            "epochs_run": metrics["epochs_run"],
            "best_epoch": metrics["best_epoch"],
            "rows_per_role": metrics["rows"],
            "val_spearman_mean": metrics["val_spearman_mean"],
            "held_out_spearman_mean": metrics["held_out_spearman_mean"],
            "held_out_mse": metrics["held_out_mse"],
            "predict_batch": args.predict_batch,
            "predict_forward_passes": explainer.forward_passes,
            "predict_seconds_per_row": best / len(rows),
            "epoch_log": log.getvalue().splitlines(),
        }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
