"""Many coalitions of parameter updates in one forward: the update game's values, a batch of coalitions at once.

Coalition k's parameters are θ0 + M_k ⊙ Δθ, M_k being 1 on the elements of the components in the coalition
and 0 elsewhere. A component's pieces are whole tensors or slices along one dimension, so each tensor's mask
varies along one dimension at most (`coalition_masks`). Then a Linear layer's output for copy k is

    x W0ᵀ + b0 + ((x ⊙ c_k) Δᵀ) ⊙ r_k + Δb ⊙ r_k

(c_k: its mask over input features, r_k over output features): two matmuls whose weights all copies share,
so nothing of size coalitions × parameters is formed. Where the whole tensor is one component's, the
coalitions with it take x W1ᵀ and the others x W0ᵀ: the plain layer's work. A Conv1D's likewise; an
embedding's lookup is split as the first form, and a norm layer's few weights are formed per copy.
The layers are patched by `per_copy_layers` (the rows of coalition k are the batch's k-th copy).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from shapsweep.training.components import Piece
from shapsweep.training.per_copy_layers import (
    Unsupported,
    check_stacked,
    is_conv1d,
    is_norm,
    norm_per_copy,
    owners,
    patched_layers,
    stacked_ids,
    tile,
)

Mask = tuple[int | None, torch.Tensor]  # (the dimension it varies along or None, (copies,) or (copies, size))


def coalition_masks(
    groups: dict[str, list[Piece]], coalitions: np.ndarray, like: dict[str, torch.Tensor]
) -> dict[str, Mask]:
    """Each parameter's mask over the coalitions (rows of `coalitions`, columns in `groups`' order)."""
    along: dict[str, int | None] = {}
    for pieces in groups.values():
        for piece in pieces:
            if along.setdefault(piece.name, piece.dim) != piece.dim:
                raise Unsupported(f"{piece.name} is split along two dimensions; its mask cannot be factored")
    on_cpu: dict[str, tuple[int | None, torch.Tensor]] = {}  # filled on the host, moved once a tensor
    for name, dim in along.items():
        t = like[name]
        size = (len(coalitions),) if dim is None else (len(coalitions), t.shape[dim])
        on_cpu[name] = (dim, torch.zeros(size, dtype=t.dtype))
    for members, pieces in zip(np.asarray(coalitions, dtype=bool).T, groups.values(), strict=True):
        for piece in pieces:
            dim, mask = on_cpu[piece.name]
            on = torch.as_tensor(members, dtype=mask.dtype)
            if dim is None:
                mask.copy_(on)
            else:
                mask[:, piece.start : piece.stop] = on.unsqueeze(1)
    return {name: (dim, mask.to(like[name].device)) for name, (dim, mask) in on_cpu.items()}


def coalition_values(
    model: torch.nn.Module,
    params: dict[str, torch.nn.Parameter],
    value: Callable[[object], torch.Tensor],
    batch,
    start: dict[str, torch.Tensor],
    delta: dict[str, torch.Tensor],
    masks: dict[str, Mask],
    rows: int = 1,
) -> torch.Tensor:
    """value(batch) under θ0 + M_k ⊙ Δθ for every coalition k of `masks`, in one forward, no gradient:
    (coalitions × rows,) values, coalition-major.

    While it runs, the model's own `params` hold NaN: a parameter read outside its layer (which would be read
    at one value for every coalition) turns the values NaN and is refused (`Unsupported`, as is any layer
    this cannot read per copy); the parameters are put back after.
    """
    copies = len(next(iter(masks.values()))[1])
    by_id = {id(p): n for n, p in params.items()}

    def parts(module, role: str):
        """(θ0, Δθ, mask) of module.<role>, or (the parameter, None, None) where it does not move."""
        p = getattr(module, role, None)
        if p is None or id(p) not in by_id:
            return p, None, None
        name = by_id[id(p)]
        return start[name], delta[name], masks[name]

    def output(module, x, probe):
        if isinstance(module, torch.nn.Embedding):
            ids = stacked_ids(x, copies, rows)
            return _embedding(ids, *parts(module, "weight"), copies), ids
        check_stacked(module, x, copies, rows)
        if is_norm(module):
            return _norm(module, x, parts(module, "weight"), parts(module, "bias"), copies, rows, probe), x
        y = _linear(x.reshape(copies, -1, x.shape[-1]), *parts(module, "weight"), is_conv1d(module))
        y = _add_bias(y, *parts(module, "bias"))
        return y.reshape(*x.shape[:-1], y.shape[-1]), x

    modules = {m for pairs in owners(model, params).values() for m, _ in pairs}
    saved = {n: p.detach().clone() for n, p in params.items()}
    with torch.no_grad():
        for p in params.values():
            p.fill_(float("nan"))
        try:
            with patched_layers(modules, output):
                values = value(tile(batch, rows, copies))
        finally:
            for n, p in params.items():
                p.copy_(saved[n])
    if values.shape != (copies * rows,):
        raise Unsupported(f"the value gave {tuple(values.shape)} for {copies} × {rows} stacked rows")
    if not bool(torch.isfinite(values).all()):
        raise Unsupported("a trainable parameter is read outside its Linear, Conv1D, Embedding or norm layer")
    return values


def _along(mask: Mask, axis: int, ndim: int) -> torch.Tensor:
    """The mask shaped to broadcast over (copies, ..., features) with its varying size on `axis` (or
    constant per copy)."""
    _, m = mask
    shape = [m.shape[0]] + [1] * (ndim - 1)
    if m.dim() == 2:
        shape[axis] = m.shape[1]
    return m.view(shape)


def _linear(x: torch.Tensor, w0, dw, mask: Mask | None, conv1d: bool) -> torch.Tensor:
    """(copies, positions, in) -> (copies, positions, out): x W_kᵀ (Conv1D: x W_k) with W_k = W0 + M_k ⊙ ΔW."""
    if dw is None:
        return x @ w0 if conv1d else x @ w0.T
    dim, m = mask
    if dim is None:  # the whole tensor moves or not: the coalitions with it and those without, one matmul each
        return _by_membership(x, m.bool(), w0, w0 + dw, conv1d)
    y = x @ w0 if conv1d else x @ w0.T
    d = dw if conv1d else dw.T  # (in, out)
    if dim == (0 if conv1d else 1):  # a mask over input features
        return y + (x * _along(mask, 2, 3)) @ d
    return y + (x @ d) * _along(mask, 2, 3)


def _by_membership(x: torch.Tensor, on: torch.Tensor, w0: torch.Tensor, w1: torch.Tensor, conv1d: bool):
    """x_k W1ᵀ for the coalitions `on`, x_k W0ᵀ for the others: the plain layer's work, split in two."""

    def times(rows, w):
        return rows @ w if conv1d else rows @ w.T

    if bool(on.all()):
        return times(x, w1)
    if not bool(on.any()):
        return times(x, w0)
    y = x.new_empty(*x.shape[:-1], w0.shape[1] if conv1d else w0.shape[0])
    y[on] = times(x[on], w1)
    y[~on] = times(x[~on], w0)
    return y


def _add_bias(y: torch.Tensor, b0, db, mask: Mask | None) -> torch.Tensor:
    if b0 is None:
        return y
    if db is None:
        return y + b0
    return y + b0 + db * _along(mask, 2, 3)


def _embedding(ids: torch.Tensor, e0, de, mask: Mask | None, copies: int) -> torch.Tensor:
    """Each copy's lookup in E0 + M_k ⊙ ΔE: two shared lookups, the second scaled by the copy's mask (over
    the table's rows: looked up with the ids; over its columns; or one number)."""
    y = torch.nn.functional.embedding(ids, e0)
    if de is None:
        return y
    moved = torch.nn.functional.embedding(ids, de)
    dim, m = mask
    by_copy = moved.reshape(copies, -1, moved.shape[-1])
    if dim == 0:  # rows of the table: each id's own mask value
        scale = m.gather(1, ids.reshape(copies, -1)).unsqueeze(-1)
    else:
        scale = _along(mask, 2, 3)
    return y + (by_copy * scale).reshape(moved.shape)


def _norm(module, x, weight, bias, copies: int, rows: int, probe) -> torch.Tensor:
    """A norm layer y = base + w_k ⊙ n(x) + b_k, its few weights formed per copy."""

    def per_copy(p0, dp, mask):
        if p0 is None:
            return None
        if dp is None:
            return p0.unsqueeze(0)
        return p0 + dp * _along(mask, (mask[0] or 0) + 1, dp.dim() + 1)

    return norm_per_copy(module, x, per_copy(*weight), per_copy(*bias), copies, rows, probe)[0]
