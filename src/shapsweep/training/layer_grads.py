"""Per-row parameter gradients of a model built from `nn.Linear` (or transformers' `Conv1D`), `nn.Embedding`
and norm layers, by hooks.

For a linear layer the gradient of row r's value is Σ_t δ_{r,t} a_{r,t}ᵀ (its output gradients times its
inputs, over the row's positions t), so one batched forward and one backward of the summed value give every
row's gradient, and a weighted sum over quadrature nodes, Σ_k w_k ∇θ f(θ_k), is one batched matmul over
(node, position) pairs: nothing of size nodes × rows × parameters is ever formed, unlike vmap(grad) over
nodes and rows. A norm layer (`nn.LayerNorm`, a transformers `*RMSNorm`) is elementwise affine in its weight
and bias, y = (c + w) ⊙ n(x) + b, so its gradients are Σ_t δ_{r,t} ⊙ n_{r,t} and Σ_t δ_{r,t}, with n(x) read
off the layer itself (its output at w = 1 minus at w = 0; the affine form is checked on the real output).
Rows must not interact (row r's value depends on row r's inputs only), and every hooked layer's output must
have the rows on its first axis (an embedding looked up once for all rows, such as default position ids,
is expanded to the rows when the caller says how many there are). A model with any other trainable parameter the
value touches raises `Unsupported` (the caller then takes vmap(grad) or batched VJPs).

`node_stacked_row_grads` runs all quadrature nodes in one forward and backward (the batch repeated per
node, each such layer computing its output with its node's parameters); `weighted_row_grads` one node at a
time, for a model whose parameters are also read outside their layers.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from shapsweep.training.per_copy_layers import (
    Unsupported,
    check_affine,
    check_stacked,
    is_conv1d,
    is_norm,
    norm_parts,
    norm_per_copy,
    owners,
    patched_layers,
    stacked_ids,
    tile,
)

__all__ = ["Unsupported", "node_stacked_row_grads", "weighted_row_grads"]


def weighted_row_grads(
    model: torch.nn.Module,
    params: dict[str, torch.nn.Parameter],
    value: Callable[[], torch.Tensor],
    load: Callable[[int], None],
    weights: list[float],
    out: dict[str, torch.Tensor] | None = None,
    rows: int | None = None,
) -> dict[str, torch.Tensor]:
    """Σ_k weights[k] ∇θ value_r at the parameters `load(k)` sets, per row r: (rows, *shape) per parameter.

    `value()` runs the model on the batch and returns one scalar per row; `load(k)` writes node k's
    parameters into `params`. With `out` (contiguous (rows, *shape) tensors, e.g. row slices of a buffer
    the caller reuses) every element of it is overwritten and it is returned: no allocation per call.
    With `rows` (the batch's row count), an embedding looked up once for all rows (position embeddings
    of the model's default position ids, shape (1, positions, width)) is expanded to every row as it
    leaves the layer, so its gradient keeps the row axis: the model runs with the inputs it takes by
    default, no position ids need be passed.
    """
    by_layer = owners(model, params)
    seen: dict = {}  # module -> list over nodes of (input, output gradient)
    captured: list = []

    listening = [True]  # off while a norm layer is probed (`_normalized` calls it again)

    def forward_hook(module, inputs, output):
        if not listening[0]:
            return None
        x = inputs[0]
        if rows and rows > 1 and isinstance(module, torch.nn.Embedding) and output.shape[0] == 1:
            # shared by the rows: expanded (a view), so the gradient w.r.t. it is per row
            x, output = x.expand(rows, *x.shape[1:]), output.expand(rows, *output.shape[1:])
            captured.append((module, x, output))
            return output
        captured.append((module, x, output))
        return None

    modules = {m for pairs in by_layer.values() for m, _ in pairs}
    handles = [m.register_forward_hook(forward_hook) for m in modules]
    try:
        for k, w in enumerate(weights):
            load(k)
            captured.clear()
            values = value()
            loose = [p for n, p in params.items() if not by_layer[n]]
            targets = [o for _, _, o in captured] + loose
            grads = torch.autograd.grad(values.sum(), targets, allow_unused=True)
            listening[0] = False
            for (module, x, y), g in zip(captured, grads[: len(captured)], strict=True):
                if g is not None:
                    if g.shape[0] != values.shape[0]:
                        raise Unsupported(f"{type(module).__name__} output {tuple(g.shape)} has no row axis")
                    x = _normalized(module, x, y) if is_norm(module) else x.detach()
                    seen.setdefault(module, []).append(_live_pairs(module, x, g, w))
            listening[0] = True
            if any(g is not None and bool(g.ne(0).any()) for g in grads[len(captured) :]):
                raise Unsupported(
                    "a trainable parameter outside Linear, Conv1D, Embedding and norm layers moves the value"
                )
    finally:
        for handle in handles:
            handle.remove()
    if out is None:
        count = values.shape[0]
        out = {n: torch.empty((count, *p.shape), dtype=p.dtype, device=p.device) for n, p in params.items()}
    _write_all(out, by_layer, seen)
    return out


def node_stacked_row_grads(
    model: torch.nn.Module,
    params: dict[str, torch.nn.Parameter],
    value: Callable[[object], torch.Tensor],
    batch,
    theta: dict[str, torch.Tensor],
    delta: dict[str, torch.Tensor],
    nodes: list[float],
    weights: list[float],
    out: dict[str, torch.Tensor],
    rows: int,
) -> dict[str, torch.Tensor]:
    """Σ_k weights[k] ∇θ value_r(θ + nodes[k] Δθ) per row r, as `weighted_row_grads`, but every node in ONE
    forward and backward: the batch is repeated once per node (node-major) and each layer that holds a
    parameter computes its output with its own node's parameters. The model's operations run once per step
    instead of once per node, which is what a small model's step costs on a GPU (one launch per operation).

    `value(batch)` runs the model on a collated batch and returns one scalar per row; the batch's per-row
    parts are repeated (`per_copy_layers.tile`), others (shared) passed as they are. Every
    trainable parameter must be in a Linear, Conv1D, Embedding or norm layer; else `Unsupported` (and the
    caller runs the nodes one by one). Activations are held for len(nodes) × rows rows.
    """
    by_layer = owners(model, params)
    n_nodes = len(nodes)
    like = next(iter(theta.values()))
    t = torch.as_tensor(nodes, dtype=like.dtype, device=like.device)
    stacked = {n: torch.addcmul(theta[n], t.view(-1, *[1] * theta[n].dim()), delta[n]) for n in params}
    by_id = {id(p): n for n, p in params.items()}

    def at_nodes(module, role: str) -> torch.Tensor | None:
        """module.<role> per node, (nodes, *shape), or (1, *shape) where it does not train."""
        p = getattr(module, role, None)
        if p is None:
            return None
        return stacked[by_id[id(p)]] if id(p) in by_id else p.unsqueeze(0)

    def output(module, x, probe):
        """The layer's output with each node's parameters for that node's rows; (output, its input)."""
        if isinstance(module, torch.nn.Embedding):
            ids = stacked_ids(x, n_nodes, rows)
            return _embedding_at_nodes(ids, at_nodes(module, "weight"), n_nodes, rows), ids
        check_stacked(module, x, n_nodes, rows)
        w, b = at_nodes(module, "weight"), at_nodes(module, "bias")
        if is_norm(module):
            return norm_per_copy(module, x, w, b, n_nodes, rows, probe)
        y = x.reshape(n_nodes, -1, x.shape[-1]) @ (w if is_conv1d(module) else w.transpose(1, 2))
        if b is not None:
            y = y + b.unsqueeze(1)
        return y.reshape(*x.shape[:-1], y.shape[-1]), x

    captured: list = []  # (module, input, output) per call, stacked over nodes on the row axis

    def capture(module, x, y):
        if not y.requires_grad:  # the first layer on the inputs: a leaf the value's gradient is taken at
            y.requires_grad_()
        captured.append((module, x.detach(), y))

    modules = {m for pairs in by_layer.values() for m, _ in pairs}
    with patched_layers(modules, output, capture):
        tiled = tile(batch, rows, n_nodes)
        values = value(tiled)
        if values.shape != (n_nodes * rows,):
            raise Unsupported(f"the value gave {tuple(values.shape)} for {n_nodes} × {rows} stacked rows")
        targets = [y for _, _, y in captured] + list(params.values())
        # seeded with each stacked row's node weight, so every output gradient comes out weighted
        seed = torch.as_tensor(weights, dtype=values.dtype, device=values.device).repeat_interleave(rows)
        grads = torch.autograd.grad(values, targets, grad_outputs=seed, allow_unused=True)
    # the layers computed with their nodes' parameters never read the model's own: a gradient reaching those
    # means a parameter is read elsewhere (outside any layer, or besides its layer's forward), at one node
    if any(g is not None and bool(g.ne(0).any()) for g in grads[len(captured) :]):
        raise Unsupported("a trainable parameter is read outside its Linear, Conv1D, Embedding or norm layer")
    seen: dict = {}
    for (module, x, _), g in zip(captured, grads[: len(captured)], strict=True):
        if g is not None:
            seen.setdefault(module, []).append(_nodes_joined(module, x, g, n_nodes, rows))
    _write_all(out, by_layer, seen)
    return out


def _write_all(out: dict, owners: dict, seen: dict) -> None:
    """Each parameter's per-row gradient into `out`, summed over the layers that use it (tied weights)."""
    for name, pairs in owners.items():
        written = False
        for module, role in pairs:
            if module in seen:
                _accumulate(out[name], module, role, seen[module], add=written)
                written = True
        if not written:  # the value does not reach this parameter
            out[name].zero_()


def _embedding_at_nodes(ids: torch.Tensor, table: torch.Tensor, n_nodes: int, rows: int) -> torch.Tensor:
    """Each stacked row's lookup in its node's table (nodes × vocab rows, one lookup)."""
    vocab = table.shape[1]
    offset = (torch.arange(n_nodes, device=ids.device) * vocab).view(-1, *[1] * ids.dim())
    flat = (ids.reshape(n_nodes, rows, *ids.shape[1:]) + offset).reshape(ids.shape)
    return torch.nn.functional.embedding(flat, table.reshape(-1, table.shape[-1]))


def _nodes_joined(module, x: torch.Tensor, g: torch.Tensor, n_nodes: int, rows: int):
    """One call's (inputs, output gradients) with the nodes joined into each row's position axis:
    rows × (node, live position) × features, as `_accumulate` reads them."""
    inputs, delta = _live_positions(*_by_position(module, x, g, (n_nodes, rows)), axis=2)
    width = delta.shape[-1]
    delta = delta.transpose(0, 1).reshape(rows, -1, width)
    inputs = inputs.transpose(0, 1).reshape(rows, -1, *inputs.shape[3:])
    return inputs, delta


def _by_position(module, x: torch.Tensor, g: torch.Tensor, lead: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, output gradients) of one call as lead × positions × features (ids: lead × positions)."""
    # a norm's elements are its weight's (it may normalize over several trailing axes)
    width = module.weight.numel() if is_norm(module) else g.shape[-1]
    delta = g.detach().reshape(*lead, -1, width)
    if isinstance(module, torch.nn.Embedding):
        return x.reshape(*lead, delta.shape[-2]), delta
    return x.reshape(*lead, delta.shape[-2], width if is_norm(module) else x.shape[-1]), delta


def _live_positions(inputs: torch.Tensor, delta: torch.Tensor, axis: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Only the positions (on `axis`) whose output gradient is nonzero somewhere: a layer after the last
    mixing of positions (a classifier's top MLP, its head) only matters where the value is read, so what is
    kept, joined and multiplied shrinks by the sequence length."""
    others = tuple(d for d in range(delta.dim()) if d != axis)
    # amax | amin: one cheap reduction each, no |g| temporary; a NaN stays live
    live = torch.amax(delta, dim=others).ne(0) | torch.amin(delta, dim=others).ne(0)
    if bool(live.all()):
        return inputs, delta
    keep = live.nonzero().squeeze(1)
    return inputs.index_select(axis, keep), delta.index_select(axis, keep)


def _normalized(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """n(x) of a norm layer y = (c + w) ⊙ n(x) + b: its output at w = 1 minus at w = 0 (bias 0), checked
    against the real output so a layer of another form is refused rather than given wrong gradients."""
    with torch.no_grad():
        n, base = norm_parts(module, x)
        check_affine(n, base, y, module.weight, getattr(module, "bias", None), type(module).__name__)
    return n


def _live_pairs(module, x: torch.Tensor, g: torch.Tensor, weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, weight · output gradient) of one call, rows × live positions × features (ids: rows ×
    positions), sliced per call, before anything is joined."""
    inputs, delta = _live_positions(*_by_position(module, x, g, (g.shape[0],)), axis=1)
    return inputs, delta if weight == 1 else delta * weight


def _joined(calls: list, which: int) -> torch.Tensor:
    """The calls' (node, reuse) tensors on one position axis; one call's as it is (no copy)."""
    parts = [c[which] for c in calls]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def _accumulate(into: torch.Tensor, module, role: str, calls: list, add: bool) -> None:
    """Write (or with `add`, add) module.<role>'s per-row gradient over all its calls (nodes, reuse): the
    (node, position) pairs joined on one axis, so a weight's gradient is one batched matmul."""
    delta = _joined(calls, 1)  # row × (node, live position) × out
    if is_norm(module):
        if role == "weight":
            grad = torch.einsum("rke,rke->re", delta, _joined(calls, 0)).view(into.shape)
        else:
            grad = delta.sum(1).view(into.shape)
        into.add_(grad) if add else into.copy_(grad)
        return
    if isinstance(module, torch.nn.Embedding):
        ids = _joined(calls, 0)
        if module.padding_idx is not None:  # as autograd does: the padding row gets no gradient from lookups
            delta = delta.masked_fill((ids == module.padding_idx)[..., None], 0)
        if not add:
            into.zero_()
        into.scatter_add_(1, ids[..., None].expand(-1, -1, delta.shape[-1]), delta.to(into.dtype))
    elif role == "bias":
        if add:
            into.add_(delta.sum(1))
        else:
            into.copy_(delta.sum(1))
    elif is_conv1d(module):  # weight (in, out): Σ_t x_t δ_tᵀ
        into.baddbmm_(_joined(calls, 0).transpose(1, 2), delta, beta=1 if add else 0)
    else:
        # into a zeroed buffer: baddbmm_ measured faster than bmm(out=) here
        into.baddbmm_(delta.transpose(1, 2), _joined(calls, 0), beta=1 if add else 0)
