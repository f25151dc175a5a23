"""Normalized copies of attributions, kept beside the raw values (never replacing them)."""

from __future__ import annotations

import numpy as np

NORMALIZERS = ("identity", "abs_sum", "power_shift", "min_max")


def normalize(values, kind: str = "abs_sum", *, power: float = 2.0) -> np.ndarray:
    """Return a normalized copy of `values`.

    - identity:    phi
    - abs_sum:     phi / sum|phi|                 (all zeros stay zeros)
    - power_shift: (phi - min)^p / sum (phi - min)^p   (uniform if all equal)
    - min_max:     (phi - min) / (max - min), then divided by its sum  (uniform if all equal)
    """
    phi = np.asarray(values, dtype=np.float64)
    if phi.ndim != 1:
        raise ValueError(f"normalize expects a 1-D array of attributions, got shape {phi.shape}")
    if kind not in NORMALIZERS:
        raise ValueError(f"unknown normalizer {kind!r}; valid: {', '.join(NORMALIZERS)}")
    if phi.size == 0 or kind == "identity":
        return phi.copy()
    if kind == "abs_sum":
        total = np.abs(phi).sum()
        return phi / total if total > 0 else np.zeros_like(phi)
    uniform = np.full_like(phi, 1.0 / phi.size)
    shifted = phi - phi.min()
    if kind == "power_shift":
        if not power > 0:
            raise ValueError(f"power_shift needs power > 0, got {power!r}")
        powered = shifted**power
        total = powered.sum()
        return powered / total if total > 0 else uniform
    spread = phi.max() - phi.min()
    if spread <= 0:
        return uniform
    scaled = shifted / spread
    return scaled / scaled.sum()
