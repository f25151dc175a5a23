"""`estimate`: the one entry point; checks arguments, wraps the game, dispatches to a method.

The method table is assembled here from each method module's declaration (`METHOD`); nothing below
imports this module, so the estimator package has no import cycle.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
from threadpoolctl import threadpool_limits

from . import complementary, exact, hierarchical, kernel, leverage, monte_carlo, msr, permutation, random_baseline
from . import regression_adjusted as regression_adjusted_module
from .base import Method
from .exact import DEFAULT_MAX_PLAYERS
from .game_batching import BudgetedGame, Game
from .interactions import INTERACTION_INDICES, pairwise_from_evaluations
from .result import ShapleyEstimate

METHODS: dict[str, Method] = {}
for _method in (
    exact.METHOD,
    kernel.METHOD,
    leverage.METHOD,
    regression_adjusted_module.METHOD,
    permutation.METHOD,
    monte_carlo.METHOD,
    msr.METHOD,
    complementary.COMPLEMENTARY,
    complementary.NEYMAN,
    hierarchical.METHOD,
    random_baseline.METHOD,
):
    METHODS[_method.name] = _method
# hierarchical looks its inner method up in this very table.
METHODS["hierarchical"] = replace(
    METHODS["hierarchical"], run=functools.partial(hierarchical.hierarchical, methods=METHODS)
)

# The sampling method `estimate` uses when none is named, chosen by benchmarks/estimators.py.
DEFAULT_METHOD = "regression_adjusted"
# The estimands (`index`), and the methods that give each.
INDICES = ("shapley", "banzhaf")


def methods_for(index: str) -> list[str]:
    """Names of the methods whose estimand includes `index`."""
    return [name for name, spec in METHODS.items() if index in spec.indices]


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{name} must be a {kind} integer, got {value!r}")
    return int(value)


def estimate(
    game: Game,
    n_players: int,
    method: str = DEFAULT_METHOD,
    budget: int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    target_stderr: float | None = None,
    index: str | None = None,
    interactions: str | None = None,
    **method_options,
) -> ShapleyEstimate:
    """Shapley (or Banzhaf, `index`) values of `game` over `n_players` with at most `budget` distinct coalition evaluations.

    Args:
        game: bool coalitions (k, n) -> float64 values (k,) (the `Game` protocol).
        n_players: n.
        method: a name in METHODS.
        budget: distinct coalitions, empty and full included; None means "all 2^n" and is only
            accepted by `exact` (and `random`, which needs 2).
        seed: the run's seed; same arguments and seed give bit-identical results.
        batch_size: the most rows per game call; each coalition is evaluated once.
        target_stderr: for methods that sample in rounds (`METHODS[m].rounds`), stop once every
            player's standard error is at most this, or the budget is spent.
        index: the estimand, 'shapley' or 'banzhaf'; the method must target it (`METHODS[m].indices`).
            None: the method's own (its first index: shapley, banzhaf for mc and msr).
        interactions: a pairwise interaction index ('k-SII', 'FSII', 'STII'), estimated from the very
            coalitions the method evaluated (interactions.pairwise_from_evaluations; no extra evaluations).
        **method_options: the method's options (`METHODS[m].options`).
    Returns:
        A ShapleyEstimate; `details` records what the method chose, rounds run, and budget left unspent
        with the reason.
    Raises:
        ValueError naming the bad argument (unknown method or option, budget too small, exact over
        max_players, target_stderr for a method without rounds).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(sorted(METHODS))}")
    spec = METHODS[method]
    index = spec.indices[0] if index is None else index
    if index not in INDICES:
        raise ValueError(f"unknown index {index!r}; valid indices: {', '.join(INDICES)}")
    if index not in spec.indices:
        raise ValueError(
            f"method {method!r} estimates {' / '.join(spec.indices)} values, not {index}; "
            f"methods for {index}: {', '.join(methods_for(index))}"
        )
    if interactions is not None and interactions not in INTERACTION_INDICES:
        raise ValueError(f"unknown interaction index {interactions!r}; valid: {', '.join(INTERACTION_INDICES)}")
    n = _check_int("n_players", n_players, 1)
    unknown = sorted(set(method_options) - set(spec.options))
    if unknown:
        valid = ", ".join(spec.options) or "none"
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for method {method!r}; valid options: {valid}")
    batch_size = _check_int("batch_size", batch_size, 1)
    seed = _check_int("seed", seed, 0)
    if target_stderr is not None:
        if not spec.rounds:
            valid = ", ".join(m for m, s in METHODS.items() if s.rounds)
            raise ValueError(
                f"target_stderr is not supported by method {method!r}; methods that sample in rounds: {valid}"
            )
        if isinstance(target_stderr, bool) or not isinstance(target_stderr, (int, float)) or not target_stderr > 0:
            raise ValueError(f"target_stderr must be a positive number, got {target_stderr!r}")
        target_stderr = float(target_stderr)
    if budget is None:
        if method not in ("exact", "random"):
            raise ValueError(f"budget is required for method {method!r} (distinct coalitions, empty and full included)")
        budget = 2 if method == "random" else 2**n
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise ValueError(f"budget must be an integer count of coalitions, got {budget!r}")
    asked = int(budget)
    budget = int(min(budget, 2**n)) if n < 63 else int(budget)
    # exact's own max_players check speaks before its budget minimum, which would be astronomical.
    if method == "exact" and n > method_options.get("max_players", DEFAULT_MAX_PLAYERS):
        spec.run(None, n, None, **method_options)
    need = spec.min_budget(n)
    if budget < need:
        raise ValueError(
            f"budget={budget} is below the minimum of method {method!r} for {n} players: {need} distinct coalitions"
            + (" (2^n: exact evaluates every coalition; pass budget=None)" if method == "exact" else "")
        )

    budgeted = BudgetedGame(game, n, budget, batch_size)
    rng = np.random.default_rng(seed)
    full_and_empty = np.array([np.zeros(n, bool), np.ones(n, bool)])
    v_empty, v_full = budgeted(full_and_empty)
    if n == 1:  # one player takes the whole difference under every method
        values, stderr, details = np.array([v_full - v_empty]), np.zeros(1), {}
    else:
        kwargs = dict(method_options)
        if spec.rounds:
            kwargs["target_stderr"] = target_stderr
        if spec.takes_index:
            kwargs["index"] = index
        # One BLAS thread: the methods' matrices are small, and threads cost twice the CPU for no
        # gain in wall time (regression_adjusted, n = 64, 16n, 2 cores), worse on shared cores.
        with threadpool_limits(limits=1, user_api="blas"):
            values, stderr, details = spec.run(budgeted, n, rng, **kwargs)
    stderr = None if stderr is None else np.asarray(stderr, dtype=np.float64)
    details = {**details, "budget": budget}
    matrix = pair_stderr = None
    if interactions is not None:
        matrix, pair_stderr, found = pairwise_from_evaluations(*budgeted.evaluated(), n, interactions, rng)
        details |= {**found, "interactions": interactions}
        # exactly symmetric: products like Z'(Z W) are symmetric only to rounding, which BLAS's blocking can
        # break (a whole-matrix side file once read 1e-21 apart across the diagonal)
        matrix = None if matrix is None else (matrix + matrix.T) / 2
        pair_stderr = None if pair_stderr is None else (pair_stderr + pair_stderr.T) / 2
    if asked > budget:
        details["budget_capped"] = f"budget {asked} is more than the 2^{n} = {budget} coalitions there are"
    if target_stderr is not None:
        details["target_stderr"] = target_stderr
        details["target_reached"] = bool(stderr is not None and stderr.max() <= target_stderr)
    unspent = budget - budgeted.n_evals
    reason = details.pop("unspent_reason", None)
    if unspent > 0:
        details["unspent"] = unspent
        if target_stderr is not None and details["target_reached"]:
            reason = "target_stderr reached"
        details["unspent_reason"] = reason or "the method needed no more"
    if stderr is not None:
        details["max_stderr"] = float(stderr.max())
    return ShapleyEstimate(
        values=np.asarray(values, dtype=np.float64),
        stderr=stderr,
        v_empty=float(v_empty),
        v_full=float(v_full),
        n_evals=budgeted.n_evals,
        method=method,
        details=details,
        index=index,
        interactions=matrix,
        interaction_stderr=pair_stderr,
    )
