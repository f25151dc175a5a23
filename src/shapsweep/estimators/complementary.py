"""Complementary-contribution sampling (Zhang et al., 2023), as in MLLM-SHAP: `complementary` and `neyman`.

phi_i = (1/n) sum_{s=1..n} E[ v(S) - v(N\\S) | i in S, |S| = s ].  A pair (S, N\\S) with |S| = s gives
one complementary contribution to every member of S in stratum s and its negative to every member of
N\\S in stratum n-s; stratum n is v(N) - v(empty) for everyone. Pairs are distinct (without
replacement). Strata a player has no sample in are skipped, as in MLLM-SHAP.

- `complementary`: pairs spread evenly over sizes. `variant='limited'` first covers every
  (player, size) cell once (each size's first pairs split a random permutation into blocks).
- `neyman`: a pilot share of the budget spread evenly, then the rest allocated across sizes in
  proportion to each size's observed standard deviation of complementary contributions (Neyman).
With every pair evaluated the result is the exact Shapley value. Standard errors: per player, the
stratum means' sampling variances (within-stratum sample variance over count; a stratum with one
sample borrows its size's pooled variance) summed over strata, over n^2; zero once every pair is in.
Reference: Zhang et al., "Efficient sampling approaches to Shapley value approximation", SIGMOD 2023;
MLLM-SHAP (its complementary and Neyman explainers).
"""

from __future__ import annotations

import numpy as np

from .base import Method
from .game_batching import BudgetedGame
from .paired_design import allocate_pairs, draw_distinct_subsets, group_sizes, pairs_in_group
from .result import MethodOutput
from .rounds import interval_scale

VARIANTS = ("standard", "limited")


class _Strata:
    """Running sums of complementary contributions per (player, size)."""

    def __init__(self, n: int):
        self.n = n
        self.total = np.zeros((n, n + 1))
        self.total_sq = np.zeros((n, n + 1))
        self.count = np.zeros((n, n + 1))
        self.by_size: dict[int, list[float]] = {}

    def add(self, halves: np.ndarray, v_half: np.ndarray, v_rest: np.ndarray) -> None:
        for half, a, b in zip(halves, v_half, v_rest):
            s = int(half.sum())
            self.total[half, s] += a - b
            self.total_sq[half, s] += (a - b) ** 2
            self.count[half, s] += 1
            self.total[~half, self.n - s] += b - a
            self.total_sq[~half, self.n - s] += (a - b) ** 2
            self.count[~half, self.n - s] += 1
            self.by_size.setdefault(min(s, self.n - s), []).append(a - b)

    def shapley(self, v_empty: float, v_full: float) -> np.ndarray:
        means = np.divide(self.total, self.count, out=np.zeros_like(self.total), where=self.count > 0)
        means[:, self.n] = v_full - v_empty
        return means[:, 1:].sum(axis=1) / self.n

    def stderr(self) -> np.ndarray:
        n = self.n
        count = self.count[:, 1:n]
        means = np.divide(self.total[:, 1:n], count, out=np.zeros_like(count), where=count > 0)
        var = np.divide(self.total_sq[:, 1:n] - count * means**2, count - 1, out=np.zeros_like(count), where=count > 1)
        # A stratum with one sample: the pooled variance of its size (sizes s and n-s share their pairs).
        pooled = np.array([np.var(self.by_size.get(min(s, n - s), [0.0]), ddof=0) for s in range(1, n)])
        var = np.where(count == 1, pooled[None, :], var)
        # Finite population: a size whose pairs are all drawn leaves no error.
        fpc = 1.0 - self._drawn_fraction()
        se = np.sqrt((np.divide(var, count, out=np.zeros_like(var), where=count > 0) * fpc).sum(axis=1)) / n
        # Degrees of freedom per player: samples beyond one per stratum it has samples in.
        dof = count.sum(axis=1) - (count > 0).sum(axis=1)
        return se * np.array([interval_scale(d) for d in dof])

    def _drawn_fraction(self) -> np.ndarray:
        """Per size s = 1..n-1: the fraction of its complementary pairs drawn."""
        n = self.n
        out = np.zeros(n - 1)
        for s in range(1, n):
            g = min(s, n - s)
            out[s - 1] = min(1.0, len(self.by_size.get(g, [])) / pairs_in_group(n, g))
        return out[None, :]


def _pair_keys(halves: np.ndarray) -> set[bytes]:
    return {k.tobytes() for k in np.packbits(np.vstack([halves, ~halves]), axis=1)}


def _evaluate(game: BudgetedGame, strata: _Strata, halves: np.ndarray) -> None:
    if len(halves):
        v = game(np.vstack([halves, ~halves]))
        strata.add(halves, v[: len(halves)], v[len(halves) :])


def _coverage_halves(n: int, max_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """Pairs that give every player a sample in every size: per size s, blocks of a random permutation."""
    halves = []
    for s in range(1, n // 2 + 1):
        order = rng.permutation(n)
        for start in range(0, n, s):
            block = order[start : start + s]
            if len(block) < s:  # fill the last block with players from the front
                block = np.concatenate([block, order[: s - len(block)]])
            half = np.zeros(n, bool)
            half[block] = True
            halves.append(half)
    unique = {}
    for half in halves:  # drop repeats (and complements of earlier halves at s = n/2)
        key, comp = np.packbits(half).tobytes(), np.packbits(~half).tobytes()
        if key not in unique and comp not in unique:
            unique[key] = half
    return np.array(list(unique.values()), dtype=bool).reshape(-1, n)[:max_pairs]


def _sample(n: int, alloc: np.ndarray, rng: np.random.Generator, taken: set[bytes]) -> np.ndarray:
    halves = []
    for g, k in zip(group_sizes(n), alloc):
        if k > 0:
            s = g[0]
            drawn = draw_distinct_subsets(n, s, int(k), rng, must_contain_first=(2 * s == n), exclude=taken)
            taken |= _pair_keys(drawn)
            halves.append(drawn)
    return np.vstack(halves) if halves else np.zeros((0, n), bool)


def _capacity_left(n: int, taken: set[bytes]) -> np.ndarray:
    used = np.zeros(len(group_sizes(n)), dtype=np.int64)
    for key in taken:  # each pair contributes two keys; count its smaller side
        s = int(np.unpackbits(np.frombuffer(key, np.uint8))[:n].sum())
        if 0 < s <= n // 2:
            used[s - 1] += 1
    used[-1] = used[-1] // 2 if n % 2 == 0 else used[-1]  # s = n/2: both sides have size s
    return np.array([pairs_in_group(n, g[0]) for g in group_sizes(n)]) - used


def complementary(game: BudgetedGame, n: int, rng: np.random.Generator, *, variant: str = "standard"):
    if variant not in VARIANTS:
        raise ValueError(
            f"option variant={variant!r} is not valid for method 'complementary'; valid: {', '.join(VARIANTS)}"
        )
    v_empty, v_full = game(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    strata = _Strata(n)
    taken: set[bytes] = set()
    if variant == "limited":
        cover = _coverage_halves(n, game.remaining // 2, rng)
        taken |= _pair_keys(cover)
        _evaluate(game, strata, cover)
    mass = np.array([len(g) for g in group_sizes(n)], dtype=float)  # every size equally
    alloc = allocate_pairs(_capacity_left(n, taken), mass, game.remaining // 2)
    _evaluate(game, strata, _sample(n, alloc, rng, taken))
    return MethodOutput(strata.shapley(v_empty, v_full), strata.stderr(), _unspent(game))


def _unspent(game: BudgetedGame) -> dict:
    if game.remaining == 1:
        return {"unspent_reason": "coalitions are drawn in complementary pairs; an odd one is left over"}
    return {}


def neyman(
    game: BudgetedGame, n: int, rng: np.random.Generator, *, pilot_fraction: float = 0.3, variant: str = "standard"
):
    if not 0 < pilot_fraction < 1:
        raise ValueError(f"option pilot_fraction must be in (0, 1) for method 'neyman', got {pilot_fraction!r}")
    if variant not in VARIANTS:
        raise ValueError(f"option variant={variant!r} is not valid for method 'neyman'; valid: {', '.join(VARIANTS)}")
    v_empty, v_full = game(np.array([np.zeros(n, bool), np.ones(n, bool)]))
    strata = _Strata(n)
    taken: set[bytes] = set()
    groups = group_sizes(n)
    sizes_per_group = np.array([len(g) for g in groups], dtype=float)
    pilot_pairs = max(int(pilot_fraction * game.remaining) // 2, 2 * len(groups))
    if variant == "limited":
        cover = _coverage_halves(n, min(pilot_pairs, game.remaining // 2), rng)
        taken |= _pair_keys(cover)
        _evaluate(game, strata, cover)
        pilot_pairs -= len(cover)
    pilot_pairs = max(0, min(pilot_pairs, game.remaining // 2))
    alloc = allocate_pairs(_capacity_left(n, taken), sizes_per_group, pilot_pairs)
    _evaluate(game, strata, _sample(n, alloc, rng, taken))
    # Neyman: stratum sample sizes proportional to the stratum's standard deviation (strata weigh equally).
    sd = np.array(
        [
            np.std(strata.by_size.get(g[0], [0.0]), ddof=1) if len(strata.by_size.get(g[0], [])) > 1 else 0.0
            for g in groups
        ]
    )
    mass = sizes_per_group * np.where(sd > 0, sd, sd[sd > 0].min() if np.any(sd > 0) else 1.0)
    alloc = allocate_pairs(_capacity_left(n, taken), mass, game.remaining // 2)
    _evaluate(game, strata, _sample(n, alloc, rng, taken))
    return MethodOutput(strata.shapley(v_empty, v_full), strata.stderr(), _unspent(game))


COMPLEMENTARY = Method.declare(
    "complementary",
    complementary,
    lambda n: min(4, 2**n),
    "MLLM-SHAP complementary pairs by size, standard | limited",
)
NEYMAN = Method.declare(
    "neyman", neyman, lambda n: min(4, 2**n), "MLLM-SHAP complementary with Neyman allocation across sizes"
)
