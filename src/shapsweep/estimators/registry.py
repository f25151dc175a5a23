"""`estimate`: the one entry point; checks arguments, wraps the game, dispatches to a method."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .complementary import complementary, neyman
from .exact import exact
from .game_batching import BudgetedGame, Game
from .hierarchical import hierarchical
from .kernel import kernel
from .leverage import leverage
from .monte_carlo import mc
from .permutation import permutation
from .random_baseline import random_baseline
from .regression_adjusted import regression_adjusted
from .result import ShapleyEstimate


@dataclass(frozen=True)
class Method:
    run: Callable
    min_budget: Callable[[int], int]  # smallest useful budget for n players
    summary: str

    @property
    def options(self) -> list[str]:
        params = inspect.signature(self.run).parameters.values()
        return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


METHODS: dict[str, Method] = {
    "exact": Method(exact, lambda n: 2**n, "all 2^n coalitions (n <= max_players)"),
    "kernel": Method(kernel, lambda n: min(4, 2**n), "KernelSHAP, paired, without replacement, efficiency exact"),
    "leverage": Method(leverage, lambda n: min(4, 2**n), "Leverage SHAP, paired, without replacement"),
    "regression_adjusted": Method(
        regression_adjusted,
        lambda n: min(4, 2**n),
        "paired KernelSHAP on the residual of a degree-3 Fourier (ridge or Lasso) or sparse Moebius surrogate, chosen by held-out error; permutations below 5n",
    ),
    "permutation": Method(permutation, lambda n: 2 * n, "antithetic permutation sampling with standard errors"),
    "mc": Method(mc, lambda n: 2, "MLLM-SHAP Monte Carlo (Bernoulli(1/2); targets Banzhaf), standard | limited"),
    "complementary": Method(
        complementary, lambda n: min(4, 2**n), "MLLM-SHAP complementary pairs by size, standard | limited"
    ),
    "neyman": Method(neyman, lambda n: min(4, 2**n), "MLLM-SHAP complementary with Neyman allocation across sizes"),
    "hierarchical": Method(
        hierarchical, lambda n: min(16, 2**n), "MLLM-SHAP hierarchical groups, inner estimator per level"
    ),
    "random": Method(random_baseline, lambda n: 2, "seeded random baseline (not an estimator), floor of metrics"),
}


# The sampling method `estimate` uses when none is named, chosen by benchmarks/estimators.py.
DEFAULT_METHOD = "regression_adjusted"


def estimate(
    game: Game,
    n_players: int,
    method: str = DEFAULT_METHOD,
    budget: int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    **method_options,
) -> ShapleyEstimate:
    """Shapley values of `game` over `n_players` with at most `budget` distinct coalition evaluations.

    `budget` counts distinct coalitions, empty and full included; None means "all 2^n" and is only
    accepted by `exact` (and `random`, which needs 2). Each coalition is evaluated once, in game calls of at
    most `batch_size` rows. Same arguments and seed give bit-identical results.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(sorted(METHODS))}")
    spec = METHODS[method]
    if isinstance(n_players, bool) or not isinstance(n_players, (int, np.integer)) or n_players < 1:
        raise ValueError(f"n_players must be a positive integer, got {n_players!r}")
    n = int(n_players)
    unknown = sorted(set(method_options) - set(spec.options))
    if unknown:
        valid = ", ".join(spec.options) or "none"
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for method {method!r}; valid options: {valid}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if budget is None:
        if method not in ("exact", "random"):
            raise ValueError(f"budget is required for method {method!r} (distinct coalitions, empty and full included)")
        budget = 2 if method == "random" else 2**n
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise ValueError(f"budget must be an integer count of coalitions, got {budget!r}")
    budget = int(min(budget, 2**n)) if n < 63 else int(budget)
    # exact's own max_players check speaks before its budget minimum, which would be astronomical.
    if method == "exact" and n > method_options.get("max_players", 20):
        spec.run(None, n, None, **method_options)
    need = spec.min_budget(n)
    if budget < need:
        raise ValueError(
            f"budget={budget} is below the minimum of method {method!r} for {n} players: {need} distinct coalitions"
            + (" (2^n: exact evaluates every coalition; pass budget=None)" if method == "exact" else "")
        )

    budgeted = BudgetedGame(game, n, budget, int(batch_size))
    rng = np.random.default_rng(int(seed))
    full_and_empty = np.array([np.zeros(n, bool), np.ones(n, bool)])
    v_empty, v_full = budgeted(full_and_empty)
    if n == 1:  # one player takes the whole difference under every method
        values, stderr = np.array([v_full - v_empty]), None
    else:
        values, stderr = spec.run(budgeted, n, rng, **method_options)
    return ShapleyEstimate(
        values=np.asarray(values, dtype=np.float64),
        stderr=None if stderr is None else np.asarray(stderr, dtype=np.float64),
        v_empty=float(v_empty),
        v_full=float(v_full),
        n_evals=budgeted.n_evals,
        method=method,
    )
