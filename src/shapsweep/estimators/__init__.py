"""Shapley estimators over games (callables mapping a (k, n) bool coalition matrix to k floats).

from shapsweep.estimators import estimate, normalize, resolve_budget, METHODS
"""

from .budget import BUDGET_KNOBS, resolve_budget
from .normalizers import NORMALIZERS, normalize
from .registry import DEFAULT_METHOD, METHODS, Method, estimate
from .result import ShapleyEstimate

__all__ = [
    "BUDGET_KNOBS",
    "DEFAULT_METHOD",
    "METHODS",
    "NORMALIZERS",
    "Method",
    "ShapleyEstimate",
    "estimate",
    "normalize",
    "resolve_budget",
]
