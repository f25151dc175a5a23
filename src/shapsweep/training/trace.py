"""The trace format: a training run recorded one atomic folder per optimizer step.

    traces/<trace_id>/
        trace.json                      format_version, trainable params (name, shape), optimizer, row_ids, steps
        base/                           the model before training, saved once with `save_pretrained`
        steps/<s:06d>/                  the state *before* update s (a folder exists whole or not at all)
            params.safetensors          θ_s of the trainable parameters
            exp_avg.safetensors         Adam's first moment m_s (zeros before the first update)
            exp_avg_sq.safetensors      Adam's second moment v_s
            step.json                   step, lr (the rate update s uses), adam_step, batch_row_ids, loss
        final/params.safetensors        θ_T, the parameters after the last update
        final/exp_avg_sq.safetensors    v_T (optional): the path kernel's preconditioner of the last update

A step folder holds what update s starts from, so θ_{s+1} is the next folder's (or `final/`'s) params: the
path kernel integrates against that recorded θ_{s+1}, never a replay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from shapsweep.atomic_outputs import atomic_dir, write_text

FORMAT_VERSION = 1
STEP_FILES = ("params", "exp_avg", "exp_avg_sq")


@dataclass
class StepState:
    """One recorded step: θ_s, m_s, v_s of the trainable parameters and the step's metadata."""

    step: int
    params: dict[str, torch.Tensor]
    exp_avg: dict[str, torch.Tensor]
    exp_avg_sq: dict[str, torch.Tensor]
    lr: float
    adam_step: int
    batch_row_ids: list | None
    loss: float | None


def step_dir(root: str | Path, step: int) -> Path:
    return Path(root) / "steps" / f"{step:06d}"


def final_dir(root: str | Path) -> Path:
    return Path(root) / "final"


def _tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # safetensors stores contiguous CPU tensors that share no memory with each other.
    return {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}


def write_header(root: str | Path, header: dict) -> None:
    """trace.json: what every step folder shares (written once, before the first step)."""
    write_text(Path(root) / "trace.json", json.dumps({"format_version": FORMAT_VERSION, **header}, indent=1))


def read_header(root: str | Path) -> dict:
    path = Path(root) / "trace.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: training.trace must point at a folder written by a trace recorder")
    header = json.loads(path.read_text())
    if header.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: format_version {header.get('format_version')!r}, this shapsweep reads {FORMAT_VERSION}; "
            "re-record the trace with this version"
        )
    return header


def write_step(root: str | Path, state: StepState) -> None:
    """One atomic step folder: a killed recorder leaves the previous steps whole and this one absent."""
    with atomic_dir(step_dir(root, state.step)) as tmp:
        for name in STEP_FILES:
            save_file(_tensors(getattr(state, name)), str(tmp / f"{name}.safetensors"))
        info = {
            "step": state.step,
            "lr": state.lr,
            "adam_step": state.adam_step,
            "batch_row_ids": state.batch_row_ids,
            "loss": state.loss,
        }
        (tmp / "step.json").write_text(json.dumps(info))


def read_step(root: str | Path, step: int) -> StepState:
    folder = step_dir(root, step)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder} not found: step {step} is not in this trace (recorded: {recorded_steps(root)})"
        )
    info = json.loads((folder / "step.json").read_text())
    tensors = {name: load_file(str(folder / f"{name}.safetensors")) for name in STEP_FILES}
    return StepState(
        step=info["step"],
        lr=info["lr"],
        adam_step=info["adam_step"],
        batch_row_ids=info["batch_row_ids"],
        loss=info["loss"],
        **tensors,
    )


def write_final(
    root: str | Path, params: dict[str, torch.Tensor], exp_avg_sq: dict[str, torch.Tensor] | None = None
) -> None:
    with atomic_dir(final_dir(root)) as tmp:
        save_file(_tensors(params), str(tmp / "params.safetensors"))
        if exp_avg_sq is not None:
            save_file(_tensors(exp_avg_sq), str(tmp / "exp_avg_sq.safetensors"))


def read_final(root: str | Path) -> dict[str, torch.Tensor]:
    return load_file(str(final_dir(root) / "params.safetensors"))


def read_final_second_moment(root: str | Path) -> dict[str, torch.Tensor] | None:
    """v_T, or None for a trace recorded without it (the path kernel then recomputes it from the batch)."""
    path = final_dir(root) / "exp_avg_sq.safetensors"
    return load_file(str(path)) if path.exists() else None


def params_after(root: str | Path, step: int) -> dict[str, torch.Tensor]:
    """θ_{s+1}: the next step folder's params, or θ_T after the last update."""
    if step_dir(root, step + 1).is_dir():
        return read_step(root, step + 1).params
    if final_dir(root).is_dir() and read_header(root).get("total_steps") == step + 1:
        return read_final(root)
    raise FileNotFoundError(
        f"θ after step {step} was not recorded in {root}: record step {step + 1} or the final state"
    )


def recorded_steps(root: str | Path) -> list[int]:
    """The complete step folders (temp folders of a killed recorder start with '.' and are skipped)."""
    folder = Path(root) / "steps"
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())


def is_complete(root: str | Path) -> bool:
    return final_dir(root).is_dir()
