"""What every estimator returns: raw Shapley (or Banzhaf) values plus the facts needed to audit them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


class MethodOutput(NamedTuple):
    """What a method's `run` hands back to `estimate`: values, per-player standard errors, details."""

    values: np.ndarray
    stderr: np.ndarray | None
    details: dict


@dataclass(frozen=True)
class ShapleyEstimate:
    """Per-player attributions of one explanation.

    `values` are raw (not normalized); `stderr` is None where the method gives no standard error
    (zeros for `exact`); `n_evals` counts distinct coalitions passed to the game, empty and full
    included. `details` is JSON-serialisable: what the method chose and why (e.g. the surrogate
    family), rounds run, the budget left unspent and why.
    """

    values: np.ndarray
    stderr: np.ndarray | None
    v_empty: float
    v_full: float
    n_evals: int
    method: str
    details: dict = field(default_factory=dict)
    # (n, n) pairwise interaction indices (`estimate(interactions=...)`), None when not asked or not available
    interactions: np.ndarray | None = None
    # (n, n) their standard errors (NaN for a pair the method did not estimate), None where it gives none
    interaction_stderr: np.ndarray | None = None
    index: str = "shapley"  # the estimand: 'shapley' or 'banzhaf' (Banzhaf values are not efficient)

    @property
    def efficiency_gap(self) -> float:
        """sum(phi) - (v(full) - v(empty)); zero for methods that enforce efficiency."""
        return float(np.sum(self.values) - (self.v_full - self.v_empty))

    @property
    def max_stderr(self) -> float | None:
        """The largest player's standard error, None where the method gives none."""
        return None if self.stderr is None or self.stderr.size == 0 else float(np.max(self.stderr))
