"""The path kernel: a test value's change over recorded AdamW steps, split over training examples,
parameter groups and steps.

For update s the value changes by exactly f(θ_{s+1}) − f(θ_s) = φ_s · Δθ_s with
φ_s = ∫₀¹ ∇θ f(θ_s + tΔθ_s) dt (integrated gradients in parameter space along the *recorded* update; the
midpoint rule or Gauss-Legendre with `midpoints` nodes). AdamW's update is

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

from shapsweep.training.components import Piece, component_pieces
from shapsweep.training.layer_grads import Unsupported, node_stacked_row_grads, weighted_row_grads
from shapsweep.training.trace import params_after, read_final_second_moment, read_header, read_step, step_dir

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


QUADRATURES = ("midpoint", "gauss_legendre")


def quadrature(points: int, rule: str = "midpoint") -> tuple[np.ndarray, np.ndarray]:
    """Nodes t_k in (0, 1) and weights w_k (Σ w_k = 1) of ∫₀¹ g(t) dt ≈ Σ w_k g(t_k).

    The midpoint rule's error falls as 1/points²; Gauss-Legendre's as the update's higher derivatives
    allow (exact for a polynomial of degree 2·points − 1 in t).
    """
    if points < 1:
        raise ValueError(f"options.midpoints must be at least 1, got {points}")
    if rule == "midpoint":
        return (np.arange(points) + 0.5) / points, np.full(points, 1.0 / points)
    if rule == "gauss_legendre":
        x, w = np.polynomial.legendre.leggauss(points)
        return (x + 1) / 2, w / 2
    raise ValueError(f"options.quadrature {rule!r} is not a rule; use one of {list(QUADRATURES)}")


class _Layout:
    """The trainable parameters grouped into components. Per-row quantities (φ, the running direction, the
    example gradients) are kept per parameter, (rows, *shape) each, allocated once and overwritten in place
    by the gradient code; a component's share of a product is a sum of matmuls over its pieces (a piece's
    rows are a strided view, no concatenated copy of all parameters is ever made)."""

    def __init__(self, pieces: dict[str, list[Piece]], shapes: dict[str, tuple]):
        self.components = list(pieces)
        self.pieces = [(c, p) for c, name in enumerate(self.components) for p in pieces[name]]
        self.shapes = shapes

    def buffers(self, rows: int, like: torch.Tensor) -> dict[str, torch.Tensor]:
        return {n: torch.zeros((rows, *s), dtype=like.dtype, device=like.device) for n, s in self.shapes.items()}

    @staticmethod
    def _rows(piece: Piece, tensor: torch.Tensor) -> torch.Tensor:
        """(rows, piece size): a view unless the piece is a column slice (a head inside an output projection)."""
        return piece.of(tensor, 1).reshape(tensor.shape[0], -1)

    def dots(self, rows: dict[str, torch.Tensor], *vectors: dict[str, torch.Tensor]) -> np.ndarray:
        """(vector × row × component): each row's dot product with each vector, per component; several
        vectors in one matmul per piece, so the rows (φ: test rows × parameters) are read once."""
        like = next(iter(rows.values()))
        out = torch.zeros((len(self.components), like.shape[0], len(vectors)), dtype=torch.float64, device=like.device)
        for c, piece in self.pieces:
            right = torch.stack([piece.of(v[piece.name]).reshape(-1) for v in vectors], dim=1)
            out[c] += self._rows(piece, rows[piece.name]) @ right
        return out.permute(2, 1, 0).cpu().numpy()  # one copy off the device per call, not one per piece

    def cross_into(self, into: torch.Tensor, left: dict, right: dict, rows: int, alpha: float) -> None:
        """into[c] (left row × right row) += alpha · left·right over component c's elements, for the first
        `rows` rows of `right`: one addmm_ per piece, straight into `into` (a view is fine)."""
        for c, piece in self.pieces:
            r = self._rows(piece, right[piece.name][:rows])
            into[c].addmm_(self._rows(piece, left[piece.name]), r.T, alpha=alpha)


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
        n: torch.zeros((k, *p.shape), dtype=p.dtype, device=p.device) if g is None else g.detach()
        for (n, p), g in zip(params.items(), grads, strict=True)
    }


class _Functional:
    """`model` called with `params` in place of its own (torch.func.functional_call), for per-sample gradients."""

    def __init__(self, model: torch.nn.Module, params: dict[str, torch.Tensor]):
        self.model, self.params = model, params

    def __call__(self, *args, **kwargs):
        return torch.func.functional_call(self.model, self.params, args, kwargs)


def _sample_grads(fn, model, theta: dict[str, torch.Tensor], batch, weights=None) -> dict[str, torch.Tensor]:
    """∇θ of fn's value for each row of a collated `batch` by vmap(grad): k row-backwards, not k².

    With `weights` (one per quadrature node), `theta` is stacked over the nodes (a leading axis) and the
    result is Σ_k w_k ∇θ fn(θ_k) per row: every node × row of a step in one vmapped call.
    """

    def one(p, row):
        single = torch.utils._pytree.tree_map(lambda t: t.unsqueeze(0), row)
        return fn(_Functional(model, p), single)[0]

    per_row = torch.func.vmap(torch.func.grad(one), in_dims=(None, 0))
    if weights is None:
        return per_row(theta, batch)
    per_node = torch.func.vmap(per_row, in_dims=(0, None))(theta, batch)  # node × row × shape
    return {n: torch.tensordot(weights, g, dims=1) for n, g in per_node.items()}


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield start, items[start : start + size]


def _after(trace_root, step: int) -> tuple[dict, dict | None]:
    """θ_{s+1} and v_{s+1}: the next step folder's, or `final/`'s (v_T when the recorder wrote it)."""
    if step_dir(trace_root, step + 1).is_dir():
        later = read_step(trace_root, step + 1)
        return later.params, later.exp_avg_sq
    return params_after(trace_root, step), read_final_second_moment(trace_root)


def _second_moment_from_batch(state, model, params, example_loss, rows, beta2) -> dict:
    """v_{s+1} from the batch gradient, for a trace whose v after its last step was not recorded."""
    _load(params, state.params)
    loss = example_loss(model, rows).mean()
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    return {
        n: beta2 * state.exp_avg_sq[n].to(p) + (1 - beta2) * (0 if g is None else g.detach()) ** 2
        for (n, p), g in zip(params.items(), grads, strict=True)
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
    quadrature_rule: str = "midpoint",
    components: str = "tensor",
    data_group: Callable[[object], object] | None = None,
    chunk_size: int = 64,
    collate: Callable[[list], object] | None = None,
    vmap: bool = True,
) -> PathKernelResult:
    """Explain f over trace steps [s0, s1) (θ_{s0} → θ_{s1}).

    `model` is the base model (its trainable parameters are overwritten from the trace); `value(model, rows)`
    gives each test row's scalar value, rows independent of each other; `example_loss(model, rows)` each
    training row's loss, the batch loss being their mean (as `training.train` trains); `training_rows` maps
    row id -> row; `data_group(row)` names a row's data group (default: its row id). `midpoints` nodes of
    `quadrature_rule` ('midpoint' or 'gauss_legendre') integrate each update. Gradients are taken
    `chunk_size` at a time: k batched vector-Jacobian products through a chunk of rows' graph (k² work), or,
    with `collate(rows) -> tensors with a leading row axis`, per-sample gradients (k work): by layer hooks
    for a model of Linear/Conv1D/Embedding/norm layers (`training.layer_grads`: where a shard has fewer
    test rows than a chunk, every node of a step in one stacked forward and backward, else one pass per
    node; then one matmul per weight), else by `torch.func.vmap` (every node of a
    step in the same call, chunk_size // midpoints rows at a time), else (`vmap=False`: a model that
    cannot run under vmap) by batched VJPs of the collated batch; then `value` and `example_loss` get the
    collated batch, their rows must not interact, and for vmap they must run under it.
    """

    def batch_of(rows: list):
        return rows if collate is None else collate(rows)

    nodes, weights = quadrature(midpoints, quadrature_rule)
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
    shapes = {n: tuple(p.shape) for n, p in params.items()}
    layout = _Layout(component_pieces(shapes, components, model), shapes)
    reference = next(iter(params.values()))

    def here(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Trace tensors on the model's device, in its dtype."""
        return {n: tensors[n].to(device=reference.device, dtype=params[n].dtype) for n in names}

    def key(rid):
        return data_group(training_rows[rid]) if data_group else rid

    group_index: dict = {}
    for rid in training_rows:
        group_index.setdefault(key(rid), len(group_index))

    n_test, n_comp, window = len(test_rows), len(layout.components), list(range(s0, s1))
    # component × test row × data group, float64: each component's block is one matrix addmm_ writes into
    scores = torch.zeros((n_comp, n_test, len(group_index)), dtype=torch.float64, device=reference.device)
    decay = np.zeros((n_test, n_comp))
    totals = np.zeros((n_test, n_comp, len(window)))
    phi = layout.buffers(n_test, reference)  # φ_s, overwritten every step
    running = layout.buffers(n_test, reference)  # U_s
    run_list = [running[n] for n in names]
    example: dict[str, torch.Tensor] = {}  # a chunk of training rows' gradients, grown on demand
    partial = torch.empty((n_comp, n_test, 0), dtype=reference.dtype, device=reference.device)  # add_examples'
    # with `collate`, per-row gradients by layer hooks (shapsweep.training.layer_grads) while the model allows,
    # every node of a step in one stacked pass while that is allowed too
    by_layers = [collate is not None]
    stacked_nodes = [collate is not None]
    # stacked only where it makes fewer passes than node by node: when a chunk holds more test rows than the
    # shard has, the nodes fill it (chunk_size stays the bound on rows held either way)
    stacked_rows = max(1, chunk_size // midpoints)
    stacked_passes = -(-len(test_rows) // stacked_rows)
    node_passes = midpoints * -(-len(test_rows) // chunk_size)
    node_t = torch.as_tensor(nodes, dtype=reference.dtype, device=reference.device)
    node_w = torch.as_tensor(weights, dtype=reference.dtype, device=reference.device)

    def values_at(theta: dict[str, torch.Tensor]) -> np.ndarray:
        _load(params, theta)
        with torch.no_grad():
            return np.concatenate(
                [value(model, batch_of(rows)).double().cpu().numpy() for _, rows in _chunks(test_rows, chunk_size)]
            )

    def integrated_gradients(theta: dict[str, torch.Tensor], delta: dict[str, torch.Tensor]) -> None:
        """φ_s per test row into `phi`: Σ_k w_k ∇θ f(θ_s + t_k Δθ_s)."""
        if collate is not None and stacked_nodes[0] and stacked_passes < node_passes:
            try:  # chunk_size bounds the rows whose activations are held: test rows × nodes, stacked
                for start, rows in _chunks(test_rows, stacked_rows):
                    node_stacked_row_grads(
                        model,
                        params,
                        lambda b: value(model, b),
                        collate(rows),
                        theta,
                        delta,
                        [float(t) for t in nodes],
                        [float(w) for w in weights],
                        out={n: phi[n][start : start + len(rows)] for n in names},
                        rows=len(rows),
                    )
                return
            except Unsupported:
                stacked_nodes[0] = False  # the nodes one at a time from now on
        if collate is not None and by_layers[0]:
            try:
                for start, rows in _chunks(test_rows, chunk_size):
                    batch = collate(rows)
                    weighted_row_grads(
                        model,
                        params,
                        lambda: value(model, batch),  # noqa: B023 (called at once)
                        lambda k: _load(params, {n: theta[n] + float(nodes[k]) * delta[n] for n in names}),
                        [float(w) for w in weights],
                        out={n: phi[n][start : start + len(rows)] for n in names},
                        rows=len(rows),
                    )
                return
            except Unsupported:
                by_layers[0] = False  # a parameter outside Linear/Embedding layers: vmap(grad) from now on
        if collate is not None and vmap:
            stacked = {n: theta[n] + node_t.view(-1, *[1] * theta[n].dim()) * delta[n] for n in names}
            for start, rows in _chunks(test_rows, max(1, chunk_size // midpoints)):
                grads = _sample_grads(value, model, stacked, collate(rows), node_w)
                for n in names:
                    phi[n][start : start + len(rows)].copy_(grads[n])
            return
        for n in names:
            phi[n].zero_()
        for t, w in zip(nodes, weights, strict=True):
            _load(params, {n: theta[n] + float(t) * delta[n] for n in names})
            for start, rows in _chunks(test_rows, chunk_size):
                grads = _row_grads(value(model, batch_of(rows)), params)
                for n in names:
                    phi[n][start : start + len(rows)].add_(grads[n], alpha=w)

    def example_grads(theta: dict[str, torch.Tensor], rows: list) -> dict[str, torch.Tensor]:
        """Each training row's loss gradient at θ_s, (rows, *shape) per parameter (views of `example`)."""
        if not example or example[names[0]].shape[0] < len(rows):
            example.update(layout.buffers(len(rows), reference))
        out = {n: example[n][: len(rows)] for n in names}
        if collate is not None and by_layers[0]:
            batch = collate(rows)
            try:
                return weighted_row_grads(
                    model,
                    params,
                    lambda: example_loss(model, batch),
                    lambda _: _load(params, theta),
                    [1.0],
                    out,
                    rows=len(rows),
                )
            except Unsupported:
                by_layers[0] = False
        if collate is not None and vmap:
            grads = _sample_grads(example_loss, model, theta, collate(rows))
        else:
            _load(params, theta)
            grads = _row_grads(example_loss(model, batch_of(rows)), params)
        for n in names:
            out[n].copy_(grads[n])
        return out

    def add_examples(grads: dict[str, torch.Tensor], groups: list[int], alpha: float) -> None:
        """scores[:, :, group] += alpha · ⟨U, g_i⟩ per component, for each example i of the chunk."""
        first = groups[0]
        in_order = groups == list(range(first, first + len(groups)))  # each example its own group, in order
        if in_order and scores.dtype == reference.dtype:
            layout.cross_into(scores[:, :, first : first + len(groups)], running, grads, len(groups), alpha)
            return
        unique = groups if in_order else sorted(set(groups))
        if not in_order:  # the chunk's gradients summed per group first: a group of many examples, one product
            slot = torch.tensor([unique.index(g) for g in groups], device=reference.device)
            summed = {n: g.new_zeros((len(unique), *g.shape[1:])).index_add_(0, slot, g) for n, g in grads.items()}
            grads = summed
        # a float32 model's products in float32, a chunk at a time (memory flat in the training rows), then
        # added to the float64 result; the chunk's buffer is kept across chunks and steps (a fresh one
        # per chunk paid its page faults every time)
        if partial.shape[2] < len(unique):
            partial.resize_((n_comp, n_test, len(unique)))
        part = partial[:, :, : len(unique)]
        part.zero_()
        layout.cross_into(part, running, grads, len(unique), alpha)
        if in_order:
            scores[:, :, first : first + len(groups)] += part
        else:
            scores.index_add_(2, torch.tensor(unique, device=reference.device), part.to(scores.dtype))

    after, second = _after(trace_root, s1 - 1)
    v_full = values_at(here(after))
    for w in reversed(range(len(window))):
        s = window[w]
        state = read_step(trace_root, s)  # each step folder is read once: it is the next iteration's `after`
        batch = state.batch_row_ids
        if batch is None:
            raise ValueError(f"trace step {s} has no batch_row_ids: the path kernel needs the batch of every step")
        theta = here(state.params)
        delta = {n: t - theta[n] for n, t in here(after).items()}
        if second is None:
            rows = batch_of([training_rows[rid] for rid in batch])
            second = _second_moment_from_batch(state, model, params, example_loss, rows, beta2)
        integrated_gradients(theta, delta)
        t_adam = state.adam_step + 1
        v_hat = torch._foreach_div(list(here(second).values()), 1 - beta2**t_adam)
        along, at = layout.dots(phi, delta, theta)
        totals[:, :, w] = along
        decay -= state.lr * lam * at
        # U_s = φ_s ⊙ P_s + β1 U_{s+1}, P_s = α_s / (1 − β1^t) / (√v̂ + ε): each a fused op over all parameters
        precondition = torch._foreach_add(torch._foreach_sqrt(v_hat), eps)
        torch._foreach_reciprocal_(precondition)
        torch._foreach_mul_(precondition, state.lr / (1 - beta1**t_adam))
        torch._foreach_mul_(run_list, beta1)
        torch._foreach_addcmul_(run_list, [phi[n] for n in names], precondition)
        # the batch's per-example gradients at the recorded θ_s, a chunk at a time, reduced into
        # (data group, component) as soon as they are made
        coefficient = (1 - beta1) / len(batch)
        for _, rids in _chunks(batch, chunk_size):
            grads = example_grads(theta, [training_rows[r] for r in rids])
            add_examples(grads, [group_index[key(r)] for r in rids], -coefficient)
        after, second = state.params, state.exp_avg_sq
    momentum = -beta1 * layout.dots(running, here(state.exp_avg))[0]
    v_empty = values_at(here(state.params))
    return PathKernelResult(
        groups=list(group_index),
        components=layout.components,
        steps=window,
        v_empty=v_empty,
        v_full=v_full,
        data=scores.permute(1, 2, 0).cpu().numpy(),
        momentum=momentum,
        weight_decay=decay,
        step_totals=totals,
    )
