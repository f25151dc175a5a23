"""The update game: parameter groups as Shapley players between two recorded trace steps.

v(S) = f(x; θ_{s0} + Σ_{c∈S} Δθ_c) with Δθ = θ_{s1} − θ_{s0} (both recorded): the value with only S's
parameter updates applied. It is an ordinary `Game` for the existing estimators (exact up to ~20 groups).
On one small step its Shapley values match the path kernel's component scores (integrated gradients along
a straight line are the Aumann-Shapley values, which the discrete ones approach as the step gets linear);
over many steps they differ, and the difference is the training path's dependence.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from shapsweep.training.components import component_pieces
from shapsweep.training.trace import params_after, read_header, read_step


class UpdateGame:
    """A `Game` over one test row: players are the components of `grouping`, in trace parameter order."""

    def __init__(
        self,
        trace_root,
        model: torch.nn.Module,
        value: Callable[[torch.nn.Module, list], torch.Tensor],
        row,
        *,
        steps: tuple[int, int],
        components: str = "tensor",
    ):
        s0, s1 = steps
        names = [p["name"] for p in read_header(trace_root)["params"]]
        named = dict(model.named_parameters())
        self.params = {n: named[n] for n in names}
        self.groups = component_pieces({n: tuple(p.shape) for n, p in self.params.items()}, components, model)
        self.players = list(self.groups)
        self.model, self.value, self.row = model.eval(), value, row
        self.start = read_step(trace_root, s0).params
        end = params_after(trace_root, s1 - 1)
        self.delta = {n: end[n] - self.start[n] for n in names}

    @property
    def n_players(self) -> int:
        return len(self.players)

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        out = np.empty(len(coalitions))
        with torch.no_grad():
            for k, coalition in enumerate(np.asarray(coalitions, dtype=bool)):
                for c, member in zip(self.players, coalition, strict=True):
                    for piece in self.groups[c]:
                        start = piece.of(self.start[piece.name])
                        target = start + piece.of(self.delta[piece.name]) if member else start
                        piece.of(self.params[piece.name]).copy_(target)
                out[k] = float(self.value(self.model, [self.row])[0])
        return out
