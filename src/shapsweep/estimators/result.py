"""What every estimator returns: raw Shapley values plus the facts needed to audit them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ShapleyEstimate:
    """Per-player attributions of one explanation.

    `values` are raw (not normalized); `stderr` is None where the method gives no standard error;
    `n_evals` counts distinct coalitions passed to the game, empty and full included.
    """

    values: np.ndarray
    stderr: np.ndarray | None
    v_empty: float
    v_full: float
    n_evals: int
    method: str

    @property
    def efficiency_gap(self) -> float:
        """sum(phi) - (v(full) - v(empty)); zero for methods that enforce efficiency."""
        return float(np.sum(self.values) - (self.v_full - self.v_empty))
