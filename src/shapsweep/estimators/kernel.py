"""`kernel`: KernelSHAP with paired sampling without replacement, Shapley-kernel size allocation.

What: the Shapley values as the solution of a weighted least-squares problem over coalitions,
constrained to efficiency, estimated from a sample.
Idea: coalitions are drawn in complementary pairs (S, N\\S), sizes allotted by the Shapley kernel's
mass, and rows weighted by kernel weight over sampling fraction; efficiency is exact. Standard errors
are a sandwich estimate over the sampled pairs (`paired_design.constrained_wls_stderr`).
Reference: Lundberg & Lee, "A unified approach to interpreting model predictions", NeurIPS 2017;
Covert & Lee, "Improving KernelSHAP", AISTATS 2021 (pairing).
"""

from __future__ import annotations

import numpy as np

from .base import Method
from .game_batching import BudgetedGame
from .paired_design import PairedSampler, constrained_wls_stderr
from .result import MethodOutput
from .rounds import reached, round_budgets


def paired_regression(
    game: BudgetedGame, n: int, rng: np.random.Generator, mass: str, target_stderr: float | None
) -> MethodOutput:
    """Paired sample by `mass`, constrained WLS, sandwich standard errors; in rounds when a target is set.

    Args:
        game: the budgeted game (empty and full already evaluated).
        n: players.
        rng: the run's generator.
        mass: size allocation, 'kernel' (KernelSHAP) or 'leverage' (Leverage SHAP).
        target_stderr: stop once every player's standard error is at most this (None: spend the budget).
    Returns:
        values, standard errors and details (rounds run).
    """
    v_empty, v_full = game(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    sampler = PairedSampler(n, rng, mass)
    rounds = 0
    for total in round_budgets(n, game.budget, target_stderr):
        sampler.grow(total - 2)
        sample = sampler.sample()
        y = game(sample.coalitions)
        phi, stderr = constrained_wls_stderr(sample, y, v_empty, v_full)
        rounds += 1
        if reached(stderr, target_stderr):
            break
    details = {"rounds": rounds}
    if (game.budget - 2) % 2 and not sample.complete:
        details["unspent_reason"] = "coalitions are drawn in complementary pairs; an odd one is left over"
    return MethodOutput(phi, stderr, details)


def kernel(game: BudgetedGame, n: int, rng: np.random.Generator, *, target_stderr: float | None = None):
    return paired_regression(game, n, rng, "kernel", target_stderr)


METHOD = Method.declare(
    "kernel",
    kernel,
    lambda n: min(4, 2**n),
    "KernelSHAP, paired, without replacement, efficiency exact, sandwich standard errors",
    rounds=True,
)
