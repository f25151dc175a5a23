"""`hierarchical`: MLLM-SHAP-style coarse-to-fine explanation for long inputs.

Players (in input order) are split into `groups` contiguous groups; the group game (a coalition of
groups = the union of their players) is explained with an `inner` method. Each group with more than
one player is then explained on its own game, the other players kept present, with a share of the
remaining budget proportional to the group's |phi|, and its players' values are shifted evenly so
they add up to the group's value (efficiency holds at every level). Groups larger than `groups`
players recurse. An approximation: it is not the Shapley value of the original game in general,
and is exact for additive games; it reports no standard error (its bias is not a sampling error).
The registry hands it the method table (`methods`) to look its inner method up, so this module does
not import the registry.
Reference: MLLM-SHAP (its hierarchical explainer).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .base import Method
from .game_batching import BudgetedGame
from .result import MethodOutput


class _SubGame:
    """The game over `members` of the full game, averaged over two contexts: the `present` players
    all in, and all out (the midpoint keeps interactions with the rest of the input half-counted)."""

    def __init__(self, game: BudgetedGame, n: int, members: list[np.ndarray], present: np.ndarray):
        self.game, self.n, self.members, self.present = game, n, members, present

    def __call__(self, z: np.ndarray) -> np.ndarray:
        bare = np.zeros((len(z), self.n), bool)
        for j, players in enumerate(self.members):
            bare[:, players] = z[:, j : j + 1]
        if not self.present.any():
            return self.game(bare)
        return 0.5 * (self.game(bare) + self.game(bare | self.present))


def _inner_budget(k: int, share: int) -> int:
    return int(min(2**k, max(share, 0)))


def _explain(game, n, players, present, budget, rng, groups, inner, total, methods):
    if len(players) == 1:
        return {int(players[0]): total}
    k = min(groups, len(players))
    members = [np.asarray(chunk) for chunk in np.array_split(players, k)]
    sub = _SubGame(game, n, members, present)
    cost = 2 if present.any() else 1  # full-game evaluations per coalition of this level's game
    own = min(budget, game.remaining) // 3 if any(len(m) > 1 for m in members) else min(budget, game.remaining)
    k_budget = _inner_budget(k, own // cost)
    method = "exact" if k_budget >= 2**k else inner
    if k_budget < methods[method].min_budget(k):
        method, k_budget = "exact", 2**k  # tiny level: exact is cheaper than any minimum
    if k_budget * cost > game.remaining:  # not even that is left: share the parent's value evenly
        return {int(p): (total or 0.0) / len(players) for p in players}
    child = BudgetedGame(sub, k, k_budget, game.batch_size)
    phi_groups = methods[method].run(child, k, rng).values
    if total is not None:  # shift so the level adds up to the parent's value
        phi_groups = phi_groups + (total - phi_groups.sum()) / k
    left = game.remaining
    weights = np.array([abs(p) if len(m) > 1 else 0.0 for p, m in zip(phi_groups, members)])
    shares = (weights / weights.sum() * left).astype(int) if weights.sum() > 0 else np.full(k, left // k)
    values: dict[int, float] = {}
    for j, m in enumerate(members):
        others = np.ones(n, bool)  # the rest of the input stays present while one group is opened
        others[m] = False
        share = min(int(shares[j]), game.remaining)
        if len(m) > 1 and share >= 4:
            values.update(_explain(game, n, m, others, share, rng, groups, inner, float(phi_groups[j]), methods))
        else:  # no budget to look inside: share the group's value evenly
            values.update({int(p): float(phi_groups[j]) / len(m) for p in m})
    return values


def hierarchical(
    game: BudgetedGame,
    n: int,
    rng: np.random.Generator,
    *,
    groups: int = 4,
    inner: str = "kernel",
    methods: Mapping[str, Method],
):
    if not isinstance(groups, int) or groups < 2:
        raise ValueError(f"option groups must be an integer >= 2 for method 'hierarchical', got {groups!r}")
    if inner not in methods or inner in ("hierarchical", "random"):
        valid = ", ".join(m for m in methods if m not in ("hierarchical", "random"))
        raise ValueError(f"option inner={inner!r} is not valid for method 'hierarchical'; valid: {valid}")
    _v_empty, _v_full = game(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    values = _explain(game, n, np.arange(n), np.zeros(n, bool), game.remaining + 2, rng, groups, inner, None, methods)
    phi = np.array([values[i] for i in range(n)])
    details = {"stderr": "none: a coarse-to-fine approximation, its error is bias, not sampling"}
    if game.remaining > 0:
        details["unspent_reason"] = "groups are opened only as far as their levels need"
    return MethodOutput(phi, None, details)


METHOD = Method.declare(
    "hierarchical",
    hierarchical,
    lambda n: min(16, 2**n),
    "MLLM-SHAP hierarchical groups, inner estimator per level",
)
