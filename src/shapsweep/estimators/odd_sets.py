r"""Odd parts of unanimity sets of 3-5 players for the paired Banzhaf fit, grown from the strongest triples.

Why: a unanimity game on a set Q, prod_{j in Q} (1 + x_j) / 2 in +-1 coding, spreads its coefficient
c / 2^|Q| over every Walsh term inside Q: a 4-set gives four triples of c/16, a 5-set ten triples and a
quintuple of c/32. Fitted triple by triple (odd_triples.py) such a set costs 4 or 11 coefficients, each
too weak to tell from noise at 8n-32n, so the triples' fit kept the linear one on order-5 games. One
column per set, u_Q = the odd Walsh terms of Q of degree >= 3, costs one coefficient, and its score
|<residual, u_Q>| / ||u_Q|| adds the evidence of all of Q's triples (heredity: a set shows through its
triples).
The pairs' even parts (v(S) + v(N\S)) / 2, unused by the odd fit, hold Q's pairs with the same
coefficient: a set is scored on both halves, |w_o O + w_e E| / sqrt(w_o k_o + w_e k_e) (O, E the sums
of its triples' and pairs' signed scores, k their numbers, w the halves' inverse residual variances).
How: greedy rounds (orthogonal matching pursuit, several columns a round) rescreen on the current
residuals: one fast Walsh-Hadamard transform per block scores triples and pairs by look-up (as
odd_triples.py; a path's first round every triple, later rounds its POOL strongest); the SEEDS
strongest triples grow into 4-sets by one player, the FIVE_SEEDS strongest 4-sets into 5-sets by one
more; the best-scored candidates are rescored on their actual columns and the best added to the
least-squares fit with the main effects (the even half is fitted with their even columns alongside,
for the next round's scores). The number of sets is chosen by K-fold cross-validation on the pairs (0,
the linear fit, unless a path beats it). Below 24n each fit's set coefficients are shrunk by the
non-negative garrote (odd_triples.garrote_solve): a false set, kept for its large score, has as large a
coefficient as a true one and moves the main effects it aliases. A fixed dictionary from one screen
of the linear fit's residual did worse than the linear fit at 16n (seeds 0-5): the rescreening is what
finds the sets.
References: Breiman, "Better subset regression using the nonnegative garrote", 1995; Kang et al.,
"Learning to understand: identifying interactions via the Moebius transform", 2024 (sparse Moebius
structure); Pati, Rezaiifar and Krishnaprasad, "Orthogonal matching pursuit", 1993.
"""

from __future__ import annotations

import numpy as np

from .hadamard_design import BlockDesign
from .odd_triples import _Path, all_triples, cross_validated_fit, fwht

SEEDS = 48  # strongest triples grown into 4-sets...
FIVE_SEEDS = 16  # 4-sets grown into 5-sets
POOL = 4096  # triples kept after a path's first screening of all C(n,3)
FOLDS = 5  # cross-validation folds; above FIVE_FOLD_MAX_CELLS (pairs x players, what a path costs), 3: at
FIVE_FOLD_MAX_CELLS = 1024 * 128  # n = 128, 32n, CPU per explanation 1.0 -> 0.8 s, error 0.69 -> 0.72x KB
ROUNDS = 8  # greedy rounds per path, up to geometrically spaced column counts (14 gained nothing)
MAX_PLAYERS = 128  # as odd_triples.py: scoring C(256,3) triples costs more
MIN_ROWS_PER_PLAYER = 6  # below (under 12n), the sets gained nothing on seeds 0-5 (n = 64 and 128 at 8n)
PATH_FLOPS = 1.5e8  # bounds a path's column products, as in odd_triples.py
# each fit's set coefficients shrink by the garrote (1 - 3^2 / z^2)+ (odd_triples.garrote_solve): seeds 0-23,
# 16n, order 5, ratio to Kernel Banzhaf n = 32 0.78 -> 0.67, n = 64 0.82 -> 0.78, n = 128 0.91 -> 0.87
# (2: 0.69, 0.79, 0.87; 4: 0.69, 0.78, 0.87; 5: 0.72, 0.81, 0.88); on the triples' fit it changed nothing.
# From 24n (12 pairs a player) it is off: there the sets' scores are strong and it shrank true sets
# (seeds 0-23, 32n, n = 128: order 5 0.72 -> 0.76, order 3 0.18 -> 0.20)
GARROTE = 3.0
GARROTE_MAX_ROWS_PER_PLAYER = 12


class TripleScreen:
    """Signed <residual, chi_T> of triples T (and of pairs) over the rows in blocks: one fast
    Walsh-Hadamard transform per block, then a look-up of each term's bin (label XOR) and sign."""

    def __init__(self, design: BlockDesign, block: np.ndarray, index: np.ndarray):
        self.labels, self.flips = design.labels, design.flips
        self.offset = np.arange(len(design.labels)) * design.size
        self.rows, self.shape = block >= 0, (len(design.labels), design.size)
        self.block, self.index = block[self.rows], index[self.rows]
        self.n = design.labels.shape[1]
        self._every = self._pairs = None

    def binned(self, residual: np.ndarray) -> np.ndarray:
        """(blocks, M): each block's Walsh-Hadamard transform of the residual on its rows."""
        spread = np.zeros(self.shape)
        np.add.at(spread, (self.block, self.index), residual[self.rows])
        return fwht(spread)

    def _look_up(self, binned: np.ndarray, players) -> np.ndarray:
        label, flip = 0, False
        for p in players:
            label, flip = label ^ self.labels[:, p], flip ^ self.flips[:, p]
        offset = self.offset.reshape(-1, *([1] * np.ndim(label[0])))
        return (binned.ravel()[label + offset] * (1 - 2 * flip.astype(np.float64))).sum(axis=0)

    def _bins(self, players) -> tuple[np.ndarray, np.ndarray]:
        """Each term's flat bin in each block and its sign, for look-ups repeated every round."""
        labels = self.labels.astype(np.uint16 if self.shape[1] <= 2**16 else np.int64)  # less to move
        label, flip = 0, False
        for p in players:
            label, flip = label ^ labels[:, p], flip ^ self.flips[:, p]
        slot = label + self.offset[:, None]
        return slot.astype(np.int32 if slot.max() < 2**31 else np.int64), (1 - 2 * flip.astype(np.float32))

    def triples(self, binned: np.ndarray, a, b, c) -> np.ndarray:
        """Signed scores of the triples (a, b, c), arrays of distinct players (any shape)."""
        return self._look_up(binned, (a, b, c))

    def every_triple(self, binned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(3, C(n,3)) all triples and their signed scores."""
        if self._every is None:
            every = all_triples(self.n)
            self._every = (every, *self._bins(every))
        every, slot, sign = self._every
        return every, (binned.ravel()[slot] * sign).sum(axis=0)

    def pairs(self, binned: np.ndarray) -> np.ndarray:
        """(n, n) signed scores of every pair (zero diagonal)."""
        i, j = np.triu_indices(self.n, 1)
        if self._pairs is None:
            self._pairs = self._bins((i, j))
        slot, sign = self._pairs
        out = np.zeros((self.n, self.n))
        out[i, j] = (binned.ravel()[slot] * sign).sum(axis=0)
        return out + out.T


def _top(a: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries of a 1-d array, largest first."""
    if k < len(a):
        a_part = np.argpartition(-a, k)[:k]
        return a_part[np.argsort(-a[a_part])]
    return np.argsort(-a)


def candidate_sets(screen, odd, pool, keep, pair, weights) -> list[tuple[int, ...]]:
    """The `keep` best-scored triples of `pool` (3, P), and 4-sets grown from the SEEDS strongest of them
    by one player, 5-sets from the FIVE_SEEDS strongest 4-sets by one more. A set's evidence: the sum O
    of its triples' signed scores (`odd`: the residual's binned transform; k_o triples) and the sum E
    of its pairs' (`pair`: the even part's pair scores; k_e pairs). Both carry the set's one
    coefficient, so the score is |w_o O + w_e E| / sqrt(w_o k_o + w_e k_e), w the inverse residual
    variances (`weights`)."""
    n, (wo, we) = screen.n, weights
    a, b, c = pool
    odd3 = screen.triples(odd, a, b, c)
    even3 = pair[a, b] + pair[a, c] + pair[b, c]
    strength = np.abs(wo * odd3 + we * even3) / np.sqrt(wo + 3 * we)
    order = _top(strength, max(keep, SEEDS))
    found = [(float(strength[k]), (int(a[k]), int(b[k]), int(c[k]))) for k in order[:keep]]
    seeds = order[:SEEDS]
    p, q, r = (v[seeds, None] for v in (a, b, c))
    d = np.arange(n)[None, :]  # a d inside the seed looks up some other term; masked out below
    fresh = (d != p) & (d != q) & (d != r)
    odd4 = odd3[seeds, None] + screen.triples(odd, p, q, d) + screen.triples(odd, p, r, d)
    odd4 = odd4 + screen.triples(odd, q, r, d)
    even4 = even3[seeds, None] + pair[p, d] + pair[q, d] + pair[r, d]
    four = np.where(fresh, np.abs(wo * odd4 + we * even4) / np.sqrt(4 * wo + 6 * we), -1.0)
    grown: dict[tuple[int, ...], tuple[float, float, float]] = {}
    for k in _top(four.ravel(), keep):
        seed, player = divmod(int(k), n)
        members = tuple(sorted((int(p[seed, 0]), int(q[seed, 0]), int(r[seed, 0]), player)))
        grown.setdefault(members, (float(four[seed, player]), odd4[seed, player], even4[seed, player]))
    found += [(score, members) for members, (score, _o, _e) in grown.items()]
    top4 = sorted(grown, key=lambda m: -grown[m][0])[:FIVE_SEEDS]
    if top4:
        sets4 = np.array(top4)
        odd5 = np.array([grown[m][1] for m in top4])[:, None]
        even5 = np.array([grown[m][2] for m in top4])[:, None]
        e = np.arange(n)[None, :]
        fresh = np.all(sets4[:, :, None] != e[:, None, :], axis=1)
        e = np.broadcast_to(e, fresh.shape)
        for i in range(4):
            even5 = even5 + pair[sets4[:, i, None], e]
            for j in range(i + 1, 4):
                odd5 = odd5 + screen.triples(odd, sets4[:, i, None], sets4[:, j, None], e)
        five = np.where(fresh, np.abs(wo * odd5 + we * even5) / np.sqrt(11 * wo + 10 * we), -1.0)
        for k in _top(five.ravel(), keep):
            row, player = divmod(int(k), n)
            if five[row, player] > 0:
                found.append((float(five[row, player]), (*top4[row], player)))
    out: dict[tuple[int, ...], None] = {}
    for _score, members in sorted(found, reverse=True):
        out.setdefault(tuple(sorted(members)))
        if len(out) == keep:
            break
    return list(out)


def _counts(x: np.ndarray, sets: list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """(m, len(sets)) k, how many of each set's players each row holds, and (len(sets),) the sizes."""
    incidence = np.zeros((x.shape[1], len(sets)))
    for j, members in enumerate(sets):
        incidence[list(members), j] = 1.0
    return ((x + 1) / 2) @ incidence, incidence.sum(axis=0)


def set_columns(x: np.ndarray, sets: list[tuple[int, ...]], k=None) -> np.ndarray:
    """(m, len(sets)): each set's odd Walsh terms of degree >= 3, sum_{U subset Q, |U| odd >= 3} chi_U(x).
    With k of Q's s players in S, that is 2^|Q| times the odd part of the unanimity game on Q minus its
    main effects: 2^(s-1) ([k = s] - [k = 0]) - (2k - s), so one matrix product counts k for every set."""
    k, size = _counts(x, sets) if k is None else k
    return 2 ** (size - 1) * ((k == size).astype(np.float64) - (k == 0)) - (2 * k - size)


def even_columns(x: np.ndarray, sets: list[tuple[int, ...]], k=None) -> np.ndarray:
    """(m, len(sets)): each set's even Walsh terms of degree >= 2, 2^(s-1) ([k = s] + [k = 0]) - 1."""
    k, size = _counts(x, sets) if k is None else k
    return 2 ** (size - 1) * ((k == size).astype(np.float64) + (k == 0)) - 1


def _variance(residual: np.ndarray, weight: np.ndarray) -> float:
    return max(float(residual @ residual) / max(float(weight.sum()), 1.0), 1e-300)


def _greedy(x, t, weight, screen, sizes, even=None):
    """OMP on the rows with weight 1, the candidates rescreened from each round's residual:
    (columns added, the _Path; `path.sets`: the sets in the order added). With `even` (the pairs' even
    parts), a set's even columns are fitted alongside (with a constant) and their residual adds its
    evidence to the scores."""
    path = _Path(x, t, weight, int(sizes[-1]) if len(sizes) else 0)
    residual = weight * (t - x @ path.solve())
    if even is not None:
        even_path = _Path(np.ones((len(t), 1)), even, weight, int(sizes[-1]) if len(sizes) else 0)
        even_residual = weight * (even - even_path.solve()[0])
    chosen: set = set()
    path.sets = []
    added, pool = 0, None
    for size in sizes:
        wo = 1.0 / _variance(residual, weight)
        if even is None:
            pair, we = np.zeros((screen.n, screen.n)), 0.0
        else:
            pair, we = screen.pairs(screen.binned(even_residual)), 1.0 / _variance(even_residual, weight)
        odd = screen.binned(residual)
        if pool is None:  # the first round screens every triple; later rounds the POOL strongest
            every, scores = screen.every_triple(odd)
            a, b, c = every
            first = np.abs(wo * scores + we * (pair[a, b] + pair[a, c] + pair[b, c]))
            pool = every[:, _top(first, POOL)]
        found = candidate_sets(screen, odd, pool, 2 * (size - added) + 32, pair, (wo, we))
        sets = [q for q in found if q not in chosen]
        if not sets:
            break
        counts = _counts(x, sets)
        columns = set_columns(x, sets, counts)
        fit = wo * (residual @ columns)
        norm = wo * (weight @ columns**2)
        if even is not None:
            even_cols = even_columns(x, sets, counts)
            fit += we * (even_residual @ even_cols)
            norm += we * (weight @ even_cols**2)
        score = np.abs(fit) / np.sqrt(np.maximum(norm, 1e-300))
        best = np.argsort(-score)[: size - added]
        chosen.update(sets[k] for k in best)
        path.sets += [sets[k] for k in best]
        added += len(best)
        path.add(columns[:, best])
        residual = weight * (t - path.columns @ path.solve())
        if even is not None:
            even_path.add(even_cols[:, best])
            even_residual = weight * (even - even_path.columns @ even_path.solve())
    return added, path


def fit_odd_sets(
    x: np.ndarray, t: np.ndarray, design: BlockDesign, block: np.ndarray, index: np.ndarray, rng, even=None
):
    """As odd_triples.fit_odd_triples, with set columns: main effects (+-1 coding) and their OLS
    standard errors, the linear and chosen fits' held-out errors, and a dict of what was chosen; None
    when there are too few rows to try. `even`: the rows' even parts, in the order of `x` (optional)."""
    m, n = x.shape
    extra = max(0, int((m * (FOLDS - 1) / FOLDS - n) // 2))  # 3 folds' training rows still carry it from 6n
    extra = min(extra, int((np.sqrt(n * n + 4 * PATH_FLOPS / m) - n) / 2))
    if n > MAX_PLAYERS or n < 5 or m < MIN_ROWS_PER_PLAYER * n or extra < 2 or not np.any(block >= 0):
        return None
    screen = TripleScreen(design, block, index)
    sizes = np.unique(np.geomspace(1, extra, ROUNDS).astype(int))
    folds = FOLDS if m * n <= FIVE_FOLD_MAX_CELLS + n else 3  # (seeds 0-5); n = 128 at 16n keeps 5 folds

    def grow(weight, counts):
        return _greedy(x, t, weight, screen, counts, even)

    garrote = GARROTE if m < GARROTE_MAX_ROWS_PER_PLAYER * n else 0.0
    return cross_validated_fit(x, t, grow, sizes, folds, rng, "odd_sets", "sets", garrote)
