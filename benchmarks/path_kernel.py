"""Path kernel on the modulo-addition transformer: reconstruction error, seconds per step, peak memory.

The model (our own, in plain torch): a + b mod p from the tokens [a, b, =]; one pre-norm attention layer
(4 heads) and an MLP, the last position's logits over the vocabulary read as log-probs. Trained full batch
with AdamW (lr 1e-3, wd 1.0, betas (0.9, 0.98)) and recorded with `TraceRecorder`; each validation point ×
output log-prob is one test row (a scalar value), so 20 points give 20 × vocab test rows.

    .venv/bin/python benchmarks/path_kernel.py --steps 20 --midpoints 1 10
    .venv/bin/python benchmarks/path_kernel.py --steps 5 --midpoints 10 --train-rows 100 300 900 --memory
    .venv/bin/python benchmarks/path_kernel.py --device cuda    # skips without a GPU

`explaind` 0.1.0 side by side on the same trace: benchmarks/path_kernel_explaind.py.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from shapsweep.training.path_kernel import path_kernel
from shapsweep.training.recorder import TraceRecorder

P = 31
VOCAB = P + 2  # the numbers, '=', and one spare token: 33 log-prob outputs per point
EQUALS = P


class ModAddTransformer(torch.nn.Module):
    def __init__(self, d_model: int = 32, heads: int = 4, d_mlp: int = 64):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, d_model)
        self.position = torch.nn.Parameter(torch.randn(3, d_model) * 0.1)
        self.norm1 = torch.nn.LayerNorm(d_model)
        self.attention = torch.nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.norm2 = torch.nn.LayerNorm(d_model)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(d_model, d_mlp), torch.nn.GELU(), torch.nn.Linear(d_mlp, d_model)
        )
        self.unembed = torch.nn.Linear(d_model, VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens) + self.position
        x = self.norm1(h)
        h = h + self.attention(x, x, x, need_weights=False)[0]
        h = h + self.mlp(self.norm2(h))
        return self.unembed(h[:, -1]).log_softmax(-1)


def model_for(seed: int, device: str) -> ModAddTransformer:
    torch.manual_seed(seed)
    return ModAddTransformer().to(device)


def pairs(n: int, seed: int) -> list[dict]:
    g = np.random.default_rng(seed)
    chosen = g.choice(P * P, size=n, replace=False)
    return [{"row_id": f"{c // P}+{c % P}", "a": int(c // P), "b": int(c % P)} for c in chosen]


def tokens(rows: list[dict], device: str) -> torch.Tensor:
    return torch.tensor([[r["a"], r["b"], EQUALS] for r in rows], device=device)


def example_loss_on(device):
    def example_loss(model, rows):
        target = torch.tensor([(r["a"] + r["b"]) % P for r in rows], device=device)
        return -model(tokens(rows, device)).gather(1, target[:, None]).squeeze(1)

    return example_loss


def value_on(device):
    def value(model, rows):  # one row = (validation point, output token)
        log_probs = model(tokens([r["point"] for r in rows], device))
        return log_probs.gather(1, torch.tensor([[r["output"]] for r in rows], device=device)).squeeze(1)

    return value


def trace(root: Path, rows: list[dict], steps: int, device: str) -> Path:
    model = model_for(0, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), weight_decay=1.0)
    recorder = TraceRecorder(root, model, optimizer, row_ids=[r["row_id"] for r in rows], total_steps=steps)
    loss_of = example_loss_on(device)
    for step in range(steps):
        optimizer.zero_grad()
        loss = loss_of(model, rows).mean()
        loss.backward()
        recorder.record(step, batch_row_ids=[r["row_id"] for r in rows], loss=loss.item())
        optimizer.step()
    recorder.finish(steps)
    return root


def run(train_rows: int, steps: int, midpoints: list[int], device: str, window: tuple[int, int] | None) -> dict:
    rows = pairs(train_rows + 20, seed=1)
    training, validation = rows[:train_rows], rows[train_rows:]
    tests = [{"point": v, "output": o} for v in validation for o in range(VOCAB)]
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        root = trace(Path(folder) / "trace", training, steps, device)
        trace_s = time.perf_counter() - t0
        by_id = {r["row_id"]: r for r in training}
        out = {"device": device, "train_rows": train_rows, "test_rows": len(tests), "steps": steps, "trace_s": trace_s}
        model = model_for(0, device)
        out["parameters"] = sum(p.numel() for p in model.parameters())
        for k in midpoints:
            t0 = time.perf_counter()
            result = path_kernel(
                root, model, value_on(device), tests, example_loss_on(device), by_id, midpoints=k, steps=window
            )
            seconds = time.perf_counter() - t0
            gap = np.abs(result.efficiency_gap)
            n_steps = len(result.steps)
            out[f"midpoints_{k}"] = {
                "steps_explained": n_steps,
                "max_abs_error": float(gap.max()),
                "mean_abs_error": float(gap.mean()),
                "max_abs_change": float(np.abs(result.v_full - result.v_empty).max()),
                "seconds_per_step": seconds / n_steps,
            }
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--midpoints", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--train-rows", type=int, nargs="+", default=[300])
    parser.add_argument("--window", type=int, nargs=2, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child process: one case
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("skipped: --device cuda and no GPU")
        return
    torch.set_num_threads(2)
    if args.one:
        print(json.dumps(run(args.train_rows[0], args.steps, args.midpoints, args.device, args.window)))
        return
    # one process per training-set size, so each peak memory is its own
    for n in args.train_rows:
        command = [sys.executable, __file__, "--one", "--steps", str(args.steps), "--device", args.device]
        command += ["--train-rows", str(n), "--midpoints", *map(str, args.midpoints)]
        if args.window:
            command += ["--window", *map(str, args.window)]
        print(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
