"""Component ablation by hooks: a fixed model's attention heads, attention sublayers and MLP blocks switched off.

A component is a list of `Site`s, each the output of a module (an attention sublayer's output projection, an
MLP block) or a slice of a module's input (one head's part of the attention output before the output
projection, whose columns are heads). Hooks replace a site, per batch row, by zeros or by its mean over
reference rows, so one forward pass evaluates as many coalitions (which components stay) as the batch has
rows. Nothing is replaced while every component of a row stays: the unhooked model's numbers, bit for bit.

Mean ablation keeps the position: a site's reference at position t is its mean over the reference rows at t
(over the rows long enough; past the longest, its mean over every position of every reference row).

Architectures are recognised by the modules of each numbered layer (`_ARCHITECTURES`); the player names
follow `shapsweep.training.components`: `<layer>.head<h>`, `<layer>.attention`, `<layer>.mlp`, `<layer>`
(`head_and_mlp`: each layer's heads, then its MLP, in one game).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from shapsweep.models.config import ABLATION_COMPONENTS, ABLATIONS

# (architecture, attention output projection, MLP block), relative to a numbered layer
_ARCHITECTURES = (
    ("BERT / RoBERTa", "attention.output.dense", "output.dense"),
    ("DistilBERT", "attention.out_lin", "ffn"),
    ("Llama-like", "self_attn.o_proj", "mlp"),
    ("GPT-2", "attn.c_proj", "mlp"),
)


@dataclass(frozen=True)
class Site:
    """A module's output (`input` False) or input, whole or its last dimension's [start, stop)."""

    module: str
    input: bool = False
    start: int | None = None
    stop: int | None = None


def _layers(model: torch.nn.Module) -> tuple[list[tuple[str, torch.nn.Module]], str, str]:
    """The numbered transformer layers of `model` with the names of their attention projection and MLP."""
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.ModuleList) or len(module) == 0:
            continue
        for _, out_proj, mlp in _ARCHITECTURES:
            if all(_has(layer, out_proj) and _has(layer, mlp) for layer in module):
                return [(f"{name}.{i}", layer) for i, layer in enumerate(module)], out_proj, mlp
    known = ", ".join(a for a, _, _ in _ARCHITECTURES)
    raise ValueError(
        f"shap.options.components: {type(model).__name__} has no transformer layers of a known architecture "
        f"({known}); the ablation game needs one of them"
    )


def _has(module: torch.nn.Module, path: str) -> bool:
    try:
        module.get_submodule(path)
    except AttributeError:
        return False
    return True


def _in_width(module: torch.nn.Module) -> int:
    """Features of the output projection's input: Linear's in_features, GPT-2 Conv1D's (in, out) weight rows."""
    width = getattr(module, "in_features", None)
    return int(width) if width is not None else int(module.weight.shape[0])


def component_sites(model: torch.nn.Module, kind: str) -> dict[str, list[Site]]:
    """Player name -> its sites, layers in order (heads of a layer in order, the attention before the MLP)."""
    if kind not in ABLATION_COMPONENTS:
        raise ValueError(f"shap.options.components: {kind!r} is not one of {', '.join(ABLATION_COMPONENTS)}")
    layers, out_proj, mlp = _layers(model)
    players: dict[str, list[Site]] = {}
    for name, layer in layers:
        attention, block = Site(f"{name}.{out_proj}"), Site(f"{name}.{mlp}")
        if kind in ("head", "head_and_mlp"):
            heads = _head_count(model)
            width = _in_width(layer.get_submodule(out_proj))
            if width % heads:
                raise ValueError(
                    f"shap.options.components 'head': {name}.{out_proj} takes {width} features, not a multiple of "
                    f"{heads} heads; use components 'attention'"
                )
            size = width // heads
            for h in range(heads):
                players[f"{name}.head{h}"] = [Site(attention.module, True, h * size, (h + 1) * size)]
            if kind == "head_and_mlp":
                players[f"{name}.mlp"] = [block]
        elif kind == "attention":
            players[f"{name}.attention"] = [attention]
        elif kind == "mlp":
            players[f"{name}.mlp"] = [block]
        else:
            players[name] = [attention, block]
    return players


def _head_count(model: torch.nn.Module) -> int:
    config = getattr(model, "config", None)
    for key in ("num_attention_heads", "n_head", "n_heads"):
        heads = getattr(config, key, None)
        if heads:
            return int(heads)
    raise ValueError("shap.options.components 'head': the model's config names no num_attention_heads; use 'attention'")


class ReferenceMeans:
    """Each site's per-position mean over the reference rows' forward passes (float64 sums, on the model's device)."""

    def __init__(self):
        self.sums: dict[Site, torch.Tensor] = {}
        self.counts: dict[Site, torch.Tensor] = {}
        self._means: dict[tuple, torch.Tensor] = {}  # (site, positions, dtype, device) -> mean, until the next add

    def add(self, site: Site, value: torch.Tensor) -> None:
        """Add every batch row of `value` (batch, positions, ..., width)."""
        value = value.detach().double()
        total = value.sum(0)
        count = torch.full((value.shape[1],), float(value.shape[0]), dtype=torch.float64, device=value.device)
        old_sum, old_count = self.sums.get(site), self.counts.get(site)
        if old_sum is not None:
            n = max(len(old_count), len(count))
            total = _padded(total, n) + _padded(old_sum.to(total.device), n)
            count = _padded(count, n) + _padded(old_count.to(count.device), n)
        self.sums[site], self.counts[site] = total, count
        self._means.clear()

    def of(self, site: Site, like: torch.Tensor) -> torch.Tensor:
        """The mean for a batch like `like` (batch, positions, ..., width): (positions, ..., width)."""
        if site not in self.sums:
            raise ValueError("mean ablation: no reference row reached this component; give reference rows")
        key = (site, like.shape[1], like.dtype, like.device)
        if key not in self._means:
            total, count = self.sums[site], self.counts[site]
            positions = like.shape[1]
            per_position = _padded(count, positions).clamp(min=1).view(-1, *[1] * (total.dim() - 1))
            mean = _padded(total, positions) / per_position
            if positions > len(count):
                mean[len(count) :] = total.sum(0) / count.sum()  # past every reference row: the overall mean
            self._means[key] = mean.to(device=like.device, dtype=like.dtype)
        return self._means[key]


def _padded(t: torch.Tensor, n: int) -> torch.Tensor:
    if len(t) >= n:
        return t[:n]
    return torch.cat([t, torch.zeros((n - len(t), *t.shape[1:]), dtype=t.dtype, device=t.device)])


class ComponentAblation:
    """Hooks over `model` that ablate `kind` components; `keeping(coalitions)` sets what each batch row keeps."""

    def __init__(self, model: torch.nn.Module, kind: str, ablation: str = "zero"):
        if ablation not in ABLATIONS:
            raise ValueError(f"shap.options.ablation: {ablation!r} is not one of {', '.join(ABLATIONS)}")
        self.model, self.kind, self.ablation = model, kind, ablation
        self.components = component_sites(model, kind)
        self.players = list(self.components)
        self.means = ReferenceMeans() if ablation == "mean" else None
        self._keep: torch.Tensor | None = None  # (batch, players) while `keeping`
        self._capturing = False

    @property
    def n_players(self) -> int:
        return len(self.players)

    @contextmanager
    def hooked(self) -> Iterator[ComponentAblation]:
        """The hooks on the model for the block's duration (a forward pass outside `keeping` is untouched)."""
        by_module: dict[tuple[str, bool], list[tuple[int, Site]]] = {}
        for p, sites in enumerate(self.components.values()):
            for site in sites:
                by_module.setdefault((site.module, site.input), []).append((p, site))
        handles = []
        try:
            for (name, on_input), sites in by_module.items():
                module = self.model.get_submodule(name)
                if on_input:
                    handles.append(module.register_forward_pre_hook(self._input_hook(sites)))
                else:
                    handles.append(module.register_forward_hook(self._output_hook(sites)))
            yield self
        finally:
            for handle in handles:
                handle.remove()

    @contextmanager
    def keeping(self, coalitions: np.ndarray) -> Iterator[None]:
        """Forward passes in the block have one batch row per coalition: row b keeps the players in coalitions[b]."""
        keep = np.asarray(coalitions, dtype=bool)
        if keep.ndim != 2 or keep.shape[1] != self.n_players:
            raise ValueError(f"coalitions of shape {keep.shape} for {self.n_players} components")
        self._keep = torch.from_numpy(keep)
        try:
            yield
        finally:
            self._keep = None

    def record_means(self, forward: Callable[[], object]) -> None:
        """Add the sites' values in the forward passes `forward()` makes to the reference means."""
        if self.means is None:
            raise ValueError("record_means: this ablation is 'zero', it has no reference")
        self._capturing = True
        try:
            with torch.no_grad():
                forward()
        finally:
            self._capturing = False

    def _input_hook(self, sites):
        def hook(module, args):
            replaced = self._replace(args[0], sites)
            return None if replaced is None else (replaced, *args[1:])

        return hook

    def _output_hook(self, sites):
        def hook(module, args, output):
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"ablation: {type(module).__name__} returns {type(output).__name__}, not a tensor")
            return self._replace(output, sites)

        return hook

    def _replace(self, x: torch.Tensor, sites: list[tuple[int, Site]]) -> torch.Tensor | None:
        if self._capturing:
            for _, site in sites:
                self.means.add(site, x[..., site.start : site.stop])
            return None
        if self._keep is None:
            return None
        keep = self._keep.to(x.device)
        if keep.shape[0] != x.shape[0]:
            raise ValueError(f"ablation: a batch of {x.shape[0]} rows for {keep.shape[0]} coalitions")
        if bool(keep[:, [p for p, _ in sites]].all()):
            return None  # nothing ablated here: the exact unhooked numbers
        out = x.clone()
        for p, site in sites:
            part = x[..., site.start : site.stop]
            stays = keep[:, p].view(-1, *[1] * (x.dim() - 1))
            instead = torch.zeros_like(part) if self.means is None else self.means.of(site, part)
            out[..., site.start : site.stop] = torch.where(stays, part, instead)
        return out
