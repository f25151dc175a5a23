"""Rounds and standard errors: the budget schedule of methods that sample until a target stderr.

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


def interval_scale(dof: float) -> float:
    """Factor that makes +-1.96 standard errors a 95% interval with `dof` degrees of freedom (Student t).

    Standard errors from few samples are themselves noisy; scaling them by t_{0.975, dof} / 1.96 keeps
    the usual reading (value +- 1.96 stderr) honest at small budgets and fades to 1 at large ones.
    """
    from scipy.stats import t

    return float(t.ppf(0.975, max(dof, 1.0)) / 1.959963984540054)
