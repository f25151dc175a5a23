"""Parameter groups ("components"): which trainable parameter elements a component score sums over.

`tensor` keeps each parameter tensor; `layer` joins a module's weight and bias; `block` joins everything
under the same numbered block (`...layer.3.*`, `...h.3.*`), the embeddings and the head staying apart;
`head` splits each attention head out of its block: the rows (or columns) of the q/k/v/o projections that
belong to head h become `<block>.head<h>` and the rest of the block stays `<block>`. A component is a list
of `Piece`s, each a whole tensor or a slice along one dimension, so a head inside a fused projection needs
no copy of the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

GROUPINGS = ("tensor", "layer", "block", "head")
_NUMBERED = re.compile(r"^(.*?\.\d+)(\.|$)")
# One module per head (the modulo-addition transformer's `head3_encoder`): the whole tensor is the head's.
_HEAD_MODULE = re.compile(r"^(?:(.*)\.)?head_?(\d+)_[^.]*\.(?:weight|bias)$")
# Projections whose output rows are heads (weight dim 0, bias dim 0): (name pattern, which head count).
_ROWS = (
    (re.compile(r"\.attention\.self\.(query|key|value)\.(weight|bias)$"), "heads"),  # BERT, RoBERTa
    (re.compile(r"\.attention\.(q_lin|k_lin|v_lin)\.(weight|bias)$"), "heads"),  # DistilBERT
    (re.compile(r"\.(self_attn|attn|attention)\.q_proj\.(weight|bias)$"), "heads"),  # Llama, OPT, GPT-J, Qwen
    (re.compile(r"\.(self_attn|attn|attention)\.(k_proj|v_proj)\.(weight|bias)$"), "kv_heads"),
)
# Projections whose input columns are heads (weight dim 1; their bias is the block's).
_COLUMNS = (
    re.compile(r"\.attention\.output\.dense\.weight$"),
    re.compile(r"\.attention\.out_lin\.weight$"),
    re.compile(r"\.(self_attn|attn|attention)\.(o_proj|out_proj|dense)\.weight$"),
)
# GPT-2's Conv1D (in, out) layout: c_attn's columns are [q | k | v], each split by heads; c_proj's rows.
_GPT2_QKV = re.compile(r"\.attn\.c_attn\.(weight|bias)$")
_GPT2_OUT = re.compile(r"\.attn\.c_proj\.weight$")


@dataclass(frozen=True)
class Piece:
    """A parameter's elements: the whole tensor (dim None) or indices [start, stop) along `dim`."""

    name: str
    dim: int | None = None
    start: int = 0
    stop: int = 0

    def of(self, tensor: torch.Tensor, batch_dims: int = 0) -> torch.Tensor:
        """This piece of `tensor` (a view), `batch_dims` leading axes kept."""
        if self.dim is None:
            return tensor
        return tensor.narrow(batch_dims + self.dim, self.start, self.stop - self.start)


def component_of(name: str, grouping: str) -> str:
    """The component of a whole tensor under `tensor`, `layer` or `block` grouping."""
    if grouping == "tensor":
        return name
    if grouping == "layer":
        return name.rsplit(".", 1)[0] if "." in name else name
    if grouping in ("block", "head"):
        numbered = _NUMBERED.match(name)
        if numbered:
            return numbered.group(1)
        return name.rsplit(".", 1)[0] if "." in name else name
    raise ValueError(f"options.components {grouping!r} is not a grouping; use one of {list(GROUPINGS)}")


def group_parameters(names: list[str], grouping: str) -> dict[str, list[str]]:
    """Component -> its whole parameter tensors (`tensor`, `layer`, `block`), in first-appearance order."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(component_of(name, grouping), []).append(name)
    return groups


def head_counts(model: torch.nn.Module) -> tuple[int | None, int | None]:
    """(attention heads, key/value heads) from a transformers config; (None, None) without one."""
    config = getattr(model, "config", None)
    heads = None
    for key in ("num_attention_heads", "n_head", "n_heads", "num_heads"):
        heads = heads or getattr(config, key, None)
    kv = getattr(config, "num_key_value_heads", None) or heads
    return heads, kv


def _split(name: str, dim: int, size: int, count: int | None, label: str) -> list[tuple[int, Piece]]:
    if count is None:
        raise ValueError(
            f"options.components 'head': {name} is an attention projection but the model has no config with "
            "num_attention_heads; use components 'block'"
        )
    if size % count:
        raise ValueError(f"options.components 'head': {name} has {size} {label}, not a multiple of {count} heads")
    width = size // count
    return [(h, Piece(name, dim, h * width, (h + 1) * width)) for h in range(count)]


def _head_pieces(name: str, shape: tuple, heads: int | None, kv: int | None) -> list[tuple[str, Piece]] | None:
    """(component suffix, piece) of an attention tensor split by heads; None for any other tensor."""
    for pattern, which in _ROWS:
        if pattern.search(name):
            count = heads if which == "heads" else kv
            prefix = "kv_head" if which == "kv_heads" and kv != heads else "head"
            return [(f"{prefix}{h}", p) for h, p in _split(name, 0, shape[0], count, "rows")]
    if any(pattern.search(name) for pattern in _COLUMNS) and len(shape) == 2:
        return [(f"head{h}", p) for h, p in _split(name, 1, shape[1], heads, "columns")]
    if _GPT2_OUT.search(name):
        return [(f"head{h}", p) for h, p in _split(name, 0, shape[0], heads, "rows")]
    if _GPT2_QKV.search(name):
        dim, third = len(shape) - 1, shape[-1] // 3
        out = []
        for part in range(3):
            for h, p in _split(name, dim, third, heads, "columns"):
                out.append((f"head{h}", Piece(name, dim, part * third + p.start, part * third + p.stop)))
        return out
    return None


def component_pieces(
    shapes: dict[str, tuple], grouping: str, model: torch.nn.Module | None = None
) -> dict[str, list[Piece]]:
    """Component -> its pieces, components in the order their first element appears in `shapes`.

    For `head`, the head counts come from `model.config` (num_attention_heads, num_key_value_heads: with
    grouped-query attention the key/value heads are their own `kv_head<j>` components).
    """
    if grouping != "head":
        return {c: [Piece(n) for n in names] for c, names in group_parameters(list(shapes), grouping).items()}
    heads, kv = head_counts(model) if model is not None else (None, None)
    groups: dict[str, list[Piece]] = {}
    for name, shape in shapes.items():
        block = component_of(name, "block")
        own = _HEAD_MODULE.match(name)
        if own:
            prefix = f"{own.group(1)}." if own.group(1) else ""
            groups.setdefault(f"{prefix}head{own.group(2)}", []).append(Piece(name))
            continue
        split = _head_pieces(name, tuple(shape), heads, kv)
        if split is None:
            groups.setdefault(block, []).append(Piece(name))
            continue
        for suffix, piece in split:
            groups.setdefault(f"{block}.{suffix}", []).append(piece)
    return groups
