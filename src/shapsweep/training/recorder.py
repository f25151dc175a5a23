"""Record a training loop into a trace: the optimizer's real state before each update, never a replay.

A plain loop calls `TraceRecorder.record(...)` after `loss.backward()` and before `optimizer.step()`, and
`finish()` after the last update. A Hugging Face `Trainer` gets the same through `TraceCallback`
(`on_pre_optimizer_step`); the Trainer does not show callbacks the batch, so its steps carry no row ids.
Only `torch.optim.AdamW` (and `Adam` with weight_decay 0) are understood by the path kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import TrainerCallback

from shapsweep.training.trace import StepState, is_complete, write_final, write_header, write_step


def trainable_parameters(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def optimizer_hyperparameters(optimizer: torch.optim.Optimizer) -> dict:
    if not isinstance(optimizer, torch.optim.AdamW | torch.optim.Adam):
        raise TypeError(f"a trace records torch.optim.AdamW (or Adam), not {type(optimizer).__name__}")
    group = optimizer.param_groups[0]
    if len(optimizer.param_groups) > 1:
        raise ValueError("a trace records one optimizer parameter group: put every trainable parameter in one group")
    return {
        "name": type(optimizer).__name__,
        "betas": list(group["betas"]),
        "eps": group["eps"],
        "weight_decay": group["weight_decay"],
        # torch.optim.Adam adds weight decay to the gradient; AdamW decays the weights (decoupled).
        "decoupled_weight_decay": isinstance(optimizer, torch.optim.AdamW),
        "amsgrad": group["amsgrad"],
        "maximize": group["maximize"],
    }


class TraceRecorder:
    """Writes `trace.json` at creation, one step folder per `record`, `final/` at `finish`."""

    def __init__(
        self,
        root: str | Path,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        row_ids: Sequence | None = None,
        total_steps: int | None = None,
        window: tuple[int, int] | None = None,
        extra: dict | None = None,
    ):
        self.root = Path(root)
        self.model = model
        self.optimizer = optimizer
        self.window = window
        self.params = trainable_parameters(model)
        hyper = optimizer_hyperparameters(optimizer)
        if hyper["amsgrad"] or hyper["maximize"]:
            raise ValueError("amsgrad and maximize are not recorded: train with AdamW(amsgrad=False, maximize=False)")
        ids_of_params = {id(p) for p in self.params.values()}
        if {id(p) for p in optimizer.param_groups[0]["params"]} != ids_of_params:
            raise ValueError("the optimizer must hold exactly the model's trainable parameters (requires_grad=True)")
        self.header = {
            "params": [{"name": n, "shape": list(p.shape), "dtype": str(p.dtype)} for n, p in self.params.items()],
            "optimizer": hyper,
            "row_ids": list(row_ids) if row_ids is not None else None,
            "total_steps": total_steps,
            "window": list(window) if window is not None else None,
            **(extra or {}),
        }
        write_header(self.root, self.header)

    def wants(self, step: int) -> bool:
        return self.window is None or self.window[0] <= step <= self.window[1]

    def record(self, step: int, *, batch_row_ids: Sequence | None = None, loss: float | None = None) -> None:
        """Call after backward, before `optimizer.step()`: θ_s, m_s, v_s as the optimizer holds them now."""
        if not self.wants(step):
            return
        first, second, adam_step = {}, {}, 0
        for name, p in self.params.items():
            state = self.optimizer.state.get(p, {})
            first[name] = state["exp_avg"] if "exp_avg" in state else torch.zeros_like(p)
            second[name] = state["exp_avg_sq"] if "exp_avg_sq" in state else torch.zeros_like(p)
            if "step" in state:
                adam_step = int(state["step"])
        write_step(
            self.root,
            StepState(
                step=step,
                params=dict(self.params),
                exp_avg=first,
                exp_avg_sq=second,
                lr=float(self.optimizer.param_groups[0]["lr"]),
                adam_step=adam_step,
                batch_row_ids=list(batch_row_ids) if batch_row_ids is not None else None,
                loss=float(loss) if loss is not None else None,
            ),
        )

    def finish(self, steps_taken: int) -> None:
        """θ_T (and v_T) after the last update, and the step count the trace covers."""
        if self.header.get("total_steps") != steps_taken:
            self.header["total_steps"] = steps_taken
            write_header(self.root, self.header)
        second = {n: self.optimizer.state.get(p, {}).get("exp_avg_sq") for n, p in self.params.items()}
        write_final(self.root, self.params, None if any(v is None for v in second.values()) else second)

    @property
    def complete(self) -> bool:
        return is_complete(self.root)


class TraceCallback(TrainerCallback):
    """Records a Hugging Face `Trainer` run (AdamW, one parameter group) into a trace."""

    def __init__(self, root: str | Path, *, row_ids: Sequence | None = None, window: tuple[int, int] | None = None):
        self.root = Path(root)
        self.row_ids = row_ids
        self.window = window
        self.recorder: TraceRecorder | None = None

    def on_pre_optimizer_step(self, args, state, control, model=None, optimizer=None, **kwargs):
        # The Trainer may wrap the optimizer (accelerate); the torch optimizer is inside.
        inner = getattr(optimizer, "optimizer", optimizer)
        if self.recorder is None:
            self.recorder = TraceRecorder(
                self.root, model, inner, row_ids=self.row_ids, total_steps=state.max_steps, window=self.window
            )
        self.recorder.record(state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        if self.recorder is not None:
            self.recorder.finish(state.global_step)
