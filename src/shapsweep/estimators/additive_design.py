r"""msr's design for nearly additive games: the first Hadamard blocks, then pairs chosen for the Banzhaf values.

What: msr evaluates the first whole Hadamard blocks of its design (about half its pairs) and fits the linear
model to their odd parts. Where those blocks' Walsh readings show no sparse game (walsh_peeling finds no
exact pair or triple term, and under SPARSE_ZERO_SHARE of the readings are zero) and the linear fit leaves
under MAX_RESIDUAL_SHARE of the odd parts' variance (its leave-one-out error), the game is dense and nearly
additive: the rest of the pairs (at most MAX_DESIGNED_PAIRS) are chosen from a pool of uniform pairs,
greedily, for the least posterior variance of the Banzhaf values under a fixed Fourier prior with a small
degree-3 part (adaptive_design.choose_pairs_banzhaf). Otherwise the blocks drawn for the rest are evaluated
as drawn, so msr's values are those of the blocks alone.
Why: inside a block an order-3 Walsh term lands whole on one column, on a player's own column for about
n / (M - 1) of them, where no fit can tell it from that player's main effect. A dense game with small
interactions (a sentence embedding's similarity, a language model's log-probability) is what the Fourier
surrogate fits, and pairs chosen outside the blocks separate its degree-3 part from the main effects.
Sparse games with strong high-order terms (sums of unanimity games of order 3-5) are what the peeling,
triples and sets read off whole blocks, and pairs outside them cost those fits more than they give. On the
first blocks, the benchmark tables (MiniLM, tiny Llama; 8n-32n) left 0.3-10% of the odd variance (at most
4% from 16n) and 0-5.3% of the readings zero; order-5 sums of unanimity games left 3.5-52%; order-3 ones,
nearly additive too (0.7-24%), have 0-70% of their readings zero (median 16-52%). Measured in
docs/estimators.md (issue 22, round 16).
"""

from __future__ import annotations

import numpy as np
from scipy.special import comb

from .adaptive_design import choose_pairs_banzhaf
from .hadamard_design import BlockDesign
from .walsh_peeling import peel

FIRST_SHARE = 0.5  # of the pairs in the first blocks (whole blocks, at least one)
MAX_RESIDUAL_SHARE = 0.05
# A sparse game leaves many of a block's Walsh readings exactly zero (walsh_peeling.py), a dense one almost
# none: measured on the first blocks, the benchmark tables 0-5.3% (MiniLM, tiny Llama, 8n-32n, seeds
# 200-259), sums of unanimity games of order 3 0-70% (median 16-52%), of order 4-5 0-23%, whose linear fit
# leaves over MAX_RESIDUAL_SHARE on almost every seed.
SPARSE_ZERO_SHARE = 0.1
# The design's prior: degree 1 and 3, the degree-3 part a hundredth of the first (the tables' odd energy is
# 98-99.6% degree 1); 0.1 gave the same errors on the tables at 16n. Its ridge only keeps the solves stable.
PRIOR_RHO3 = 0.01
PRIOR_NOISE = 1e-3
POOL_PER_PAIR = 16  # uniform candidates a chosen pair...
# ...and at most this many in all: the greedy costs O(pool x chosen^2) (n = 32, 32n: 255 pairs from 4,080
# candidates took 0.89 of msr's 2.2 CPU s)
POOL_MAX = 2048
# Above this many pairs to choose the blocks are kept (n = 32: past about 64n): the greedy's cost grows as
# pairs^2 (measured to 255 pairs, n = 32, 32n, above)
MAX_DESIGNED_PAIRS = 512


def first_rows(design: BlockDesign) -> int:
    """How many of the design's first rows make the first stage: whole blocks, about FIRST_SHARE of its pairs,
    at least one block (the rows come block by block, any uniform extras last)."""
    blocks = max(1, round(FIRST_SHARE * len(design.rows) / design.size))
    return int(np.sum((design.block >= 0) & (design.block < blocks)))


def first_stage(design: BlockDesign, rows: int) -> BlockDesign:
    """The design cut to its first `rows` rows (whole blocks)."""
    used = int(design.block[:rows].max()) + 1 if rows else 0
    return BlockDesign(
        design.rows[:rows],
        design.block[:rows],
        design.index[:rows],
        design.labels[:used],
        design.flips[:used],
        design.size,
    )


def nearly_additive(stage: BlockDesign, t: np.ndarray, even: np.ndarray, loo: float, later: int):
    """(whether to choose the `later` pairs left, the reason). t: the full coalition's odd part, then each
    stage pair's (v(S) - v(N\\S)) / 2; even: each stage pair's half-sum; loo: the linear fit's leave-one-out
    error on t."""
    found = peel(stage, t[1:], even)
    if found.terms:
        return False, f"blocks kept: the first blocks hold exact sparse terms ({found.summary()})"
    if found.zero_share >= SPARSE_ZERO_SHARE:
        return (
            False,
            f"blocks kept: {found.zero_share:.0%} of the first blocks' Walsh readings are zero (a sparse game)",
        )
    share = loo / max(float(np.mean((t - t.mean()) ** 2)), 1e-300)
    if share > MAX_RESIDUAL_SHARE:
        return False, (
            f"blocks kept: the first blocks' linear fit left {share:.1%} of the odd variance "
            f"(over {MAX_RESIDUAL_SHARE:.0%}: not nearly additive)"
        )
    reason = f"the first blocks' linear fit left {share:.1%} of the odd variance (nearly additive)"
    if later > MAX_DESIGNED_PAIRS:
        return False, f"{reason}; blocks kept: {later} pairs to choose, over {MAX_DESIGNED_PAIRS}"
    return True, reason


def choose_rest(x: np.ndarray, count: int, pool: np.ndarray) -> np.ndarray | None:
    """`count` of the pool's pairs (first halves) for the Banzhaf values given the first stage's +-1 rows x;
    None if the pool is too small (the game has few coalitions left)."""
    if len(pool) < count:
        return None
    n = x.shape[1]
    weights = {1: 1.0 / n} | ({3: PRIOR_RHO3 / comb(n, 3)} if n >= 3 else {})
    return pool[choose_pairs_banzhaf(x, pool, count, weights, PRIOR_NOISE)]
