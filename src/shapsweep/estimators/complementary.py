"""Complementary-contribution sampling (Zhang et al., 2023), as in MLLM-SHAP: `complementary` and `neyman`.

phi_i = (1/n) sum_{s=1..n} E[ v(S) - v(N\\S) | i in S, |S| = s ].  A pair (S, N\\S) with |S| = s gives
one complementary contribution to every member of S in stratum s and its negative to every member of
N\\S in stratum n-s; stratum n is v(N) - v(empty) for everyone. Pairs are distinct (without
replacement). Strata a player has no sample in are skipped, as in MLLM-SHAP.

- `complementary`: pairs spread evenly over sizes. `variant='limited'` first covers every
  (player, size) cell once (each size's first pairs split a random permutation into blocks).
- `neyman`: a pilot share of the budget spread evenly, then the rest allocated across sizes in
  proportion to each size's observed standard deviation of complementary contributions (Neyman).
With every pair evaluated the result is the exact Shapley value.
"""

from __future__ import annotations

import numpy as np

from .game_batching import BudgetedGame
from .paired_design import allocate_pairs, draw_distinct_subsets, group_sizes, pairs_in_group

VARIANTS = ("standard", "limited")


class _Strata:
    """Running sums of complementary contributions per (player, size)."""

    def __init__(self, n: int):
        self.n = n
        self.total = np.zeros((n, n + 1))
        self.count = np.zeros((n, n + 1))
        self.by_size: dict[int, list[float]] = {}

    def add(self, halves: np.ndarray, v_half: np.ndarray, v_rest: np.ndarray) -> None:
        for half, a, b in zip(halves, v_half, v_rest):
            s = int(half.sum())
            self.total[half, s] += a - b
            self.count[half, s] += 1
            self.total[~half, self.n - s] += b - a
            self.count[~half, self.n - s] += 1
            self.by_size.setdefault(min(s, self.n - s), []).append(a - b)

    def shapley(self, v_empty: float, v_full: float) -> np.ndarray:
        means = np.divide(self.total, self.count, out=np.zeros_like(self.total), where=self.count > 0)
        means[:, self.n] = v_full - v_empty
        return means[:, 1:].sum(axis=1) / self.n


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
    return strata.shapley(v_empty, v_full), None


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
    return strata.shapley(v_empty, v_full), None
