"""The path kernel: a test value's change over recorded AdamW steps, split over training examples,
parameter groups and steps.

For update s the value changes by exactly f(θ_{s+1}) − f(θ_s) = φ_s · Δθ_s with
φ_s = ∫₀¹ ∇θ f(θ_s + tΔθ_s) dt (integrated gradients in parameter space along the *recorded* update; the
midpoint rule with `midpoints` points). AdamW's update is

    Δθ_s = −α_s λ θ_s − P_s ⊙ (β1 m_s + (1−β1) g_s),    P_s = (α_s / (1−β1^t)) / (√(v_{s+1}/(1−β2^t)) + ε)

and unrolling the first moment from the window's start s0 gives m_s = β1^{s−s0} m_{s0} + Σ_{s0≤r<s}
β1^{s−1−r}(1−β1) g_r, with g_r the mean of the batch's per-example gradients. So the change is a sum of
(training example, step, parameter) terms plus the momentum carried into the window and the weight decay.

We run the steps backwards keeping one running direction per test row, U_r = φ_r ⊙ P_r + β1 U_{r+1}: the
example gradients of step r then enter once, as −(1−β1)/B_r ⟨U_r, g_{r,i}⟩, reduced per (data group,
component) as soon as they are made. Memory is parameters × test rows, never × training examples; no
output Jacobian is formed (each gradient is the VJP of one scalar). The per-step totals φ_s · Δθ_s are kept
per update step (the step curve); data scores are summed over the steps where their gradients were taken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from shapsweep.training.components import group_parameters
from shapsweep.training.trace import params_after, read_header, read_step

Value = Callable[[torch.nn.Module, list], torch.Tensor]  # (model, test rows) -> one value per row
ExampleLoss = Callable[[torch.nn.Module, list], torch.Tensor]  # (model, training rows) -> one loss per row


@dataclass
class PathKernelResult:
    """Scores per test row; component and step axes named by `components` and `steps`."""

    groups: list  # data group labels (training row ids by default)
    components: list[str]
    steps: list[int]
    v_empty: np.ndarray  # f(θ_{s0}) per test row
    v_full: np.ndarray  # f(θ_{s1}) per test row
    data: np.ndarray  # test row × group × component
    momentum: np.ndarray  # test row × component: m_{s0} carried into the window
    weight_decay: np.ndarray  # test row × component
    step_totals: np.ndarray  # test row × component × step: φ_s · Δθ_s per update step

    @property
    def group_scores(self) -> np.ndarray:
        return self.data.sum(axis=2)

    @property
    def component_scores(self) -> np.ndarray:
        return self.data.sum(axis=1) + self.momentum + self.weight_decay

    @property
    def efficiency_gap(self) -> np.ndarray:
        """(v_full − v_empty) − Σ scores: the midpoint rule's error plus float rounding."""
        return (self.v_full - self.v_empty) - self.component_scores.sum(axis=1)


def _load(params: dict[str, torch.nn.Parameter], values: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(values[name])


def _row_grads(outputs: torch.Tensor, params: dict[str, torch.nn.Parameter]) -> dict[str, torch.Tensor]:
    """∇θ of each entry of `outputs` separately, (k, *shape) per parameter: k batched VJPs of scalars."""
    k = outputs.shape[0]
    eye = torch.eye(k, dtype=outputs.dtype, device=outputs.device)
    grads = torch.autograd.grad(
        outputs, list(params.values()), grad_outputs=eye, is_grads_batched=True, allow_unused=True
    )
    return {
        n: torch.zeros((k, *p.shape), dtype=p.dtype, device=p.device) if g is None else g
        for (n, p), g in zip(params.items(), grads, strict=True)
    }


class _Functional:
    """`model` called with `params` in place of its own (torch.func.functional_call), for per-sample gradients."""

    def __init__(self, model: torch.nn.Module, params: dict[str, torch.Tensor]):
        self.model, self.params = model, params

    def __call__(self, *args, **kwargs):
        return torch.func.functional_call(self.model, self.params, args, kwargs)


def _sample_grads(fn, model, params: dict[str, torch.nn.Parameter], batch) -> dict[str, torch.Tensor]:
    """∇θ of fn's value for each row of a collated `batch` by vmap(grad): k row-backwards, not k²."""

    def one(p, row):
        single = torch.utils._pytree.tree_map(lambda t: t.unsqueeze(0), row)
        return fn(_Functional(model, p), single)[0]

    detached = {n: p.detach() for n, p in params.items()}
    return torch.func.vmap(torch.func.grad(one), in_dims=(None, 0))(detached, batch)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield start, items[start : start + size]


def _second_moment_after(trace_root, state, model, params, example_loss, training_rows, beta2, batch_of) -> dict:
    """v_{s+1}: recorded in the next step folder; after the trace's last recorded step, from the batch gradient."""
    try:
        return read_step(trace_root, state.step + 1).exp_avg_sq
    except FileNotFoundError:
        loss = example_loss(model, batch_of([training_rows[rid] for rid in state.batch_row_ids])).mean()
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        return {
            n: beta2 * state.exp_avg_sq[n] + (1 - beta2) * (0 if g is None else g) ** 2
            for n, g in zip(params, grads, strict=True)
        }


def path_kernel(
    trace_root,
    model: torch.nn.Module,
    value: Value,
    test_rows: list,
    example_loss: ExampleLoss,
    training_rows: dict,
    *,
    steps: tuple[int, int] | None = None,
    midpoints: int = 10,
    components: str = "tensor",
    data_group: Callable[[object], object] | None = None,
    chunk_size: int = 64,
    collate: Callable[[list], object] | None = None,
) -> PathKernelResult:
    """Explain f over trace steps [s0, s1) (θ_{s0} → θ_{s1}).

    `model` is the base model (its trainable parameters are overwritten from the trace); `value(model, rows)`
    gives each test row's scalar value, rows independent of each other; `example_loss(model, rows)` each
    training row's loss, the batch loss being their mean (as `training.train` trains); `training_rows` maps
    row id -> row; `data_group(row)` names a row's data group (default: its row id). Gradients are taken
    `chunk_size` rows at a time: k batched vector-Jacobian products through the chunk's graph (k² work), or,
    with `collate(rows) -> tensors with a leading row axis`, per-sample gradients by `torch.func.vmap`
    (k work): then `value` and `example_loss` get the collated batch, and must run under vmap.
    """

    def batch_of(rows: list):
        return rows if collate is None else collate(rows)

    def grads_of(fn, rows: list) -> dict[str, torch.Tensor]:
        if collate is None:
            return _row_grads(fn(model, rows), params)
        return _sample_grads(fn, model, params, collate(rows))

    if midpoints < 1:
        raise ValueError(f"options.midpoints must be at least 1, got {midpoints}")
    header = read_header(trace_root)
    hyper = header["optimizer"]
    if not hyper["decoupled_weight_decay"] and hyper["weight_decay"]:
        raise ValueError("the trace used Adam with weight_decay (coupled); the path kernel reads AdamW traces")
    beta1, beta2 = hyper["betas"]
    lam, eps = hyper["weight_decay"], hyper["eps"]
    s0, s1 = steps if steps is not None else (0, header["total_steps"])
    if not 0 <= s0 < s1 <= header["total_steps"]:
        raise ValueError(f"options.steps [{s0}, {s1}] is not a window of this trace's {header['total_steps']} steps")
    names = [p["name"] for p in header["params"]]
    named = dict(model.named_parameters())
    missing = [n for n in names if n not in named]
    if missing:
        raise ValueError(f"the model has no parameters {missing[:3]} the trace recorded: explain the traced model")
    params = {n: named[n] for n in names}
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params.values():
        p.requires_grad_(True)
    model.eval()
    comp_names = group_parameters(names, components)
    comp_list = list(comp_names)

    def key(rid):
        return data_group(training_rows[rid]) if data_group else rid

    group_index: dict = {}
    for rid in training_rows:
        group_index.setdefault(key(rid), len(group_index))

    n_test, n_comp, window = len(test_rows), len(comp_list), list(range(s0, s1))
    data = np.zeros((n_test, len(group_index), n_comp))
    scores = torch.from_numpy(data)  # the same memory: index_add_ sums repeated groups, in place
    decay = np.zeros((n_test, n_comp))
    totals = np.zeros((n_test, n_comp, len(window)))

    def per_component(rows_of: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> np.ndarray:
        """(test row × component) dot products of per-row tensors with one shared tensor."""
        out = [sum((rows_of[n] * b[n]).flatten(1).sum(1) for n in comp_names[c]) for c in comp_list]
        return torch.stack(out, dim=1).double().cpu().numpy()

    def values_at(theta: dict[str, torch.Tensor]) -> np.ndarray:
        _load(params, theta)
        with torch.no_grad():
            return np.concatenate(
                [value(model, batch_of(rows)).double().cpu().numpy() for _, rows in _chunks(test_rows, chunk_size)]
            )

    v_empty = values_at(read_step(trace_root, s0).params)
    v_full = values_at(params_after(trace_root, s1 - 1))
    running = {n: torch.zeros((n_test, *p.shape), dtype=p.dtype, device=p.device) for n, p in params.items()}
    for w in reversed(range(len(window))):
        s = window[w]
        state = read_step(trace_root, s)
        after = params_after(trace_root, s)
        delta = {n: after[n] - state.params[n] for n in names}
        # φ_s per test row: the midpoint rule along the recorded update.
        phi = {n: torch.zeros_like(u) for n, u in running.items()}
        for k in range(midpoints):
            t = (k + 0.5) / midpoints
            _load(params, {n: state.params[n] + t * delta[n] for n in names})
            for start, rows in _chunks(test_rows, chunk_size):
                for n, g in grads_of(value, rows).items():
                    phi[n][start : start + len(rows)] += g.detach() / midpoints
        _load(params, state.params)
        batch = state.batch_row_ids
        if batch is None:
            raise ValueError(f"trace step {s} has no batch_row_ids: the path kernel needs the batch of every step")
        t_adam = state.adam_step + 1
        second = _second_moment_after(trace_root, state, model, params, example_loss, training_rows, beta2, batch_of)
        precondition = {
            n: (state.lr / (1 - beta1**t_adam)) / ((v / (1 - beta2**t_adam)).sqrt() + eps) for n, v in second.items()
        }
        totals[:, :, w] = per_component(phi, delta)
        decay -= state.lr * lam * per_component(phi, state.params)
        running = {n: phi[n] * precondition[n] + beta1 * running[n] for n in names}
        del phi
        # the batch's per-example gradients at the recorded θ_s, a chunk at a time, reduced into
        # (data group, component) as soon as they are made
        coefficient = (1 - beta1) / len(batch)
        for _, rids in _chunks(batch, chunk_size):
            grads = grads_of(example_loss, [training_rows[r] for r in rids])
            groups = torch.tensor([group_index[key(r)] for r in rids])
            contribution = torch.stack(
                [
                    sum(running[n].flatten(1) @ grads[n].detach().flatten(1).T for n in comp_names[comp])
                    for comp in comp_list
                ],
                dim=2,
            )  # test row × example × component
            scores.index_add_(1, groups, contribution.detach().double().cpu(), alpha=-coefficient)
            del grads
    first = read_step(trace_root, s0)
    momentum = -beta1 * per_component(running, first.exp_avg)
    return PathKernelResult(
        groups=list(group_index),
        components=comp_list,
        steps=window,
        v_empty=v_empty,
        v_full=v_full,
        data=data,
        momentum=momentum,
        weight_decay=decay,
        step_totals=totals,
    )
