"""Path kernel vs the `explaind` 0.1.0 package on the paper's modulo-addition transformer, side by side.

The model is the package's own `SingleLayerTransformerClassifier` (p = 31: 33 tokens, d_model 32, 4 heads,
MLP 64: 8,672 parameters), trained full batch on 300 pairs with AdamW (lr 1e-3, wd 1.0, betas (0.9, 0.98)),
the same seed and data on both sides; each side records the training its own way (explaind's ModelPath /
AdamWOptimizerPath / DataPath; our TraceRecorder) and explains the 20 validation points × 33 log-prob
outputs over all steps at the same number of midpoints. Each side runs in its own process (peak RSS is
the process's; CPU seconds count every thread, so a shared, loaded machine shows in them less than in wall
seconds), explaind in its own virtual environment:

    python3 -m venv /tmp/explaind-venv
    /tmp/explaind-venv/bin/pip install torch==2.13.0 numpy tqdm
    /tmp/explaind-venv/bin/pip install --no-deps --ignore-requires-python explaind==0.1.0
    .venv/bin/python benchmarks/path_kernel_explaind.py --steps 20 --midpoints 10

Prints one table row per side: reconstruction error of f(θ_T) − f(θ_0) (max and mean |error| over the 660
values), seconds per step, peak RSS, and how far the two sides' θ_T and reconstructed changes are apart;
then our peak RSS at 300 and 3,000 training rows (memory flat in the training rows, but for the result
itself), and a CUDA case (ours on the GPU) that prints "skipped: no CUDA" without one. `--device cuda`
runs both sides on the GPU (the package's own default where there is one) and reports peak GPU memory:

    .venv/bin/python benchmarks/path_kernel_explaind.py --device cuda --steps 20 --midpoints 10
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

P, TOKENS, D_MODEL, HEADS, MLP = 31, 33, 32, 4, 64
N_TRAIN, N_VAL, LR, WD, BETAS, SEED = 300, 20, 1e-3, 1.0, (0.9, 0.98), 0


def make_data(folder: Path) -> None:
    import numpy as np
    import torch

    g = np.random.default_rng(SEED)
    pairs = g.choice(P * P, size=N_TRAIN + N_VAL, replace=False)
    a, b = pairs // P, pairs % P
    x = np.stack([a, np.full_like(a, P), b, np.full_like(a, P + 1)], axis=1)  # a + b =
    y = (a + b) % P
    torch.save({"X": torch.tensor(x), "y": torch.tensor(y)}, folder / "data.pt")


def new_model():
    import torch
    from explaind.modulo_model.model import SingleLayerTransformerClassifier

    torch.manual_seed(SEED)
    return SingleLayerTransformerClassifier(TOKENS, d_model=D_MODEL, nhead=HEADS, dim_mlp=MLP, dropout=0.0)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def explaind_trained(data: dict, steps: int, shuffle: bool = False, device: str = "cpu") -> tuple:
    """The package's own recording of the full-batch training (ModelPath, AdamWOptimizerPath, DataPath):
    (model path, optimizer path, data path, loss, training seconds). Prints: call it with stdout redirected."""
    import torch
    from explaind.data_paths import DataPath
    from explaind.model_paths import ModelPath
    from explaind.modulo_model.data import ClassificationDataset
    from explaind.modulo_model.loss import RegularizedCrossEntropyLoss
    from explaind.optimizer_paths import AdamWOptimizerPath

    x_train, y_train = data["X"][:N_TRAIN], data["y"][:N_TRAIN]
    dataset = ClassificationDataset(x_train.numpy(), [int(v) for v in y_train])
    loader = torch.utils.data.DataLoader(dataset, batch_size=N_TRAIN, shuffle=shuffle)
    model = ModelPath(new_model(), device=device, overwrite=True, output_dim=TOKENS)
    optimizer = AdamWOptimizerPath(model, lr=LR, weight_decay=WD, betas=BETAS, device=device, checkpoints=[])
    data_path = DataPath(loader, full_batch=False, overwrite=True)
    loss_fn = RegularizedCrossEntropyLoss(alpha=0.0, device=device)
    started = time.perf_counter()
    for _ in range(steps):
        for batch in loader:
            xb, yb = data_path.get_batch(batch)
            optimizer.zero_grad()
            loss = loss_fn(model.forward(xb.long()), yb.to(device))
            loss.backward()
            optimizer.step()
            model.log_checkpoint()
            optimizer.log_checkpoint()
    return model, optimizer, data_path, loss_fn, time.perf_counter() - started


def explaind_epk(model, optimizer, data_path, loss_fn, midpoints: int, device: str = "cpu"):
    """The package's exact path kernel over every recorded step at `midpoints` nodes."""
    from explaind.epk_model import ExactPathKernelModel

    return ExactPathKernelModel(
        model=model,
        optimizer=optimizer,
        loss_fn=loss_fn,
        data_path=data_path,
        integral_eps=1 / midpoints,
        early_integral_eps=1 / midpoints,
        early_steps=0,
        device=device,
        train_set_size=N_TRAIN,
        evaluate_predictions=True,
        # its validation script's settings: other combinations crash in 0.1.0 (prev_eval stays None, or a
        # param-wise kernel without its output dims cannot be summed over them)
        keep_param_wise_kernel=True,
        param_wise_kernel_keep_out_dims=True,
    )


def side_explaind(folder: Path, steps: int, midpoints: int, device: str = "cpu") -> dict:
    """The package's own recording and EPK prediction (its validation script's settings, full batch), on
    `device` (the package's own default is CUDA where there is one)."""
    import contextlib
    import io

    import torch

    data = torch.load(folder / "data.pt")
    x_val = data["X"][N_TRAIN:].long().to(device)
    if device != "cpu":
        on_device_weight_decay()
    with contextlib.redirect_stdout(io.StringIO()):
        model, optimizer, data_path, loss_fn, train_s = explaind_trained(data, steps, device=device)
        epk = explaind_epk(model, optimizer, data_path, loss_fn, midpoints, device)
        synchronize(device)
        started, cpu = time.perf_counter(), time.process_time()
        prediction, initial, *_ = epk.predict(x_val, y_test=data["y"][N_TRAIN:].to(device), is_train=False)
        synchronize(device)
        explain_s, explain_cpu = time.perf_counter() - started, time.process_time() - cpu
        actual = model.forward(x_val, step=len(model.checkpoints) - 1)
    final = model.checkpoints[-1]
    torch.save({k: v.detach().cpu().clone() for k, v in final.items()}, folder / "explaind_theta_T.pt")
    torch.save((prediction - initial).detach().cpu().double(), folder / "explaind_change.pt")
    error = (prediction - actual).detach().abs()
    return {
        "side": "explaind 0.1.0",
        "steps_explained": len(epk.get_integral_steps(1 / midpoints, early_eps=1 / midpoints, early_steps=0)),
        "max_abs_error": float(error.max()),
        "mean_abs_error": float(error.mean()),
        "s_per_step": explain_s / steps,
        "cpu_s_per_step": explain_cpu / steps,
        "train_s": train_s,
        "peak_rss_mb": peak_rss_mb(),
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None,
    }


def on_device_weight_decay() -> None:
    """explaind 0.1.0 keeps its checkpoints on the CPU and builds the weight-decay features from them, so on
    CUDA `get_reg_term` multiplies a GPU tensor by a CPU one and stops ("Expected all tensors to be on the same
    device"). The one fix this benchmark applies to the package: those features follow the model's device."""
    from explaind.model_paths import ModelPath

    shipped = ModelPath.update_regularization_features

    def update_regularization_features(self, *args, **kwargs):
        return {k: v.to(self.device) for k, v in shipped(self, *args, **kwargs).items()}

    ModelPath.update_regularization_features = update_regularization_features


def synchronize(device: str) -> None:
    """Wait for the GPU's queued work, so that wall seconds measure it."""
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def side_ours(
    folder: Path,
    steps: int,
    midpoints: int,
    chunk: int = 6600,
    quadrature: str = "midpoint",
    train_rows: int = N_TRAIN,
    device: str = "cpu",
    block: int | None = None,
) -> dict:
    """Our recording (TraceRecorder) and path kernel, the window in `block`-step calls if given; `train_rows`
    > 300 repeats the 300 pairs (new row ids)."""
    import torch

    from shapsweep.training.path_kernel import path_kernel
    from shapsweep.training.recorder import TraceRecorder
    from shapsweep.training.trace import read_final

    data = torch.load(folder / "data.pt")
    x, y = data["X"].long().to(device), data["y"].to(device)
    pick = torch.arange(train_rows, device=device) % N_TRAIN
    x_train, y_train = x[pick], y[pick]
    training = {str(i): {"row_id": str(i), "x": x_train[i], "y": y_train[i]} for i in range(train_rows)}
    model = new_model().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD, betas=BETAS)
    root = folder / f"trace_{train_rows}_{device}"
    recorder = TraceRecorder(root, model, optimizer, row_ids=list(training), total_steps=steps)
    batch = list(training)
    started = time.perf_counter()
    for step in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.nll_loss(model(x_train), y_train)
        loss.backward()
        recorder.record(step, batch_row_ids=batch, loss=loss.item())
        optimizer.step()
    recorder.finish(steps)
    train_s = time.perf_counter() - started
    x_val = x[N_TRAIN:]
    tests = [(i, k) for i in range(N_VAL) for k in range(TOKENS)]

    def collate(rows):
        if isinstance(rows[0], tuple):  # test rows: (validation point, output)
            points = torch.tensor([i for i, _ in rows], device=device)
            return {"x": x_val[points], "k": torch.tensor([k for _, k in rows], device=device)}
        return {"x": torch.stack([r["x"] for r in rows]), "y": torch.stack([r["y"] for r in rows])}

    def value(m, batch):
        return m(batch["x"]).gather(1, batch["k"][:, None])[:, 0]

    def example_loss(m, batch):
        return -m(batch["x"]).gather(1, batch["y"][:, None])[:, 0]

    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    # the window in blocks of `block` steps, each its own path_kernel call as each (shard, step block) is its
    # own job in the pipeline; their changes add up to the whole window's
    edges = list(range(0, steps, block or steps)) + [steps]
    change, gap, block_s = 0.0, 0.0, []
    started, cpu = time.perf_counter(), time.process_time()
    for s0, s1 in itertools.pairwise(edges):
        block_started = time.perf_counter()
        result = path_kernel(
            root,
            model,
            value,
            tests,
            example_loss,
            training,
            steps=(s0, s1),
            midpoints=midpoints,
            quadrature_rule=quadrature,
            chunk_size=chunk,
            collate=collate,
        )
        block_s.append((time.perf_counter() - block_started) / (s1 - s0))
        change = change + result.component_scores.sum(axis=1)
        gap = gap + result.efficiency_gap
    if device == "cuda":
        torch.cuda.synchronize()
    explain_s, explain_cpu = time.perf_counter() - started, time.process_time() - cpu
    error = abs(gap)
    if train_rows == N_TRAIN:
        torch.save({k: v.cpu() for k, v in read_final(root).items()}, folder / "ours_theta_T.pt")
        torch.save(torch.tensor(change).view(N_VAL, TOKENS), folder / "ours_change.pt")
    return {
        "side": f"shapsweep path_kernel ({quadrature}, {device})",
        "steps_explained": steps,
        "block_s_per_step": block_s,
        "trace_bytes_per_step": sum(f.stat().st_size for f in (root / "steps").rglob("*") if f.is_file()) / steps,
        "max_abs_error": float(error.max()),
        "mean_abs_error": float(error.mean()),
        "s_per_step": explain_s / steps,
        "cpu_s_per_step": explain_cpu / steps,
        "train_s": train_s,
        "peak_rss_mb": peak_rss_mb(),
        "result_mb": result.data.nbytes / 2**20,
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None,
    }


def run_side(python: str, side: str, folder: Path, args, extra_path: str | None = None) -> dict:
    import os

    env = dict(os.environ)
    # On a shared CPU, spinning OpenMP threads wait for descheduled peers and multiply the cost of small ops
    # (measured here: 2.0 vs 0.23 CPU s/step for our side at 2 threads); both sides wait passively.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), extra_path) if p)
    command = [python, __file__, "--side", side, "--dir", str(folder), "--steps", str(args.steps)]
    command += ["--midpoints", str(args.midpoints), "--threads", str(args.threads), "--chunk", str(args.chunk)]
    command += ["--quadrature", args.quadrature, "--train-rows", str(args.train_rows), "--device", args.device]
    command += ["--d-model", str(args.d_model), "--mlp", str(args.mlp), "--val-points", str(args.val_points)]
    if args.block:
        command += ["--block", str(args.block)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{side} side failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    global D_MODEL, MLP, N_VAL  # the model and test-set size options, read by both sides' functions
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--midpoints", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=6600, help="our gradients per vmapped call (chunk_size)")
    parser.add_argument("--quadrature", choices=("midpoint", "gauss_legendre"), default="midpoint")
    parser.add_argument("--d-model", type=int, default=D_MODEL, help="model width (the issue's bigger case: 64)")
    parser.add_argument("--mlp", type=int, default=MLP, help="MLP width (the issue's bigger case: 128)")
    parser.add_argument("--val-points", type=int, default=N_VAL, help="validation points explained (× 33 outputs)")
    parser.add_argument(
        "--memory-rows",
        type=int,
        nargs="*",
        default=[300, 3000],
        help="training-row counts of the peak-memory line (our side, 5 steps, chunk_size 300); none: no line",
    )
    parser.add_argument(
        "--block", type=int, help="our side explains the window in calls of this many steps (pipeline step blocks)"
    )
    parser.add_argument("--train-rows", type=int, default=N_TRAIN, help=argparse.SUPPRESS)
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="both sides run here (cuda: skips without a GPU)"
    )
    parser.add_argument("--explaind-python", default="/tmp/explaind-venv/bin/python")
    parser.add_argument("--side", choices=("explaind", "ours"), help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    D_MODEL, MLP, N_VAL = args.d_model, args.mlp, args.val_points
    if args.side is not None:
        import torch

        torch.set_num_threads(args.threads)
        if args.side == "explaind":
            print(json.dumps(side_explaind(args.dir, args.steps, args.midpoints, args.device)))
        else:
            result = side_ours(
                args.dir,
                args.steps,
                args.midpoints,
                args.chunk,
                args.quadrature,
                args.train_rows,
                args.device,
                args.block,
            )
            print(json.dumps(result))
        return
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("skipped: --device cuda and no GPU")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_data(folder)
        try:
            theirs = run_side(args.explaind_python, "explaind", folder, args)
        except SystemExit as failed:  # report it and still measure our side
            print(failed)
            theirs = None
        # our side imports only the package's model class, from its environment's site-packages
        site = subprocess.run(
            [args.explaind_python, "-c", "import explaind, os; print(os.path.dirname(os.path.dirname(explaind.__file__)))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        link = folder / "explaind_only"
        link.mkdir()
        (link / "explaind").symlink_to(Path(site) / "explaind")
        ours = run_side(sys.executable, "ours", folder, args, extra_path=str(link))
        if theirs is not None:
            theta_a, theta_b = torch.load(folder / "explaind_theta_T.pt"), torch.load(folder / "ours_theta_T.pt")
            theta_gap = max(float((theta_a[n] - theta_b[n]).abs().max()) for n in theta_b)
            change_gap = float(
                (torch.load(folder / "explaind_change.pt") - torch.load(folder / "ours_change.pt")).abs().max()
            )
        memory = []
        for rows in args.memory_rows:
            scaled = argparse.Namespace(**{**vars(args), "train_rows": rows, "steps": 5, "chunk": 300, "block": None})
            memory.append(run_side(sys.executable, "ours", folder, scaled, extra_path=str(link)))
        gpu = None
        if torch.cuda.is_available() and args.device == "cpu":
            on_gpu = argparse.Namespace(**{**vars(args), "device": "cuda"})
            gpu = run_side(sys.executable, "ours", folder, on_gpu, extra_path=str(link))
    print(
        f"modulo addition p={P}, d_model {D_MODEL}, MLP {MLP} ({ours['params']:,} parameters), {N_TRAIN} training "
        f"pairs, {N_VAL} × {TOKENS} test values, {args.steps} full-batch steps, {args.midpoints} midpoints"
    )
    if theirs is not None:
        print(f"max |θ_T ours − θ_T explaind| = {theta_gap:.2e}; max |Δf ours − Δf explaind| = {change_gap:.2e}")
    on = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(f"device {on}, threads {args.threads}, quadrature {args.quadrature}, our chunk_size {args.chunk}")
    print(
        "| side | steps explained | max abs error | mean abs error | s/step | CPU s/step | peak RSS MB | peak GPU MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in (theirs, ours) if theirs is not None else (ours,):
        gpu_mb = "" if r["peak_gpu_mb"] is None else f"{r['peak_gpu_mb']:.0f}"
        print(
            f"| {r['side']} | {r['steps_explained']} | {r['max_abs_error']:.2e} | {r['mean_abs_error']:.2e} "
            f"| {r['s_per_step']:.3f} | {r['cpu_s_per_step']:.3f} | {r['peak_rss_mb']:.0f} | {gpu_mb} |"
        )
    if theirs is not None:
        print(
            f"speed-up: {theirs['s_per_step'] / ours['s_per_step']:.1f}x per step "
            f"({theirs['cpu_s_per_step'] / ours['cpu_s_per_step']:.1f}x in CPU seconds)"
        )
    blocks = ours["block_s_per_step"]
    if len(blocks) > 1:
        print(
            f"our {len(blocks)} step blocks of {args.block}: s/step first {blocks[0]:.3f}, last {blocks[-1]:.3f}, "
            f"min {min(blocks):.3f}, max {max(blocks):.3f}; the blocks' changes summed reconstruct "
            f"f(θ_T) − f(θ_0) within {ours['max_abs_error']:.2e}"
        )
    print(f"our trace on disk: {ours['trace_bytes_per_step'] / ours['params']:.1f} bytes per parameter per step")
    if memory:
        peak = "peak_gpu_mb" if args.device == "cuda" else "peak_rss_mb"
        print(
            f"our {'peak GPU memory' if args.device == 'cuda' else 'peak RSS'} by training rows (5 steps, "
            "chunk_size 300): "
            + "; ".join(f"{r[peak]:.0f} MB at {n} rows" for n, r in zip(args.memory_rows, memory, strict=True))
            + " (of which the test row × example × component result: "
            + ", ".join(f"{r['result_mb']:.0f} MB" for r in memory)
            + ")"
        )
    if gpu is None and args.device == "cpu":
        print("CUDA case: skipped: no CUDA")
    elif gpu is not None:
        print(
            f"CUDA case ({torch.cuda.get_device_name()}): {gpu['s_per_step']:.3f} s/step, max abs error "
            f"{gpu['max_abs_error']:.2e}, peak GPU memory {gpu['peak_gpu_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
