"""The update game: parameter groups as Shapley players between two recorded trace steps.

v(S) = f(x; θ_{s0} + Σ_{c∈S} Δθ_c) with Δθ = θ_{s1} − θ_{s0} (both recorded): the value with only S's
parameter updates applied. It is an ordinary `Game` for the existing estimators (exact up to ~20 groups).
On one small step its Shapley values match the path kernel's component scores (integrated gradients along
a straight line are the Aumann-Shapley values, which the discrete ones approach as the step gets linear);
over many steps they differ, and the difference is the training path's dependence.

With `collate` (a model of Linear, Conv1D, Embedding and norm layers, as the path kernel's layer hooks
read), `batch_size` coalitions go through ONE forward: the row repeated once per coalition, each layer
computing with its coalition's parameters (`masked_updates`: two matmuls a layer shared by the coalitions,
no copy of the parameters). Otherwise, or where the model has a parameter those layers do not hold, one
forward a coalition with the parameters written in place.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from shapsweep.training.components import component_pieces
from shapsweep.training.masked_updates import coalition_masks, coalition_values
from shapsweep.training.per_copy_layers import Unsupported
from shapsweep.training.trace import params_after, read_header, read_step


class UpdateWindow:
    """What every row's update game over one trace window shares, read once: the model's traced parameters,
    their components (`grouping`) in trace parameter order, θ_{s0} and Δθ = θ_{s1} − θ_{s0}.

    `stacked` is whether coalitions go through one forward in batches; it goes off for good (for every row
    after) once the model refuses it (a parameter outside the layers `masked_updates` reads).
    """

    def __init__(self, trace_root, model: torch.nn.Module, *, steps: tuple[int, int], components: str = "tensor"):
        s0, s1 = steps
        names = [p["name"] for p in read_header(trace_root)["params"]]
        named = dict(model.named_parameters())
        self.model = model.eval()
        self.params = {n: named[n] for n in names}
        self.groups = component_pieces({n: tuple(p.shape) for n, p in self.params.items()}, components, model)
        start, end = read_step(trace_root, s0).params, params_after(trace_root, s1 - 1)
        # in the model's dtype and on its device, once: θ_{s0} + Δθ is then θ_{s1} to the last bit
        self.start = {n: start[n].to(p.device, p.dtype) for n, p in self.params.items()}
        self.delta = {n: end[n].to(p.device, p.dtype) - self.start[n] for n, p in self.params.items()}
        self.stacked = True


class UpdateGame:
    """A `Game` over one test row: players are the window's components.

    `value(model, rows)` gives one value per row; with `collate`, it gets `collate(rows)` instead of the
    rows (as the path kernel's `value` does), and coalitions are evaluated `batch_size` per forward.
    """

    def __init__(
        self,
        window: UpdateWindow,
        value: Callable[[torch.nn.Module, object], torch.Tensor],
        row,
        *,
        collate: Callable[[list], object] | None = None,
        batch_size: int = 64,
    ):
        self.window, self.value, self.row = window, value, row
        self.players = list(window.groups)
        self.collate, self.batch_size = collate, batch_size
        self.forward_passes = 0

    @property
    def stacked(self) -> bool:
        """Whether this game's coalitions go through one forward in batches."""
        return self.collate is not None and self.window.stacked

    @property
    def n_players(self) -> int:
        return len(self.players)

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        coalitions = np.asarray(coalitions, dtype=bool)
        if self.stacked:
            try:
                return self._stacked(coalitions)
            except Unsupported:
                self.window.stacked = False  # a parameter outside the layers it reads: one coalition at a time
        return self._one_by_one(coalitions)

    def _stacked(self, coalitions: np.ndarray) -> np.ndarray:
        w, batch = self.window, self.collate([self.row])
        out = []
        for begin in range(0, len(coalitions), self.batch_size):
            masks = coalition_masks(w.groups, coalitions[begin : begin + self.batch_size], w.delta)
            values = coalition_values(
                w.model, w.params, lambda b: self.value(w.model, b), batch, w.start, w.delta, masks
            )
            self.forward_passes += 1
            out.append(values.detach().cpu().numpy())
        return np.concatenate(out) if out else np.empty(0)

    def _one_by_one(self, coalitions: np.ndarray) -> np.ndarray:
        """One forward a coalition, its parameters written into the model; the model's own are put back after
        (the next row's game is built from them: a classifier's target class, a causal LM's response)."""
        w = self.window
        rows = [self.row] if self.collate is None else self.collate([self.row])
        out = np.empty(len(coalitions))
        saved = {n: p.detach().clone() for n, p in w.params.items()}
        with torch.no_grad():
            try:
                for k, coalition in enumerate(coalitions):
                    for c, member in zip(self.players, coalition, strict=True):
                        for piece in w.groups[c]:
                            start = piece.of(w.start[piece.name])
                            target = start + piece.of(w.delta[piece.name]) if member else start
                            piece.of(w.params[piece.name]).copy_(target)
                    out[k] = float(self.value(w.model, rows)[0])
                    self.forward_passes += 1
            finally:
                for n, p in w.params.items():
                    p.copy_(saved[n])
        return out
