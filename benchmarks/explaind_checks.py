"""Where `explaind` 0.1.0's per-example and weight-decay numbers are right, and where they are not.

Same model, data and training as `benchmarks/path_kernel_explaind.py` (the paper's modulo-addition
transformer, 300 training pairs, full batch, AdamW), explained over a few steps. explaind runs twice in its own
venv, with the loader's `shuffle` off and on, and returns what `predict(..., keep_kernel_matrices=True)`
keeps: the per-(test value, training example) kernel and the accumulated weight-decay term. Ours explains the
same training once (a full batch holds every example whatever its order; `tests/training` checks that
permuting the rows changes no score) and splits the same change into the same parts.

Printed per explaind run: how its per-example scores compare with ours (Pearson correlation, max |difference|
relative to the largest score, and the gap between the two sides' per-value sums), and the ratio of its
weight-decay term to ours. Run with explaind's venv built as in `benchmarks/path_kernel_explaind.py`:

    .venv/bin/python benchmarks/explaind_checks.py --steps 5
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from path_kernel_explaind import (
    BETAS,
    LR,
    N_TRAIN,
    N_VAL,
    TOKENS,
    WD,
    explaind_epk,
    explaind_trained,
    make_data,
    new_model,
)


def side_explaind(folder: Path, steps: int, midpoints: int, shuffle: bool) -> None:
    """explaind's recording and EPK with the kernel matrices kept; per-example scores in dataset order."""
    import contextlib
    import io

    import torch

    torch.manual_seed(0)  # the shuffled loader's order
    data = torch.load(folder / "data.pt")
    with contextlib.redirect_stdout(io.StringIO()):
        model, optimizer, data_path, loss_fn, _ = explaind_trained(data, steps, shuffle)
        epk = explaind_epk(model, optimizer, data_path, loss_fn, midpoints)
        prediction, initial, kernel, reg_term, _ = epk.predict(
            data["X"][N_TRAIN:].long(), y_test=data["y"][N_TRAIN:], is_train=False, keep_kernel_matrices=True
        )
    # get_prediction_from_kernel: the change is lr·Σ kernel / batch size, summed over the examples
    per_example = sum(k[:, 0] for k in kernel.values()) / N_TRAIN  # (test point, output, example)
    np.savez(
        folder / f"explaind_{int(shuffle)}.npz",
        per_example=per_example.detach().double().reshape(N_VAL * TOKENS, N_TRAIN).numpy(),
        change=(prediction - initial).detach().double().reshape(-1).numpy(),
        reg_term=reg_term.detach().double().reshape(-1).numpy(),
    )


def side_ours(folder: Path, steps: int, midpoints: int) -> None:
    import torch

    from shapsweep.training.path_kernel import path_kernel
    from shapsweep.training.recorder import TraceRecorder

    data = torch.load(folder / "data.pt")
    x, y = data["X"].long(), data["y"]
    x_train, y_train = x[:N_TRAIN], y[:N_TRAIN]
    training = {str(i): {"x": x_train[i], "y": y_train[i]} for i in range(N_TRAIN)}
    model = new_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD, betas=BETAS)
    root = folder / "trace"
    recorder = TraceRecorder(root, model, optimizer, row_ids=list(training), total_steps=steps)
    for step in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.nll_loss(model(x_train), y_train)
        loss.backward()
        recorder.record(step, batch_row_ids=list(training), loss=loss.item())
        optimizer.step()
    recorder.finish(steps)
    x_val = x[N_TRAIN:]
    tests = [(i, k) for i in range(N_VAL) for k in range(TOKENS)]

    def collate(rows):
        if isinstance(rows[0], tuple):
            return {"x": x_val[torch.tensor([i for i, _ in rows])], "k": torch.tensor([k for _, k in rows])}
        return {"x": torch.stack([r["x"] for r in rows]), "y": torch.stack([r["y"] for r in rows])}

    result = path_kernel(
        root,
        model,
        lambda m, b: m(b["x"]).gather(1, b["k"][:, None])[:, 0],
        tests,
        lambda m, b: -m(b["x"]).gather(1, b["y"][:, None])[:, 0],
        training,
        midpoints=midpoints,
        collate=collate,
    )
    assert result.groups == list(training)  # examples in dataset order
    np.savez(
        folder / "ours.npz",
        per_example=result.group_scores,
        change=result.component_scores.sum(axis=1),
        weight_decay=result.weight_decay.sum(axis=1),
    )


def run(python: str, folder: Path, args, *extra: str, path: str | None = None) -> None:
    import os

    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    if path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), path) if p)
    command = [python, __file__, "--dir", str(folder), "--steps", str(args.steps), "--midpoints", str(args.midpoints)]
    proc = subprocess.run([*command, *extra], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(extra)} failed:\n{proc.stderr[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--midpoints", type=int, default=10)
    parser.add_argument("--explaind-python", default="/tmp/explaind-venv/bin/python")
    parser.add_argument("--side", choices=("explaind", "ours"), help=argparse.SUPPRESS)
    parser.add_argument("--shuffle", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "explaind":
        return side_explaind(args.dir, args.steps, args.midpoints, bool(args.shuffle))
    if args.side == "ours":
        return side_ours(args.dir, args.steps, args.midpoints)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_data(folder)
        for shuffle in (0, 1):
            run(args.explaind_python, folder, args, "--side", "explaind", "--shuffle", str(shuffle))
        site = subprocess.run(
            [args.explaind_python, "-c", "import explaind, os; print(os.path.dirname(os.path.dirname(explaind.__file__)))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        link = folder / "explaind_only"  # our side imports only the package's model class
        link.mkdir()
        (link / "explaind").symlink_to(Path(site) / "explaind")
        run(sys.executable, folder, args, "--side", "ours", path=str(link))
        ours = dict(np.load(folder / "ours.npz"))
        theirs = {s: dict(np.load(folder / f"explaind_{s}.npz")) for s in (0, 1)}
    print(f"modulo addition, {N_TRAIN} training pairs, full batch, {args.steps} steps, {args.midpoints} midpoints")
    print(f"per-example scores: {N_VAL * TOKENS} test values × {N_TRAIN} examples; largest |ours| "
          f"{np.abs(ours['per_example']).max():.3e}")  # fmt: skip
    print(
        "| explaind run | corr. with ours | max |diff| / max |ours| | max |Σ_examples diff| | its weight decay ÷ ours |"
    )
    print("|---|---|---|---|---|")
    report = {}
    for shuffle, t in theirs.items():
        a, b = t["per_example"].ravel(), ours["per_example"].ravel()
        corr = float(np.corrcoef(a, b)[0, 1])
        rel = float(np.abs(a - b).max() / np.abs(b).max())
        sums = float(np.abs(t["per_example"].sum(1) - ours["per_example"].sum(1)).max())
        big = np.abs(ours["weight_decay"]) > 1e-3 * np.abs(ours["weight_decay"]).max()
        ratio = np.median(t["reg_term"][big] / ours["weight_decay"][big])
        report[shuffle] = {"corr": corr, "rel_max_diff": rel, "sum_gap": sums, "weight_decay_ratio": float(ratio)}
        print(f"| shuffle={bool(shuffle)} | {corr:.4f} | {rel:.2e} | {sums:.2e} | {ratio:.3e} (lr = {LR:g}) |")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
