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


@dataclass(frozen=True)
class PairedSample:
    coalitions: np.ndarray  # (m, n) bool, neither empty nor full, all distinct
    weights: np.ndarray  # (m,) regression weights
    complete: bool  # every proper coalition is present (the regression is then exact)


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


def _distinct_subsets(n: int, s: int, k: int, rng: np.random.Generator, must_contain_first: bool) -> np.ndarray:
    """k distinct uniform subsets of size s (containing player 0 if asked), as a (k, n) bool matrix."""
    free = n - 1 if must_contain_first else n
    pick = s - 1 if must_contain_first else s
    total = comb(free, pick, exact=True)
    if total <= 4 * k and total <= 200_000:  # dense: enumerate and choose without replacement
        combos = np.array(list(itertools.combinations(range(free), pick)), dtype=np.int64).reshape(total, pick)
        chosen = combos[np.sort(rng.choice(total, size=k, replace=False))]
        rows = np.zeros((k, free), dtype=bool)
        np.put_along_axis(rows, chosen, True, axis=1)
    else:  # sparse: draw random subsets, keep first occurrences until k distinct
        rows = np.zeros((0, free), dtype=bool)
        seen: set[bytes] = set()
        while len(rows) < k:
            draw = np.argsort(rng.random((2 * (k - len(rows)) + 8, free)), axis=1)[:, :pick]
            batch = np.zeros((len(draw), free), dtype=bool)
            np.put_along_axis(batch, draw, True, axis=1)
            keep = []
            for i, key in enumerate(np.packbits(batch, axis=1)):
                key = key.tobytes()
                if key not in seen:
                    seen.add(key)
                    keep.append(i)
            rows = np.vstack([rows, batch[keep]])[:k]
    if must_contain_first:
        rows = np.hstack([np.ones((len(rows), 1), dtype=bool), rows])
    return rows


def sample_pairs(n: int, n_coalitions: int, rng: np.random.Generator, group_mass: str) -> PairedSample:
    """Up to n_coalitions distinct proper coalitions in complementary pairs (one unpaired if odd and room)."""
    groups = group_sizes(n)
    capacity = np.array([pairs_in_group(n, g[0]) for g in groups])
    if group_mass == "kernel":
        mass = np.array([kernel_weight(n, np.array(g)).sum() * comb(n, g[0]) for g in groups], dtype=float)
    elif group_mass == "leverage":
        mass = np.array([len(g) for g in groups], dtype=float)
    else:
        raise ValueError(f"unknown group mass {group_mass!r}")
    alloc = allocate_pairs(capacity, mass, n_coalitions // 2)
    blocks, weights = [], []
    for g, k, cap in zip(groups, alloc, capacity):
        if k == 0:
            continue
        s = g[0]
        half = _distinct_subsets(n, s, int(k), rng, must_contain_first=(2 * s == n))
        block = np.vstack([half, ~half])
        blocks.append(block)
        weights.append(kernel_weight(n, block.sum(axis=1)) * (cap / k))
    coalitions = np.vstack(blocks) if blocks else np.zeros((0, n), dtype=bool)
    w = np.concatenate(weights) if weights else np.zeros(0)
    complete = bool(np.all(alloc == capacity))
    return PairedSample(coalitions, w, complete)


def constrained_wls(z: np.ndarray, y: np.ndarray, w: np.ndarray, v_empty: float, v_full: float) -> np.ndarray:
    """argmin sum w (y - v_empty - z phi)^2 subject to sum(phi) = v_full - v_empty (KKT, least-norm if singular)."""
    n = z.shape[1]
    zf = z.astype(np.float64)
    a = zf.T @ (zf * w[:, None])
    b = zf.T @ (w * (y - v_empty))
    kkt = np.zeros((n + 1, n + 1))
    kkt[:n, :n] = a
    kkt[:n, n] = kkt[n, :n] = 1.0
    rhs = np.append(b, v_full - v_empty)
    sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    return sol[:n]
