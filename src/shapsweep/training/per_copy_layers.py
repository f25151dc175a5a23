"""Layers that compute each stacked copy of a batch with its own parameters.

The batch is repeated once per copy, copy-major (stacked row k·rows + r is row r under copy k: `tile`), and
while `patched_layers` is open every given `nn.Linear`, transformers `Conv1D`, `nn.Embedding` and norm layer
(`nn.LayerNorm`, a transformers `*RMSNorm`) computes its output by the caller's `output(module, x, probe)`,
which reads copy k's parameters for copy k's rows. The model's own code (attention, activations, masks) runs
once for all copies. The path kernel's quadrature nodes (`layer_grads.node_stacked_row_grads`) and the update
game's coalitions (`masked_updates.coalition_values`) are such copies.

A norm layer is elementwise affine in its weight and bias, y = base + w ⊙ n(x) + b: n(x) and base are read
off the layer's own forward (at w = 1 and w = 0, bias 0; `normal_part`), checked on the real output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import contextmanager

import torch


class Unsupported(Exception):
    """A trainable parameter the value depends on is in no layer this module reads per row."""


def is_norm(module: torch.nn.Module) -> bool:
    return isinstance(module, torch.nn.LayerNorm) or type(module).__name__.endswith("RMSNorm")


def is_conv1d(module: torch.nn.Module) -> bool:
    """transformers' `Conv1D` (GPT-2's layers): a linear layer y = x W + b with W stored (in, out)."""
    return type(module).__name__ == "Conv1D" and getattr(module, "nf", None) is not None


def supported(module: torch.nn.Module) -> bool:
    """A layer whose per-row gradients this module reads: a Linear or Embedding running torch's own forward
    (a subclass that rescales its output, say, would get wrong gradients), a Conv1D, a norm layer."""
    if isinstance(module, torch.nn.Linear):
        return type(module).forward is torch.nn.Linear.forward
    if isinstance(module, torch.nn.Embedding):
        return type(module).forward is torch.nn.Embedding.forward
    return is_norm(module) or is_conv1d(module)


def owners(model: torch.nn.Module, params: dict[str, torch.Tensor]) -> dict[str, list]:
    """Parameter name -> the supported modules that use it ((module, 'weight'|'bias') pairs; tied weights
    have several)."""
    by_id = {id(p): n for n, p in params.items()}
    found: dict[str, list] = {n: [] for n in params}
    for module in model.modules():
        if supported(module):
            for role in ("weight", "bias"):
                p = getattr(module, role, None)
                if p is not None and id(p) in by_id:
                    found[by_id[id(p)]].append((module, role))
    return found


def tile(batch, rows: int, copies: int):
    """The collated batch repeated once per copy, copy-major: stacked row k·rows + r is row r of copy k.
    Per row: a tensor with `rows` rows on its first axis, a list of `rows` items (games, say); a dict's
    values are looked into; anything else is shared by the rows and passed as it is."""
    if isinstance(batch, torch.Tensor):
        if batch.dim() > 0 and batch.shape[0] == rows:
            return batch.repeat(copies, *[1] * (batch.dim() - 1))
        return batch
    if isinstance(batch, dict):
        return {k: tile(v, rows, copies) for k, v in batch.items()}
    if isinstance(batch, list) and len(batch) == rows:
        return batch * copies
    return batch


def stacked_ids(ids: torch.Tensor, copies: int, rows: int) -> torch.Tensor:
    """An embedding's ids with the stacked row axis; ids shared by the rows (one row: default position ids)
    are expanded to them first."""
    if ids.shape[0] == 1 and copies * rows > 1:
        ids = ids.expand(copies * rows, *ids.shape[1:])
    if ids.shape[0] != copies * rows:
        raise Unsupported(f"Embedding ids {tuple(ids.shape)} have no stacked row axis")
    return ids


def check_stacked(module, x: torch.Tensor, copies: int, rows: int) -> None:
    if x.shape[0] != copies * rows:
        raise Unsupported(f"{type(module).__name__} input {tuple(x.shape)} has no stacked row axis")


def normal_part(module, x: torch.Tensor, weight, bias, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n(x), base) of a norm layer y = base + w ⊙ n(x) + b: its own forward at w = 1 and w = 0 (bias 0),
    differentiable in x (the gradient flows on through them to the layers before), checked on the first
    copy's rows at that copy's parameters (`weight`, `bias`) so that a layer of another form is refused.
    Call it through `probe`: it runs the layer's own forward."""
    n, base = norm_parts(module, x)
    with torch.no_grad():
        own = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
        y = torch.func.functional_call(module, own, (x[:rows],))
        check_affine(n[:rows], base[:rows], y, weight, bias, type(module).__name__)
    return n, base


def norm_per_copy(module, x: torch.Tensor, weight, bias, copies: int, rows: int, probe):
    """A norm layer's output y = base + w_k ⊙ n(x) + b_k with copy k's `weight`, `bias` ((copies or 1,
    *shape); bias may be None) for copy k's rows: (y, n(x))."""
    n, base = probe(lambda: normal_part(module, x, weight[0], None if bias is None else bias[0], rows))
    trailing = module.weight.shape
    y = base.reshape(copies, -1, *trailing) + weight.unsqueeze(1) * n.reshape(copies, -1, *trailing)
    if bias is not None:
        y = y + bias.unsqueeze(1)
    return y.reshape(base.shape), n


def norm_parts(module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    zeros = {role: torch.zeros_like(p) for role, p in module.named_parameters(recurse=False)}
    base = torch.func.functional_call(module, zeros, (x,))
    n = torch.func.functional_call(module, {**zeros, "weight": torch.ones_like(zeros["weight"])}, (x,)) - base
    return n, base


def check_affine(n: torch.Tensor, base: torch.Tensor, y: torch.Tensor, weight, bias, kind: str) -> None:
    """y = base + w ⊙ n + b at the parameters y was computed with, or `Unsupported`."""
    rebuilt = base + weight * n + (0 if bias is None else bias)
    if not torch.allclose(rebuilt, y, rtol=1e-4, atol=1e-6 * float(y.abs().max())):
        raise Unsupported(f"{kind} is not elementwise affine in its weight")


@contextmanager
def patched_layers(modules: Iterable[torch.nn.Module], output: Callable, capture: Callable | None = None):
    """While open, each of `modules` computes `output(module, x, probe) -> (y, what to capture as its input)`;
    `probe(fn)` runs fn with the layers' own forwards (a norm layer's parts are read off it), and
    `capture(module, input, y)`, if given, sees each call. Patched on the instance, restored on exit."""
    modules = list(modules)
    for module in modules:
        if isinstance(module, torch.nn.Embedding) and module.max_norm is not None:
            raise Unsupported("an Embedding with max_norm renormalizes its weight in the forward")
    patched: dict = {}
    probing = [False]

    def probe(fn):
        probing[0] = True
        try:
            return fn()
        finally:
            probing[0] = False

    def forward(module, x):
        if probing[0]:
            return patched[module][0](x)
        y, kept = output(module, x, probe)
        if capture is not None:
            capture(module, kept, y)
        return y

    try:
        for module in modules:
            patched[module] = (module.forward, "forward" in module.__dict__)
            module.forward = lambda x, *a, _m=module, **k: forward(_m, x) if not (a or k) else _refuse(_m)
        yield
    finally:
        for module, (own_forward, own) in patched.items():
            if own:
                module.forward = own_forward
            else:
                del module.forward


def _refuse(module):
    raise Unsupported(f"{type(module).__name__} is called with more than its input")
