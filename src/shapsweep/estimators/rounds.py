"""The budget schedule of methods that sample in rounds until a target standard error is reached.

Without a target the whole budget is one round. With one, the first round spends an eighth of the
budget (at least 4n coalitions, enough for a stable standard error), and each later round doubles
what has been spent, so stopping early wastes at most half of what was evaluated.
"""

from __future__ import annotations


def round_budgets(n: int, budget: int, target_stderr: float | None) -> list[int]:
    """Cumulative budgets (distinct coalitions, empty and full included) of each round; the last is `budget`."""
    if target_stderr is None:
        return [budget]
    spent = min(budget, max(4 * n, budget // 8))
    out = [spent]
    while spent < budget:
        spent = min(budget, 2 * spent)
        out.append(spent)
    return out


def reached(stderr, target_stderr: float | None) -> bool:
    """Whether the largest player's standard error is at or under the target."""
    return target_stderr is not None and stderr is not None and float(stderr.max()) <= target_stderr
