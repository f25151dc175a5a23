"""Paired, size-stratified sampling of coalitions without replacement, shared by KernelSHAP-style methods.

Coalitions come in complementary pairs (S, N\\S). Sizes are grouped as {s, n-s}; the budget in pairs
is spread over the groups in proportion to a per-group mass (KernelSHAP: the Shapley kernel's mass;
Leverage SHAP: equal mass per size, which are the leverage scores of the kernel regression), capped at
the number of pairs a group has. A group whose cap is reached is enumerated completely; the others get
a uniform sample of distinct pairs. Each row's regression weight is its Shapley-kernel weight divided
by its group's sampling fraction, so the weighted least-squares problem estimates the full one
without bias in its normal equations, and equals it when every group is complete.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.special import comb

from .rounds import interval_scale


@dataclass(frozen=True)
class PairedSample:
    coalitions: np.ndarray  # (m, n) bool, neither empty nor full, all distinct
    weights: np.ndarray  # (m,) regression weights
    complement: np.ndarray  # (m,) index of each row's complementary row
    complete: bool  # every proper coalition is present (the regression is then exact)
    group: np.ndarray | None = None  # (m,) size group of each row (index into group_sizes(n))
    capacity: np.ndarray | None = None  # pairs each group has
    drawn: np.ndarray | None = None  # pairs drawn in each group


def kernel_weight(n: int, size: np.ndarray) -> np.ndarray:
    """Shapley kernel (n-1) / (C(n,s) s (n-s)) for 0 < s < n."""
    size = np.asarray(size)
    return (n - 1) / (comb(n, size) * size * (n - size))


def group_sizes(n: int) -> list[tuple[int, ...]]:
    return [(s,) if 2 * s == n else (s, n - s) for s in range(1, n // 2 + 1)]


def pairs_in_group(n: int, s: int) -> int:
    """Distinct complementary pairs with one side of size s (s <= n/2)."""
    total = comb(n, s, exact=True)
    return total // 2 if 2 * s == n else total


def allocate_pairs(capacity: np.ndarray, mass: np.ndarray, n_pairs: int) -> np.ndarray:
    """Integer pairs per group: proportional to mass, capped by capacity (water-filling), summing to n_pairs."""
    capacity = capacity.astype(float)
    n_pairs = int(min(n_pairs, capacity.sum()))
    alloc = np.zeros(len(capacity))
    open_ = np.ones(len(capacity), dtype=bool)
    left = float(n_pairs)
    while left > 1e-9 and open_.any():
        share = left * mass * open_ / (mass * open_).sum()
        full = open_ & (alloc + share >= capacity)
        if full.any():  # saturate these groups and redistribute what they did not need
            left -= (capacity[full] - alloc[full]).sum()
            alloc[full] = capacity[full]
            open_ &= ~full
        else:
            alloc += share
            left = 0.0
    whole = np.floor(alloc + 1e-9).astype(np.int64)
    short = n_pairs - whole.sum()
    order = np.argsort(-(alloc - whole), kind="stable")  # largest remainders first
    for g in order:
        if short <= 0:
            break
        if whole[g] < capacity[g]:
            whole[g] += 1
            short -= 1
    return whole


def draw_distinct_subsets(
    n: int,
    s: int,
    k: int,
    rng: np.random.Generator,
    must_contain_first: bool = False,
    exclude: set[bytes] | None = None,
) -> np.ndarray:
    """Up to k distinct uniform subsets of size s (containing player 0 if asked), none of whose packed
    rows is in `exclude`, as a (<=k, n) bool matrix. Fewer than k only when fewer remain."""
    exclude = exclude or set()
    free = n - 1 if must_contain_first else n
    pick = s - 1 if must_contain_first else s

    def widen(rows):
        if must_contain_first:
            return np.hstack([np.ones((len(rows), 1), dtype=bool), rows])
        return rows

    total = comb(free, pick, exact=True)
    if total <= 4 * (k + len(exclude)) and total <= 200_000:  # dense: enumerate, drop excluded, choose
        combos = np.array(list(itertools.combinations(range(free), pick)), dtype=np.int64).reshape(total, pick)
        rows = np.zeros((total, free), dtype=bool)
        np.put_along_axis(rows, combos, True, axis=1)
        rows = widen(rows)
        if exclude:
            keep = [i for i, key in enumerate(np.packbits(rows, axis=1)) if key.tobytes() not in exclude]
            rows = rows[keep]
        chosen = np.sort(rng.choice(len(rows), size=min(k, len(rows)), replace=False))
        return rows[chosen]
    out = np.zeros((0, n), dtype=bool)  # sparse: draw, keep first occurrences of unseen rows
    seen = set(exclude)
    while len(out) < k:
        draw = np.argsort(rng.random((2 * (k - len(out)) + 8, free)), axis=1)[:, :pick]
        batch = np.zeros((len(draw), free), dtype=bool)
        np.put_along_axis(batch, draw, True, axis=1)
        batch = widen(batch)
        keep = []
        for i, key in enumerate(np.packbits(batch, axis=1)):
            key = key.tobytes()
            if key not in seen:
                seen.add(key)
                keep.append(i)
        out = np.vstack([out, batch[keep]])[:k]
    return out


def group_mass(n: int, kind: str) -> np.ndarray:
    """Sampling mass of each size group {s, n-s}: Shapley-kernel mass, or equal mass per size."""
    groups = group_sizes(n)
    if kind == "kernel":
        return np.array([kernel_weight(n, np.array(g)).sum() * comb(n, g[0]) for g in groups], dtype=float)
    if kind == "leverage":
        return np.array([len(g) for g in groups], dtype=float)
    raise ValueError(f"unknown group mass {kind!r}")


class PairedSampler:
    """Grows a paired, size-stratified sample without replacement, in rounds.

    `grow(m)` tops the sample up to m proper coalitions: the per-group allocation for m is recomputed
    and each group draws only the pairs it lacks, excluding those it has. The union of rounds is a
    uniform sample without replacement within each group, so weights use the groups' final counts;
    one round draws exactly what a single call to `sample_pairs` would.
    """

    def __init__(self, n: int, rng: np.random.Generator, mass: str):
        self.n, self.rng = n, rng
        self.groups = group_sizes(n)
        self.capacity = np.array([pairs_in_group(n, g[0]) for g in self.groups])
        self.mass = group_mass(n, mass)
        self.halves = [np.zeros((0, n), dtype=bool) for _ in self.groups]
        self.taken: list[set[bytes]] = [set() for _ in self.groups]

    @property
    def n_coalitions(self) -> int:
        return 2 * sum(len(h) for h in self.halves)

    def draw(self, n_coalitions: int) -> dict[int, np.ndarray]:
        """New pairs (first halves, by group index) that would top the sample up to n_coalitions; not kept.

        Each group draws what the allocation for n_coalitions gives it beyond what it holds, excluding
        the pairs it has (the adaptive design's candidate pool is drawn this way).
        """
        alloc = allocate_pairs(self.capacity, self.mass, n_coalitions // 2)
        new = {}
        for j, (g, k) in enumerate(zip(self.groups, alloc)):
            need = int(k) - len(self.halves[j])
            if need > 0:
                s = g[0]
                new[j] = draw_distinct_subsets(
                    self.n, s, need, self.rng, must_contain_first=(2 * s == self.n), exclude=self.taken[j]
                )
        return new

    def grow(self, n_coalitions: int) -> None:
        for j, new in self.draw(n_coalitions).items():
            self.taken[j] |= {key.tobytes() for key in np.packbits(new, axis=1)}
            self.halves[j] = np.vstack([self.halves[j], new])

    def sample(self) -> PairedSample:
        blocks, weights, partner, group = [], [], [], []
        offset = 0
        for j, (half, cap) in enumerate(zip(self.halves, self.capacity)):
            k = len(half)
            if k == 0:
                continue
            block = np.vstack([half, ~half])
            blocks.append(block)
            weights.append(kernel_weight(self.n, block.sum(axis=1)) * (cap / k))
            partner.append(offset + np.concatenate([np.arange(k, 2 * k), np.arange(k)]))
            group.append(np.full(2 * k, j))
            offset += 2 * k
        drawn = np.array([len(h) for h in self.halves])
        if not blocks:
            empty = np.zeros(0, dtype=np.int64)
            return PairedSample(np.zeros((0, self.n), bool), np.zeros(0), empty, False, empty, self.capacity, drawn)
        return PairedSample(
            np.vstack(blocks),
            np.concatenate(weights),
            np.concatenate(partner),
            bool(np.all(drawn == self.capacity)),
            np.concatenate(group),
            self.capacity,
            drawn,
        )


def odd_rows(sample: PairedSample, y: np.ndarray, v_empty: float, v_full: float):
    """+-1 rows (the full coalition, then one per pair) and their half-differences (v(S) - v(N\\S)) / 2.

    Returns (x, t, first): `first` marks each pair's first row among the sample's rows.
    """
    z, comp = sample.coalitions, sample.complement
    first = np.arange(len(z)) < comp
    x = np.vstack([np.ones((1, z.shape[1])), np.where(z[first], 1.0, -1.0)])
    t = np.concatenate([[(v_full - v_empty) / 2], (y[first] - y[comp[first]]) / 2])
    return x, t, first


def even_rows(sample: PairedSample, y: np.ndarray, v_empty: float, v_full: float) -> np.ndarray:
    """The pairs' even parts (v(S) + v(N\\S)) / 2, in `odd_rows`' order (the full coalition's first)."""
    first = np.arange(len(sample.coalitions)) < sample.complement
    return np.concatenate([[(v_full + v_empty) / 2], (y[first] + y[sample.complement[first]]) / 2])


def sample_pairs(n: int, n_coalitions: int, rng: np.random.Generator, mass: str) -> PairedSample:
    """Up to n_coalitions distinct proper coalitions, in complementary pairs (an odd one left over is unused)."""
    sampler = PairedSampler(n, rng, mass)
    sampler.grow(n_coalitions)
    return sampler.sample()


def weighted_kkt(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The KKT matrix [[Z^T W Z, 1], [1^T, 0]] of `constrained_wls` (pass it to solve several targets on one sample)."""
    n = z.shape[1]
    zf = z.astype(np.float64)
    kkt = np.zeros((n + 1, n + 1))
    kkt[:n, :n] = zf.T @ (zf * w[:, None])
    kkt[:n, n] = kkt[n, :n] = 1.0
    return kkt


def constrained_wls(
    z: np.ndarray, y: np.ndarray, w: np.ndarray, v_empty: float, v_full: float, kkt: np.ndarray | None = None
) -> np.ndarray:
    """argmin sum w (y - v_empty - z phi)^2 subject to sum(phi) = v_full - v_empty (KKT, least-norm if singular)."""
    n = z.shape[1]
    kkt = weighted_kkt(z, w) if kkt is None else kkt
    b = z.astype(np.float64).T @ (w * (y - v_empty))
    rhs = np.append(b, v_full - v_empty)
    sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    return sol[:n]


def constrained_wls_stderr(
    sample: PairedSample,
    y: np.ndarray,
    v_empty: float,
    v_full: float,
    phi: np.ndarray | None = None,
    kkt: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(phi, per-player standard errors) of `constrained_wls` on a paired sample, by a sandwich estimate.

    phi = L b + const is linear in b = sum over pairs of each pair's score w z (y - v_empty - z phi);
    pairs are drawn without replacement within size groups, so Var(b) is the stratified-sampling
    variance of a total: per group k (1 - k/cap) times the sample covariance of its pairs' scores.
    A group enumerated completely adds nothing: with every coalition evaluated the error is zero.
    Pass `phi` to score residuals of another fit (e.g. out-of-sample surrogate residuals), and `kkt`
    (`weighted_kkt` of the sample) when it is already at hand.
    """
    z, w = sample.coalitions, sample.weights
    n = z.shape[1]
    zf = z.astype(np.float64)
    kkt = weighted_kkt(z, w) if kkt is None else kkt
    fitted = constrained_wls(z, y, w, v_empty, v_full, kkt)
    phi = fitted if phi is None else phi
    lin = np.linalg.pinv(kkt)[:n, :n]
    scores = zf * (w * (y - v_empty - zf @ phi))[:, None]
    pair = np.minimum(np.arange(len(z)), sample.complement)
    pair_scores = np.zeros((len(z), n))
    np.add.at(pair_scores, pair, scores)
    first = np.arange(len(z)) == pair
    pair_scores, pair_group = pair_scores[first], sample.group[first]
    cov = np.zeros((n, n))
    for j in np.unique(pair_group):
        k, cap = int(sample.drawn[j]), int(sample.capacity[j])
        if k >= cap:
            continue
        g = pair_scores[pair_group == j]
        centred = g - g.mean(axis=0) if k > 1 else g  # one pair: its score around zero (conservative)
        cov += (1 - k / cap) * k / max(k - 1, 1) * (centred.T @ centred)
    var = np.einsum("ij,jk,ik->i", lin, cov, lin)
    # Small samples: residuals underrate the noise (HC1: pairs / (pairs - free parameters)), and the
    # interval needs Student t quantiles; both fade to 1 as pairs grow.
    pairs = int(sample.drawn.sum())
    free = n - 1
    hc1 = pairs / (pairs - free) if pairs > free + 1 else float(pairs)
    scale = interval_scale(pairs - free)
    return fitted, scale * np.sqrt(hc1 * np.clip(var, 0.0, None))
