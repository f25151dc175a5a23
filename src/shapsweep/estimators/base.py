"""What a method is: its run function, options (declared once, in the run's signature), budget floor.

Every method module declares one `METHOD = Method.declare(run, ...)`; the registry lists them. A run
function has the signature `run(game: BudgetedGame, n, rng, *, <options with defaults>) -> MethodOutput`;
its keyword-only parameters *are* its options table, so config validation and `estimate` read the
same names and defaults. `indices` are the estimands a method targets (`shapley`, `banzhaf`); a method
listing more than one takes `index` (not an option: `estimate` passes it). Methods that sample in
rounds (`rounds=True`) also accept `target_stderr` (not an option: `estimate` passes it) and stop once
the largest player's standard error is under it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Method:
    """A registered estimator: `run(game, n, rng, **options)`, its option defaults and budget floor."""

    name: str
    run: Callable
    min_budget: Callable[[int], int]  # smallest useful budget for n players
    summary: str
    rounds: bool = False  # samples in rounds and honours target_stderr
    defaults: Mapping[str, object] = field(default_factory=dict)
    indices: tuple[str, ...] = ("shapley",)  # the estimands it targets; the first is what it gives by default

    @classmethod
    def declare(
        cls, name: str, run: Callable, min_budget, summary: str, *, rounds: bool = False, indices=("shapley",)
    ) -> Method:
        params = inspect.signature(run).parameters.values()
        defaults = {
            p.name: p.default
            for p in params
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in ("target_stderr", "methods", "index")
        }
        return cls(name, run, min_budget, summary, rounds, MappingProxyType(defaults), tuple(indices))

    @property
    def takes_index(self) -> bool:
        """Whether `run` is told the estimand (methods that compute more than one, e.g. `exact`)."""
        return "index" in inspect.signature(self.run).parameters

    @property
    def options(self) -> list[str]:
        """Names of the options a user may set for this method (config validation checks against it)."""
        return list(self.defaults)
