r"""Balanced complementary pairs: blocks of a Sylvester-Hadamard matrix, columns drawn at random.

What: the first coalitions of `p` complementary pairs (S, N\S), in blocks of M = 2^k >= n + 1 rows.
Block b gives player j the Hadamard column with label l_bj (distinct, non-zero, drawn at random) times a
random sign d_bj: x_rj = d_bj (-1)^popcount(r & l_bj) in +-1 coding (+1: in S), r = 0..M-1.
Why: a paired linear fit of the Banzhaf values regresses the pairs' odd parts on the main effects.
On i.i.d. draws its error is that of OLS, sigma^2 tr((X'X)^-1) ~ sigma^2 n / (m - n) on m pairs; a
block's columns are exactly orthogonal, X'X = m I, so the error drops to sigma^2 n / m (at 4n, two pairs
per player: half the squared error, 0.7x the error). The random signs keep it unbiased: each row is
uniform on {-1, 1}^n, and a higher-order Walsh term chi_T correlates with a main effect only through the
sign product d_T d_i, whose mean is zero. The structure also pays a second time: in block b, the term
chi_T is, on the block's rows, the Hadamard column of label XOR_{j in T} l_bj times d_bT, so one fast
Walsh-Hadamard transform of a block's residual scores every order-3 term at once (odd_triples.py).
The last block may be partial (a random subset of its rows). Rows that collide with coalitions
already evaluated, and blocks where a row and a complement coincide, are replaced by uniform pairs.
Reference: Hedayat, Sloane and Stufken, "Orthogonal Arrays", 1999 (foldover of two-level designs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LABEL_TRIES = 8  # redraws of a block's labels when a row equals another row's complement


@dataclass(frozen=True)
class BlockDesign:
    rows: np.ndarray  # (p, n) bool: the first coalition of each pair
    block: np.ndarray  # (p,) block of each row; -1: a uniform pair outside every block
    index: np.ndarray  # (p,) the row's index r in its block's Hadamard matrix
    labels: np.ndarray  # (blocks, n) each player's column label in each block
    flips: np.ndarray  # (blocks, n) bool: the sign d_bj is -1
    size: int  # M, rows per full block


def block_size(n: int) -> int:
    """The smallest power of two with a non-constant column per player."""
    return 1 << int(np.ceil(np.log2(n + 1)))


def parity(a: np.ndarray) -> np.ndarray:
    """popcount(a) mod 2, elementwise, for non-negative integers."""
    a = np.asarray(a, dtype=np.int64).copy()
    out = np.zeros_like(a)
    while a.any():
        out ^= a & 1
        a >>= 1
    return out


def _keys(rows: np.ndarray) -> list[bytes]:
    return [k.tobytes() for k in np.packbits(rows, axis=1)]


def draw_blocks(
    n: int, p: int, rng: np.random.Generator, taken: set[bytes], draw_uniform, labels_for=None
) -> BlockDesign:
    """p pairs' first coalitions (fewer if the game has fewer left), new and distinct; adds both
    coalitions of each pair to `taken`. `draw_uniform(k, rng, taken)` supplies uniform pairs.
    `labels_for(b, rng)`, if given, chooses block b's labels (None: random); the signs stay random, so each
    row is still uniform (benchmarks/estimators_banzhaf_alias_oracle.py's labels that avoid aliasing)."""
    size = block_size(n)
    count = -(-p // size) if p > 0 else 0
    labels = np.zeros((count, n), dtype=np.int64)
    flips = rng.random((count, n)) < 0.5
    rows, block, index = [], [], []
    for b in range(count):
        take = min(size, p - b * size)
        for _ in range(LABEL_TRIES):
            chosen_labels = labels_for(b, rng) if labels_for is not None else None
            labels[b] = rng.choice(np.arange(1, size), n, replace=False) if chosen_labels is None else chosen_labels
            hadamard = (parity(np.arange(size)[:, None] & labels[b][None, :]) == 0) ^ flips[b][None, :]
            if len(set(_keys(hadamard)) | set(_keys(~hadamard))) == 2 * size:
                break
        else:
            continue  # every draw paired a row with another's complement (tiny n): uniform pairs instead
        chosen = np.sort(rng.choice(size, take, replace=False)) if take < size else np.arange(size)
        for r in chosen:
            row = hadamard[r]
            key, other = np.packbits(row).tobytes(), np.packbits(~row).tobytes()
            if key in taken or other in taken:
                continue
            taken.update((key, other))
            rows.append(row)
            block.append(b)
            index.append(r)
    missing = p - len(rows)
    if missing > 0:
        extra = draw_uniform(missing, rng, taken)
        rows.extend(extra)
        block.extend([-1] * len(extra))
        index.extend([0] * len(extra))
    return BlockDesign(
        np.array(rows, dtype=bool).reshape(-1, n),
        np.array(block, dtype=np.int64),
        np.array(index, dtype=np.int64),
        labels,
        flips,
        size,
    )
