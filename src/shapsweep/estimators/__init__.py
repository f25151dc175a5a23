"""Shapley estimators over games (callables mapping a (k, n) bool coalition matrix to k floats).

from shapsweep.estimators import estimate, normalize, resolve_budget, METHODS, BUDGET_KNOBS
"""

from .base import Method
from .budget import BUDGET_KNOBS, resolve_budget
from .game_batching import Game
from .interactions import INTERACTION_INDICES, top_pairs
from .normalizers import NORMALIZERS, normalize
from .registry import DEFAULT_METHOD, INDICES, METHODS, estimate, methods_for
from .result import ShapleyEstimate

__all__ = [
    "BUDGET_KNOBS",
    "DEFAULT_METHOD",
    "INDICES",
    "INTERACTION_INDICES",
    "METHODS",
    "NORMALIZERS",
    "Game",
    "Method",
    "ShapleyEstimate",
    "estimate",
    "methods_for",
    "normalize",
    "resolve_budget",
    "top_pairs",
]
