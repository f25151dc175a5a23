r"""Unanimity sets of 2-5 players found one significance bar at a time, each find cleaning the next screen.

Why: on a game of many unanimity terms (order-5 SOUM, n = 32-128, 12n-16n) the pairs' odd parts carry
the main effects under the odd Walsh terms of every 3-5 set, too weak one by one to pick out. A set Q's
matched filter adds the evidence of all its Walsh terms on both halves, z_Q = (w_o <r_o, u_Q> + w_e <r_e,
v_Q>) / sqrt(m (w_o k_o + w_e k_e)) (u, v: its k_o odd terms of degree >= 3 and k_e even ones of degree
>= 2, as odd_sets.py scores; r the residuals so far, w the halves' inverse variances); for a set not in
the game it is about N(0, 1). Held to the bar tau_k = Phi^-1(1 - 1 / (2 C(n, k))), about one false set
of k players over all C(n, k) a round passes, the strongest sets are found first; fitting them shrinks
the residuals, which lifts the next sets over the bar (a cascade). The 2-player sets, which sit in the
even half only (c / 4 on the pair), are fitted there too: left in, they lift every triple holding the
pair over true ones (order 5, n = 64, 16n, seeds 100-105 / 200-211: median error 0.072 / 0.085 without
them, 0.021 / 0.004 with; docs/estimators.md, round 17).
How: each round scores the triples (one fast Walsh-Hadamard transform per block, odd_sets.TripleScreen),
grows the TRIPLE_SEEDS strongest into 4-sets by one player and the FOUR_SEEDS strongest 4-sets into
5-sets, scores every pair on the even half, and adds up to PER_ROUND sets over their bar, strongest
(z / tau) first, none sharing two players with another chosen that round (its score may be that one's
terms: a true 4-set lifts every 4-set holding three of its players); it stops when none passes, after
ROUNDS, or when the odd residual vanishes (the game is recovered). Every RESCREEN rounds all C(n, 3)
triples are scored, in between the POOL strongest. msr takes it by Mallows' C_p with the risk inflation
penalty 2 ln C(n, k) sigma^2 a set of k players (Foster and George, 1994: the price of picking one of
C(n, k) at the Bonferroni bar), entered as its ratio to the linear fit's C_p (one run; K-fold
cross-validation would cost folds + 1 cascades).
References: Foster and George, "The risk inflation criterion for multiple regression", 1994; Kang et
al., "Learning to understand: identifying interactions via the Moebius transform", 2024.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from .hadamard_design import BlockDesign
from .odd_sets import TripleScreen, _top, even_columns, set_columns
from .odd_triples import _Path, main_effect_stderr

PLAYERS = (32, 128)  # below, sparse_moebius and the Fourier prior; above, scoring C(n, 3) triples costs more
MIN_ROWS_PER_PLAYER = 6  # from 12n: at 8n even the sets a perfect screen passes gain nothing at n = 128
TRIPLE_SEEDS = 150  # triples grown into 4-sets a round
FOUR_SEEDS = 64  # 4-sets grown into 5-sets a round
PER_ROUND = 8  # sets added a round at most (12 or 16: higher errors at 16n, docs/estimators.md round 17)
ROUNDS = 24  # (16: a third cheaper, but order 5, n = 128, 32n 0.0019 -> 0.0236)
POOL = 16384  # triples rescored between full screens of all C(n, 3)
RESCREEN = 6  # rounds between full screens
BAR_SCALE = 1.1  # the null scores' standard deviation is 1.01-1.18, not 1 (estimated weights; measured by
# benchmarks/estimators_banzhaf_detection.py)
EXACT = 1e-12  # odd residual energy under this share of the odd parts': the game is recovered (the ridge leaves 1e-18)


def bars(n: int) -> dict[int, float]:
    """Each set size's bar: about one false set of that size over all C(n, k) a round."""
    return {k: BAR_SCALE * NormalDist().inv_cdf(1.0 - 1.0 / (2.0 * math.comb(n, k))) for k in (2, 3, 4, 5)}


class _Halves:
    """Least squares of the odd half on the main effects and the 3-5 sets' odd columns, and of the even
    half on a constant and every set's even columns."""

    def __init__(self, x: np.ndarray, t: np.ndarray, even: np.ndarray, capacity: int):
        ones = np.ones(len(t))
        self.x = x
        self.odd = _Path(x, t, ones, capacity)
        self.even = _Path(ones[:, None], even, ones, capacity)
        self.t, self.e, self.sets = t, even, []

    def add(self, sets: list[tuple[int, ...]]) -> None:
        big = [q for q in sets if len(q) >= 3]
        if big:
            self.odd.add(set_columns(self.x, big))
        self.even.add(even_columns(self.x, sets))
        self.sets += sets

    def residuals(self) -> tuple[np.ndarray, np.ndarray]:
        return self.t - self.odd.columns @ self.odd.solve(), self.e - self.even.columns @ self.even.solve()


class _Reader:
    """Signed readings of Walsh terms from the blocks' transforms: a term's bin in block b is the XOR of its
    players' labels there, its sign the XOR of their flips. Each player's key packs both, label | flip << k
    (labels below M = 2^k), so one XOR gives a term's bin and sign, read from a table holding every block's
    transform and its negative. Sets are read as a fixed part (a seed's players' keys XORed once: (blocks,
    K)) and one added player (every player: (blocks, n))."""

    def __init__(self, screen: TripleScreen):
        size = screen.shape[1]
        self.keys = (screen.labels | (screen.flips.astype(np.int64) * size)).astype(np.int32)
        self.offset = (np.arange(len(screen.labels), dtype=np.int32) * 2 * size)[:, None, None]

    def part(self, members) -> np.ndarray:
        key = np.int32(0)
        for p in members:
            key = key ^ self.keys[:, p]
        return key

    def read(self, table: np.ndarray, part: np.ndarray) -> np.ndarray:
        """(K, n): the terms `part` + each player, summed over the blocks; `table` from signed()."""
        return table.ravel()[(part[:, :, None] ^ self.keys[:, None, :]) + self.offset].sum(axis=0)

    @staticmethod
    def signed(binned: np.ndarray) -> np.ndarray:
        return np.concatenate([binned, -binned], axis=1)


def _fours(reader, odd, even, pair, seeds, num3, n, weights):
    """(sets, numerators) of the best-scored 4-sets grown from the seed triples (3, K) by one player."""
    wo, we = weights
    a, b, c = seeds
    d = np.arange(n)[None, :]
    fresh = (d != a[:, None]) & (d != b[:, None]) & (d != c[:, None])
    odd4 = sum(reader.read(odd, reader.part(pq)) for pq in ((a, b), (a, c), (b, c)))
    even4 = pair[a] + pair[b] + pair[c] + reader.read(even, reader.part((a, b, c)))
    num = num3[:, None] + wo * odd4 + we * even4
    score = np.where(fresh, np.abs(num), -1.0).ravel()
    sets, nums = {}, []
    for k in _top(score, 4 * FOUR_SEEDS):
        if score[k] < 0:
            break
        s, p = divmod(int(k), n)
        key = tuple(sorted((int(a[s]), int(b[s]), int(c[s]), p)))
        if key not in sets:
            sets[key] = len(nums)
            nums.append(num.ravel()[k])
            if len(nums) == FOUR_SEEDS:
                break
    return np.array(list(sets), dtype=np.int64).reshape(-1, 4), np.array(nums)


def _fives(reader, odd, even, pair, fours, num4, n, weights):
    """(numerators (K, n) of the 4-sets grown by each player, fresh mask)."""
    wo, we = weights
    members = [fours[:, i] for i in range(4)]
    fresh = np.all(fours[:, :, None] != np.arange(n)[None, None, :], axis=1)
    odd5 = reader.read(odd, reader.part(members))
    even5 = sum(pair[q] for q in members)
    for i in range(4):
        even5 = even5 + reader.read(even, reader.part(members[:i] + members[i + 1 :]))
        for j in range(i + 1, 4):
            odd5 = odd5 + reader.read(odd, reader.part((members[i], members[j])))
    return num4[:, None] + wo * odd5 + we * even5, fresh


def cascade(x: np.ndarray, t: np.ndarray, even: np.ndarray, design: BlockDesign, block, index) -> _Halves:
    """The fit of both halves with the sets found (`.sets`, in the order added)."""
    m, n = x.shape
    screen = TripleScreen(design, block, index)
    reader = _Reader(screen)
    bar = bars(n)
    cap = m // 4
    fit = _Halves(x, t, even, cap)
    iu, ju = np.triu_indices(n, 1)
    for step in range(ROUNDS):
        r_o, r_e = fit.residuals()
        if r_o @ r_o <= EXACT * (t @ t) or len(fit.sets) >= cap:
            break
        wo, we = m / max(float(r_o @ r_o), 1e-300), m / max(float(r_e @ r_e), 1e-300)
        odd, ev = screen.binned(r_o), screen.binned(r_e)
        pair = screen.pairs(ev)
        if step % RESCREEN == 0:
            every, t3 = screen.every_triple(odd)
            a, b, c = every
            pool = _top(np.abs(wo * t3 + we * (pair[a, b] + pair[a, c] + pair[b, c])), POOL)
            triples = every[:, pool]
            slot, sign = screen._bins(tuple(triples))
        a, b, c = triples
        t3 = (odd.ravel()[slot] * sign).sum(axis=0)
        num3 = wo * t3 + we * (pair[a, b] + pair[a, c] + pair[b, c])
        z2 = np.abs(pair[iu, ju]) * np.sqrt(we / m)
        passed = np.flatnonzero(z2 > bar[2])
        found = [(z2[k] / bar[2], (int(iu[k]), int(ju[k]))) for k in passed[_top(z2[passed], 4 * PER_ROUND)]]
        z3 = np.abs(num3) / np.sqrt(m * (wo + 3 * we))
        passed = np.flatnonzero(z3 > bar[3])
        passed = passed[_top(z3[passed], 4 * PER_ROUND)]  # more than rounds can take costs tuples only
        found += [(z3[k] / bar[3], tuple(int(v) for v in triples[:, k])) for k in passed]
        seeds = _top(np.abs(num3), TRIPLE_SEEDS)
        odd_table, even_table = reader.signed(odd), reader.signed(ev)
        seed_sets = triples[:, seeds].astype(np.int64)
        fours, num4 = _fours(reader, odd_table, even_table, pair, seed_sets, num3[seeds], n, (wo, we))
        z4 = np.abs(num4) / np.sqrt(m * (4 * wo + 7 * we))
        found += [(z4[k] / bar[4], tuple(int(v) for v in fours[k])) for k in np.flatnonzero(z4 > bar[4])]
        if len(fours):
            num5, fresh = _fives(reader, odd_table, even_table, pair, fours, num4, n, (wo, we))
            z5 = np.where(fresh, np.abs(num5), 0.0) / np.sqrt(m * (11 * wo + 15 * we))
            passed = np.flatnonzero(z5.ravel() > bar[5])
            for k in passed[_top(z5.ravel()[passed], 4 * PER_ROUND)]:
                s, p = divmod(int(k), n)
                found.append((z5[s, p] / bar[5], tuple(sorted((*(int(v) for v in fours[s]), p)))))
        chosen: list[tuple[int, ...]] = []
        have = set(fit.sets)
        for score, q in sorted(found, reverse=True):
            if score <= 1.0:
                break
            if q in have or any(len(set(q) & set(o)) >= 2 for o in chosen):  # its score may be their terms
                continue
            chosen.append(q)
            if len(chosen) == min(PER_ROUND, cap - len(fit.sets)):
                break
        if not chosen:
            break
        fit.add(chosen)
    return fit


def fit_set_cascade(x: np.ndarray, t: np.ndarray, even: np.ndarray, design: BlockDesign, block, index, sigma2_linear):
    """(main effects, their OLS standard errors, C_p of the cascade / C_p of the linear fit, details), or
    None outside PLAYERS, below MIN_ROWS_PER_PLAYER or where no set passed its bar."""
    m, n = x.shape
    if not (PLAYERS[0] <= n <= PLAYERS[1] and m >= MIN_ROWS_PER_PLAYER * n) or not np.any(block >= 0):
        return None
    fit = cascade(x, t, even, design, block, index)
    big = [q for q in fit.sets if len(q) >= 3]
    if not big:
        return None
    # least squares without the path's ridge: on a recovered game its bias (1e-9) would be the whole error
    coef = np.linalg.lstsq(fit.odd.columns, t, rcond=None)[0]
    residual = t - fit.odd.columns @ coef
    p = fit.odd.size
    rss = float(residual @ residual)
    sigma2 = max(rss / max(1, m - p), 1e-16 * float(t @ t) / m)
    penalty = sum(2.0 * math.log(math.comb(n, len(q))) for q in big)
    linear_rss = sigma2_linear * (m - n)
    cp_linear = linear_rss + 2.0 * sigma2 * n
    cp_sets = rss + 2.0 * sigma2 * (n + len(big)) + sigma2 * penalty
    # the OLS stderr with C_p's prediction error a row as the residual variance: it prices the selection,
    # which the in-sample residual does not see (coverage of 95% intervals 90-94% -> 99-100%, tuning seeds 0-11)
    sigma2 = max(sigma2, cp_sets / m)
    stderr = main_effect_stderr(fit.odd, n, sigma2)
    sizes = [len(q) for q in fit.sets]
    details = {
        "set_cascade": len(big),
        "set_cascade_found": ", ".join(f"{sizes.count(k)} of {k}" for k in (2, 3, 4, 5) if k in sizes)
        + f"; C_p {cp_sets:.4g} against the linear fit's {cp_linear:.4g}",
    }
    return coef[:n], stderr, cp_sets / max(cp_linear, 1e-300), details
