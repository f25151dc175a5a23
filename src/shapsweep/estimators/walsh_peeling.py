r"""Exact recovery of a game's pair and triple unanimity terms from the Hadamard blocks' Walsh readings.

Why: within a full Hadamard block (hadamard_design.py) the pairs' odd and even parts are an exact,
invertible sketch of the game's Walsh coefficients. One fast Walsh-Hadamard transform per half gives,
for each label h, the reading R[h] = sum of d_U w_U over the Walsh terms U whose labels XOR to h (odd U
in the odd half, even U in the even half). A unanimity term c_T [T subset of S] has the Walsh terms
w_U = c_T / 2^|T| for every U subset of T, so each of its terms of degree >= 2 lands, with the same
magnitude, in one bucket per block. When the game is a sparse sum of unanimity terms (the SOUM games,
or any model whose interactions are few) many buckets hold a single term: its reading is exactly
+-c_T / 2^|T|, and the same magnitude read in two or more buckets, at positions that the labels of one
pair or triple explain, identifies the term and its coefficient without error. Subtracting it
empties those buckets and exposes others (peeling, as in sparse Fourier transforms). The odd half's
error is the odd terms of degree >= 3 aliased onto the main effects; once the triples are peeled the
linear fit of the rest is exact (order-3 SOUM games at n = 128, 8n: relative error 1e-15 where the
linear fit gives 0.10).
How: readings of the non-label odd buckets and the non-zero even buckets (the label buckets hold the
main effects, dense; even bucket 0 the constant) are grouped by equal magnitude (relative TOLERANCE).
Each group proposes the pairs of an even reading's bucket (every pair whose labels XOR to it) and the
triples that also land on another reading of the group (or, with odd readings only, the triples of one
that land on another); a candidate is scored by how many readings it zeroes minus how many zero readings
it would make non-zero, over every exact block. The best is taken when it zeroes at least MIN_GAIN
readings, no other candidate scores as much, and no larger set explains the readings as well: a pair
waits while some triple holding it scores as much (the triple's other terms may sit in crowded
buckets), a triple while a set of four holding it scores as much with a reading of its own (the triple
may be part of a 4- or 5-player term, which is not peeled). Rounds go on while terms are found. A
partial block missing one row is made exact first when one value for that row zeroes at least
FILL_SHARE of the buckets that are usually empty; otherwise it is left out.
Where it applies: games that are exact sums of few pair and triple terms (up to float32 rounding: the
tolerance is 1e-6 of the largest reading) besides any main effects. Not tried where under
MIN_START_SHARE of the readings start at zero (order-5 games: a 5-player term's 26 Walsh terms a block
crowd every bucket, about five terms a bucket at n = 128), and not trusted (msr keeps its fits alone)
unless at least MIN_ZERO_SHARE of the readings are zero after peeling: a game that is only nearly
sparse (a dense part of 1e-3) or dense leaves no reading single, and equal magnitudes there would be
coincidences.
Reference: Scheibler, Haghighatshoar and Vetterli, "A fast Hadamard transform for signals with
sublinear sparsity in the transform domain", IEEE Trans. Inf. Theory 2015 (peeling aliased Walsh bins);
Kang et al., "SPEX: Scaling feature interaction explanations for LLMs", ICML 2025 (sparse Fourier
recovery of interactions; shapiq's SPEX).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hadamard_design import BlockDesign, parity
from .odd_triples import fwht

TOLERANCE = 1e-6  # equal magnitudes and zero readings, relative to the largest reading (float32 games: ~1e-8)
MIN_GAIN = 2  # readings a term must zero (net): one reading alone cannot tell a term from its neighbours
FILL_SHARE = 0.1  # share of the usually-empty buckets one value of a block's missing row must zero
MIN_ZERO_SHARE = 0.5  # share of readings zero after peeling for msr to use the terms
# share of readings zero before peeling below which it is not tried: sparse games of pairs and triples
# start at 0.33-0.42 (n = 16-128, 4n-32n), order-5 games at 0.01-0.04, where their sets of 4 and 5 players
# are not peeled and the rounds only cost (up to 2 CPU s at n = 256, 32n)
MIN_START_SHARE = 0.2
MAX_ROUNDS = 64
# above, not tried: the pair tables hold C(n, 2) entries a block (measured to n = 256: 0.8 CPU s at 32n)
MAX_PLAYERS = 512


@dataclass(frozen=True)
class Peeled:
    terms: list[tuple[tuple[int, ...], float]]  # (players, unanimity coefficient c_T)
    zero_share: float  # share of the exact blocks' readings that are zero after peeling
    blocks: int  # blocks whose readings were exact

    def values_on(self, coalitions: np.ndarray) -> np.ndarray:
        """sum_T c_T [T subset of S] for each row of a bool (k, n) matrix."""
        out = np.zeros(len(coalitions))
        for players, coef in self.terms:
            out += coef * coalitions[:, list(players)].all(axis=1)
        return out

    def banzhaf(self, n: int) -> np.ndarray:
        out = np.zeros(n)
        for players, coef in self.terms:
            out[list(players)] += coef / 2.0 ** (len(players) - 1)
        return out

    def summary(self) -> str:
        sizes = np.bincount([len(p) for p, _c in self.terms], minlength=4)
        blocks = f"{self.blocks} Hadamard block{'s' if self.blocks != 1 else ''}"
        return (
            f"{len(self.terms)} unanimity terms recovered exactly from the Walsh readings of {blocks} "
            f"({sizes[2]} pairs, {sizes[3]} triples); {self.zero_share:.0%} of the readings zero after"
        )


def block_readings(design: BlockDesign, odd: np.ndarray, even: np.ndarray):
    """(blocks, odd readings (k, M), even readings (k, M)) of the blocks whose every row is known; odd and
    even: each design row's pair halves (v(S) -+ v(N \\ S)) / 2."""
    size = design.size
    kept, odd_out, even_out = [], [], []
    for b in range(design.labels.shape[0]):
        rows = np.flatnonzero(design.block == b)
        index = design.index[rows]
        missing = np.setdiff1d(np.arange(size), index)
        if len(missing) > 1 or len(rows) == 0:
            continue
        free_odd = np.ones(size, bool)
        free_odd[design.labels[b]] = False
        free_even = np.arange(size) > 0
        readings = []
        for half, free in ((odd, free_odd), (even, free_even)):
            full = np.zeros(size)
            full[index] = half[rows]
            reading = fwht(full) / size
            if len(missing) == 1:
                reading = _fill(reading, int(missing[0]), free)
            readings.append(reading)
        if any(r is None for r in readings):
            continue
        kept.append(b)
        odd_out.append(readings[0])
        even_out.append(readings[1])
    if not kept:
        return np.zeros(0, np.int64), np.zeros((0, size)), np.zeros((0, size))
    return np.array(kept), np.array(odd_out), np.array(even_out)


def _fill(reading: np.ndarray, row: int, free: np.ndarray) -> np.ndarray | None:
    """The block's readings with its one missing row's value added, if one value zeroes at least
    FILL_SHARE of the free buckets; None otherwise."""
    size = len(reading)
    sign = 1.0 - 2.0 * parity(np.arange(size) & row)
    needed = np.sort(-size * reading[free] * sign[free])  # the row value that would zero each bucket
    if len(needed) == 0:
        return None
    tol = TOLERANCE * max(float(np.max(np.abs(needed))), 1e-300)
    breaks = np.flatnonzero(np.diff(needed) > tol)
    starts = np.concatenate([[0], breaks + 1])
    lengths = np.diff(np.concatenate([starts, [len(needed)]]))
    best = int(np.argmax(lengths))
    if lengths[best] < max(3, FILL_SHARE * len(needed)):
        return None
    value = float(np.median(needed[starts[best] : starts[best] + lengths[best]]))
    return reading + value * sign / size


_TRIPLE_ODD = np.array([False, False, False, True])


class _State:
    """The exact blocks' readings, peeled in place."""

    def __init__(self, design: BlockDesign, blocks, odd, even):
        self.labels = design.labels[blocks]
        self.signs = np.where(design.flips[blocks], -1.0, 1.0)
        k, size = odd.shape
        # one store of both halves (even, then odd), gathered by flat index for many candidates at once; the
        # two halves are views of it, which subtract writes through
        self.read = np.stack([even, odd]).astype(np.float64)
        self.even, self.odd = self.read[0], self.read[1]
        self.n = self.labels.shape[1]
        self.free_odd = np.ones((k, size), bool)
        for b in range(k):
            self.free_odd[b, self.labels[b]] = False
        self.usable = np.stack([np.broadcast_to(np.arange(size) > 0, (k, size)), self.free_odd]).reshape(-1)
        self.flat = self.read.reshape(-1)
        self.offsets = (np.arange(k) * size)[:, None]  # (k, 1): block b's start in a half
        self.odd_start = k * size
        self.inverse = np.full((k, size), -1, np.int64)
        for b in range(k):
            self.inverse[b, self.labels[b]] = np.arange(self.n)
        scale = max(float(np.max(np.abs(odd))), float(np.max(np.abs(even))), 1e-300)
        self.tol = TOLERANCE * scale
        j, kk = np.triu_indices(self.n, 1)
        self.pair_j, self.pair_k = j, kk
        pair_xor = self.labels[:, j] ^ self.labels[:, kk]  # (blocks, pairs)
        self.pair_order = np.argsort(pair_xor, axis=1, kind="stable")
        self.pair_sorted = np.take_along_axis(pair_xor, self.pair_order, axis=1)

    def pairs_in(self, b: int, h: int) -> np.ndarray:
        lo, hi = np.searchsorted(self.pair_sorted[b], [h, h + 1])
        return self.pair_order[b, lo:hi]

    def nonzero(self):
        """(block, half (1 odd, 0 even), bucket, reading) of the non-zero readings that can be single terms."""
        odd = (np.abs(self.odd) > self.tol) & self.free_odd
        even = np.abs(self.even) > self.tol
        even[:, 0] = False  # the constant
        bo, ho = np.nonzero(odd)
        be, he = np.nonzero(even)
        block = np.concatenate([bo, be])
        half = np.concatenate([np.ones(len(bo), np.int64), np.zeros(len(be), np.int64)])
        bucket = np.concatenate([ho, he])
        value = np.concatenate([self.odd[bo, ho], self.even[be, he]])
        return block, half, bucket, value

    def zero_share(self) -> float:
        odd = np.abs(self.odd[self.free_odd]) <= self.tol
        even = np.abs(self.even[:, 1:]) <= self.tol
        total = odd.size + even.size
        return float((odd.sum() + even.sum()) / total) if total else 0.0

    def _terms(self, players: np.ndarray):
        """For candidates (C, s) of s = 2 or 3 players: the Walsh terms of degree >= 2 as (buckets (k, C, t),
        signs (k, C, t), odd (t,))."""
        lab = self.labels[:, players]  # (k, C, s)
        sig = self.signs[:, players]
        if players.shape[1] == 2:
            return lab[..., 0:1] ^ lab[..., 1:2], sig[..., 0:1] * sig[..., 1:2], np.array([False])
        buckets = np.empty(lab.shape[:2] + (4,), np.int64)
        signs = np.empty(lab.shape[:2] + (4,))
        np.bitwise_xor(lab[..., [0, 0, 1]], lab[..., [1, 2, 2]], out=buckets[..., :3])
        np.bitwise_xor(buckets[..., 0], lab[..., 2], out=buckets[..., 3])
        np.multiply(sig[..., [0, 0, 1]], sig[..., [1, 2, 2]], out=signs[..., :3])
        np.multiply(signs[..., 0], sig[..., 2], out=signs[..., 3])
        return buckets, signs, _TRIPLE_ODD

    def _change(self, index: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate (rows of index (C, r) into the store): readings zeroed minus zero readings made
        non-zero, and the readings zeroed alone."""
        before = self.flat[index]
        usable = self.usable[index]
        was = np.abs(before) > self.tol
        will = np.abs(before - predicted) > self.tol
        zeroed = (was & ~will & usable).sum(axis=1)
        return zeroed - (~was & will & usable).sum(axis=1), zeroed

    def gain(self, players: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Readings each candidate's terms would zero, minus zero readings they would make non-zero."""
        if len(players) == 0:
            return np.zeros(0, np.int64)
        buckets, signs, odd = self._terms(players)  # (k, C, t)
        index = buckets + self.offsets[:, :, None] + self.odd_start * odd
        predicted = signs * w[None, :, None]
        count = len(players)
        return self._change(
            index.transpose(1, 0, 2).reshape(count, -1), predicted.transpose(1, 0, 2).reshape(count, -1)
        )[0]

    def _extensions(self, terms) -> tuple[np.ndarray, np.ndarray]:
        """For every player m, the change of the terms (A + m) over every block: terms are (players A, odd
        half?, w times A's sign product per block (k, 1))."""
        lab, sig = self.labels, self.signs
        index, predicted = [], []
        for players, odd, weight in terms:
            bucket = np.bitwise_xor.reduce(lab[:, list(players)], axis=1)[:, None] ^ lab  # (k, n)
            index.append(bucket + self.offsets + self.odd_start * odd)
            predicted.append(weight * sig)
        index = np.concatenate(index).T  # (n, terms * k)
        return self._change(np.ascontiguousarray(index), np.concatenate(predicted).T)

    def _weight(self, players, w: float) -> np.ndarray:
        return w * np.prod(self.signs[:, list(players)], axis=1)[:, None]

    def triple_ties(self, pair: tuple[int, ...], w: float) -> bool:
        """Whether some triple (j, k, l) zeroes as many readings as the pair (j, k) with the same w: its other
        terms sit in crowded buckets, so the readings cannot tell the pair from the triple yet. Only the
        triple's terms beyond the pair's are counted (the pair's own are the same)."""
        j, k = pair
        terms = [((j,), False, self._weight((j,), w)), ((k,), False, self._weight((k,), w))]
        terms.append(((j, k), True, self._weight((j, k), w)))
        extra, _zeroed = self._extensions(terms)
        extra[[j, k]] = -1  # not triples
        return bool(np.any(extra >= 0))

    def quad_ties(self, triple: tuple[int, ...], w: float) -> bool:
        """Whether a set of four players holding the triple zeroes as many readings, one of them at least
        beyond the triple's: a triple of a 4- or 5-player term (not peeled) must not be taken for a term of
        its own. Unlike a pair's, a triple is not held back by a larger set whose other terms are all
        crowded: with that stricter rule order-3 games kept triples waiting for good (n = 128, 8n, seeds 1
        and 3-5: errors 0.01-0.05 where this rule gives 1e-15 on three and 0.009 on one)."""
        p, q, r = triple
        subsets = [(p,), (q,), (r,), (p, q), (p, r), (q, r), (p, q, r)]  # each with m: pairs, triples, the four
        extra, zeroed = self._extensions([(a, len(a) == 2, self._weight(a, w)) for a in subsets])
        extra[[p, q, r]] = -1  # not sets of four
        # where m's label is the XOR of the triple's (the triple aliases on m's main effect), the set's terms
        # share buckets in pairs and the counts above do not hold: such m are left out
        aliased = (np.bitwise_xor.reduce(self.labels[:, [p, q, r]], axis=1)[:, None] == self.labels).any(axis=0)
        extra[aliased] = -1
        return bool(np.any((extra >= 0) & (zeroed > 0)))

    def subtract(self, players: tuple[int, ...], w: float) -> None:
        buckets, signs, odd = self._terms(np.array([players]))
        for b in range(len(self.labels)):
            for t in range(len(odd)):
                target = self.odd if odd[t] else self.even
                target[b, buckets[b, 0, t]] -= signs[b, 0, t] * w

    def candidates(self, group):
        """(players (C, 2) and (C, 3), their w) proposed by a group of equal-magnitude readings."""
        block, half, bucket, value = group
        lab, sig, inv = self.labels, self.signs, self.inverse
        even_members = np.flatnonzero(half == 0)
        if len(even_members):
            m = even_members[0]
            b = int(block[m])
            p = self.pairs_in(b, int(bucket[m]))
            j, k = self.pair_j[p], self.pair_k[p]
            w = value[m] * sig[b, j] * sig[b, k]
            # a pair whose term sits on more of the group's even readings than the others is the one (many
            # blocks: each of its readings narrows 1 in M): the other candidates are dropped
            ob, oh, ov = block[half == 0][:, None], bucket[half == 0][:, None], value[half == 0][:, None]
            direct = (((lab[ob, j] ^ lab[ob, k]) == oh) & (np.abs(sig[ob, j] * sig[ob, k] * w - ov) <= self.tol)).sum(0)
            if direct.max() >= 3:
                keep = direct == direct.max()
                p, j, k, w = p[keep], j[keep], k[keep], w[keep]
            # the third players that put a term of (j, k, l) on another reading of the group
            others = np.arange(len(block)) != m
            eb, eh = block[others & (half == 0)][:, None], bucket[others & (half == 0)][:, None]
            qb, qh = block[others & (half == 1)][:, None], bucket[others & (half == 1)][:, None]
            thirds = [inv[eb, eh ^ lab[eb, j]], inv[eb, eh ^ lab[eb, k]], inv[qb, qh ^ lab[qb, j] ^ lab[qb, k]]]
            thirds = [t.reshape(-1) for t in thirds if t.size]
            pairs = np.stack([j, k], axis=1)
            if not thirds:
                return pairs, w, np.zeros((0, 3), np.int64), np.zeros(0)
            third = np.concatenate(thirds)
            owner = np.tile(np.arange(len(p)), len(third) // len(p))
            keep = (third >= 0) & (third != j[owner]) & (third != k[owner])
            triples = np.sort(np.stack([j[owner], k[owner], third], axis=1)[keep], axis=1)
            _, first = np.unique((triples[:, 0] * self.n + triples[:, 1]) * self.n + triples[:, 2], return_index=True)
            return pairs, w, triples[first], w[owner][keep][first]
        m = 0
        b, h = int(block[m]), int(bucket[m])
        j, k = self.pair_j, self.pair_k
        third = inv[b, h ^ lab[b, j] ^ lab[b, k]]
        keep = third > k  # each triple once, as j < k < l
        triples = np.stack([j[keep], k[keep], third[keep]], axis=1)
        qb, qh = block[1:, None], bucket[1:, None]
        lands = (lab[qb, triples[:, 0]] ^ lab[qb, triples[:, 1]] ^ lab[qb, triples[:, 2]]) == qh
        triples = triples[lands.any(axis=0)]
        w = value[m] * sig[b, triples[:, 0]] * sig[b, triples[:, 1]] * sig[b, triples[:, 2]]
        return np.zeros((0, 2), np.int64), np.zeros(0), triples, w


def peel(design: BlockDesign, odd: np.ndarray, even: np.ndarray) -> Peeled:
    """The pair and triple unanimity terms that the exact blocks identify (see the module docstring).
    odd, even: each design row's pair halves."""
    if design.rows.shape[1] > MAX_PLAYERS:
        return Peeled([], 0.0, 0)
    blocks, odd_r, even_r = block_readings(design, odd, even)
    if len(blocks) == 0:
        return Peeled([], 0.0, 0)
    state = _State(design, blocks, odd_r, even_r)
    if state.zero_share() < MIN_START_SHARE:
        return Peeled([], state.zero_share(), len(blocks))
    found: dict[tuple[int, ...], float] = {}
    for _round in range(MAX_ROUNDS):
        block, half, bucket, value = state.nonzero()
        if len(value) < MIN_GAIN:
            break
        magnitude = np.abs(value)
        order = np.argsort(-magnitude, kind="stable")
        sorted_mag = magnitude[order]
        breaks = np.flatnonzero(-np.diff(sorted_mag) > state.tol)
        starts = np.concatenate([[0], breaks + 1])
        ends = np.concatenate([breaks + 1, [len(order)]])
        progress = False
        for lo, hi in zip(starts, ends, strict=True):
            if hi - lo < MIN_GAIN:
                continue
            members = order[lo:hi]
            group = (block[members], half[members], bucket[members], value[members])
            pairs, pw, triples, tw = state.candidates(group)
            score = np.concatenate([state.gain(pairs, pw), state.gain(triples, tw)])
            if len(score) == 0:
                continue
            best = int(np.argmax(score))
            if score[best] < MIN_GAIN or np.sum(score == score[best]) > 1:
                continue
            chosen, w = (
                (pairs[best], pw[best]) if best < len(pairs) else (triples[best - len(pairs)], tw[best - len(pairs)])
            )
            players, w = tuple(int(x) for x in chosen), float(w)
            if len(players) == 2 and state.triple_ties(players, w):
                continue
            # a set of four can only out-score the triple on a reading of this magnitude that the triple
            # leaves: none when the triple zeroes the whole group
            if len(players) == 3 and score[best] < hi - lo and state.quad_ties(players, w):
                continue
            state.subtract(players, w)
            found[players] = found.get(players, 0.0) + w * 2.0 ** len(players)
            progress = True
        if not progress:
            break
    terms = [(p, c) for p, c in found.items() if c != 0.0]
    return Peeled(terms, state.zero_share(), len(blocks))
