r"""Odd parts of unanimity sets of 3-5 players for the paired Banzhaf fit, grown from the strongest triples.

Why: a unanimity game on a set Q, prod_{j in Q} (1 + x_j) / 2 in +-1 coding, spreads its coefficient
c / 2^|Q| over every Walsh term inside Q: a 4-set gives four triples of c/16, a 5-set ten triples and a
quintuple of c/32. Fitted triple by triple (odd_triples.py) such a set costs 4 or 11 coefficients, each
too weak to tell from noise at 8n-32n, so the triples' fit kept the linear one on order-5 games. One
column per set, u_Q = the odd Walsh terms of Q of degree >= 3, costs one coefficient, and its score
|<residual, u_Q>| / ||u_Q|| adds the evidence of all of Q's triples (heredity: a set shows through its
triples).
How: one fast Walsh-Hadamard transform per block scores every triple by look-up (as odd_triples.py); the
strongest SEEDS triples are grown to 4-sets by one player and to 5-sets by two, each scored by the sum
of its triples' signed scores over the square root of their number. The best DICTIONARY triples, 4-sets
and 5-sets become columns; greedy rounds (orthogonal matching pursuit, several columns a round) add the
best-scored columns to the least-squares fit with the main effects, and the number kept is chosen by
K-fold cross-validation on the pairs (0, the linear fit, unless a path beats it).
Reference: Kang et al., "Learning to understand: identifying interactions via the Moebius transform",
2024 (sparse Moebius structure); Pati, Rezaiifar and Krishnaprasad, "Orthogonal matching pursuit", 1993.
"""

from __future__ import annotations

import numpy as np

from .hadamard_design import BlockDesign
from .odd_triples import FOLDS, RIDGE, _Path, all_triples, fwht

SEEDS = 48  # strongest triples grown into 4-sets...
FIVE_SEEDS = 16  # ...and into 5-sets
ROUNDS = 8  # greedy rounds per path, up to geometrically spaced column counts (14 gained nothing)
MAX_PLAYERS = 64  # above, one rescreening costs too much (n = 128 at 32n: 2 s an explanation)
MIN_ROWS_PER_PLAYER = 6  # below (under 12n), the sets gained nothing on seeds 0-5 (n = 64 and 128 at 8n)
PATH_FLOPS = 1.5e8  # bounds a path's column products, as in odd_triples.py


class TripleScreen:
    """Signed <residual, chi_T> for every triple T over the rows in blocks: one fast Walsh-Hadamard
    transform per block, then a look-up of each triple's bin and sign."""

    def __init__(self, design: BlockDesign, block: np.ndarray, index: np.ndarray):
        n = design.labels.shape[1]
        a, b, c = all_triples(n)
        labels, flips = design.labels, design.flips
        offset = (np.arange(len(labels)) * design.size)[:, None]
        self.slot = (labels[:, a] ^ labels[:, b] ^ labels[:, c]) + offset
        self.sign = 1 - 2 * (flips[:, a] ^ flips[:, b] ^ flips[:, c]).astype(np.float64)
        self.rows, self.shape = block >= 0, (len(labels), design.size)
        self.block, self.index = block[self.rows], index[self.rows]
        # (n, n, n) position of each ordered triple in the scores; distinct players only, else the
        # trailing zero
        self.position = np.full((n, n, n), a.size, dtype=np.int32)
        k = np.arange(a.size, dtype=np.int32)
        for p, q, r in ((a, b, c), (a, c, b), (b, a, c), (b, c, a), (c, a, b), (c, b, a)):
            self.position[p, q, r] = k
        self.triples = np.stack([a, b, c], axis=1)
        i, j = np.triu_indices(n, 1)
        self.pairs = (i, j)
        self.pair_slot = (labels[:, i] ^ labels[:, j]) + offset
        self.pair_sign = 1 - 2 * (flips[:, i] ^ flips[:, j]).astype(np.float64)

    def _binned(self, residual: np.ndarray) -> np.ndarray:
        spread = np.zeros(self.shape)
        np.add.at(spread, (self.block, self.index), residual[self.rows])
        return fwht(spread).ravel()

    def pair_scores(self, residual: np.ndarray) -> np.ndarray:
        """(n, n) signed <residual, chi_{ab}> over the rows in blocks (zero diagonal): the even Walsh
        terms of order 2, for an even-part residual."""
        n = self.position.shape[0]
        score = (self._binned(residual)[self.pair_slot] * self.pair_sign).sum(axis=0)
        out = np.zeros((n, n))
        out[self.pairs] = score
        return out + out.T

    def __call__(self, residual: np.ndarray) -> np.ndarray:
        looked_up = self._binned(residual)[self.slot] * self.sign
        return np.append(looked_up.sum(axis=0), 0.0)


def _top(a: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries of a 1-d array, largest first."""
    if k < len(a):
        a_part = np.argpartition(-a, k)[:k]
        return a_part[np.argsort(-a[a_part])]
    return np.argsort(-a)


def candidate_sets(
    screen: TripleScreen, scores: np.ndarray, keep: int, pair: np.ndarray | None = None, weights=(1.0, 0.0)
) -> list[tuple[int, ...]]:
    """The `keep` best-scored triples, 4-sets and 5-sets, 4- and 5-sets grown from the strongest
    triples. A set's evidence: the sum O of its triples' signed scores (k_o of them) and, with `pair`
    (signed pair scores of the even part), the sum E of its pairs' (k_e); both carry the set's one
    coefficient, so the score is |w_o O + w_e E| / sqrt(w_o k_o + w_e k_e), w the inverse residual
    variances (`weights`)."""
    n, pos, s = screen.position.shape[0], screen.position, scores
    wo, we = weights
    pair = np.zeros((n, n)) if pair is None else pair
    a, b, c = screen.triples.T
    strength = np.abs(wo * scores[:-1] + we * (pair[a, b] + pair[a, c] + pair[b, c])) / np.sqrt(wo + 3 * we)
    order = _top(strength, max(keep, SEEDS))
    found = [(float(strength[k]), tuple(screen.triples[k].tolist())) for k in order[:keep]]
    p, q, r = screen.triples[order[:SEEDS]].T  # each (seeds,)
    inside = np.zeros((len(p), n), dtype=bool)
    for player in (p, q, r):
        inside[np.arange(len(p)), player] = True
    base = s[pos[p, q, r]][:, None]
    base_even = (pair[p, q] + pair[p, r] + pair[q, r])[:, None]
    odd4 = base + s[pos[p, q, :]] + s[pos[p, r, :]] + s[pos[q, r, :]]
    even4 = base_even + pair[p] + pair[q] + pair[r]
    four = np.abs(wo * odd4 + we * even4) / np.sqrt(4 * wo + 6 * we)
    four[inside] = -1.0
    for k in _top(four.ravel(), keep):
        seed, d = divmod(int(k), n)
        found.append((float(four[seed, d]), (int(p[seed]), int(q[seed]), int(r[seed]), d)))
    p, q, r = (v[:FIVE_SEEDS, None, None] for v in (p, q, r))
    base, base_even = base[:FIVE_SEEDS, :, None], base_even[:FIVE_SEEDS, :, None]
    d, e = np.arange(n)[None, :, None], np.arange(n)[None, None, :]
    odd5 = base + s[pos[p, q, d]] + s[pos[p, q, e]] + s[pos[p, r, d]] + s[pos[p, r, e]] + s[pos[q, r, d]]
    odd5 = odd5 + s[pos[q, r, e]] + s[pos[p, d, e]] + s[pos[q, d, e]] + s[pos[r, d, e]]
    even5 = base_even + pair[p, d] + pair[q, d] + pair[r, d] + pair[p, e] + pair[q, e] + pair[r, e] + pair[d, e]
    five = np.abs(wo * odd5 + we * even5) / np.sqrt(11 * wo + 10 * we)
    bad = inside[: len(p), :, None] | inside[: len(p), None, :] | (d >= e)
    five[bad] = -1.0
    for k in _top(five.ravel(), keep):
        seed, rest = divmod(int(k), n * n)
        u, v = divmod(rest, n)
        found.append((float(five[seed, u, v]), (int(p[seed, 0, 0]), int(q[seed, 0, 0]), int(r[seed, 0, 0]), u, v)))
    out: dict[tuple[int, ...], None] = {}
    for _score, members in sorted(found, reverse=True):
        out.setdefault(tuple(sorted(members)))
        if len(out) == keep:
            break
    return list(out)


def set_columns(x: np.ndarray, sets: list[tuple[int, ...]]) -> np.ndarray:
    """(m, len(sets)): each set's odd Walsh terms of degree >= 3, sum_{U subset Q, |U| odd >= 3} chi_U(x).
    With k of Q's s players in S, that is 2^|Q| times the odd part of the unanimity game on Q minus its
    main effects: 2^(s-1) ([k = s] - [k = 0]) - (2k - s), so one matrix product counts k for every set."""
    incidence = np.zeros((x.shape[1], len(sets)))
    for j, members in enumerate(sets):
        incidence[list(members), j] = 1.0
    size = incidence.sum(axis=0)
    k = ((x + 1) / 2) @ incidence
    return 2 ** (size - 1) * ((k == size).astype(np.float64) - (k == 0)) - (2 * k - size)


def even_columns(x: np.ndarray, sets: list[tuple[int, ...]]) -> np.ndarray:
    """(m, len(sets)): each set's even Walsh terms of degree >= 2, 2^(s-1) ([k = s] + [k = 0]) - 1."""
    incidence = np.zeros((x.shape[1], len(sets)))
    for j, members in enumerate(sets):
        incidence[list(members), j] = 1.0
    size = incidence.sum(axis=0)
    k = ((x + 1) / 2) @ incidence
    return 2 ** (size - 1) * ((k == size).astype(np.float64) + (k == 0)) - 1


def _variance(residual: np.ndarray, weight: np.ndarray) -> float:
    return max(float(residual @ residual) / max(float(weight.sum()), 1.0), 1e-300)


def _greedy(x, t, weight, screen, sizes, even=None):
    """OMP on the rows with weight 1, the candidates rescreened from each round's residual:
    (columns added, the _Path). With `even` (the pairs' even parts), a set's even columns are fitted
    alongside (with a constant) and their residual adds its evidence to the scores."""
    path = _Path(x, t, weight, int(sizes[-1]) if len(sizes) else 0)
    residual = weight * (t - x @ path.solve())
    if even is not None:
        even_path = _Path(np.ones((len(t), 1)), even, weight, int(sizes[-1]) if len(sizes) else 0)
        even_residual = weight * (even - even_path.solve()[0])
    chosen: set = set()
    added = 0
    for size in sizes:
        wo = 1.0 / _variance(residual, weight)
        if even is None:
            pair, we = None, 0.0
        else:
            pair, we = screen.pair_scores(even_residual), 1.0 / _variance(even_residual, weight)
        found = candidate_sets(screen, screen(residual), 2 * (size - added) + 32, pair, (wo, we))
        sets = [q for q in found if q not in chosen]
        if not sets:
            break
        columns = set_columns(x, sets)
        fit = wo * (residual @ columns)
        norm = wo * (weight[:, None] * columns**2).sum(axis=0)
        if even is not None:
            even_cols = even_columns(x, sets)
            fit += we * (even_residual @ even_cols)
            norm += we * (weight[:, None] * even_cols**2).sum(axis=0)
        score = np.abs(fit) / np.sqrt(np.maximum(norm, 1e-300))
        best = np.argsort(-score)[: size - added]
        chosen.update(sets[k] for k in best)
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
    when there are too few rows to try."""
    m, n = x.shape
    extra = max(0, int((m * (FOLDS - 1) / FOLDS - n) // 2))
    extra = min(extra, int((np.sqrt(n * n + 4 * PATH_FLOPS / m) - n) / 2))
    if n > MAX_PLAYERS or n < 5 or m < MIN_ROWS_PER_PLAYER * n or extra < 2 or not np.any(block >= 0):
        return None
    screen = TripleScreen(design, block, index)
    sizes = np.unique(np.geomspace(1, extra, ROUNDS).astype(int))
    fold = rng.permutation(m) % FOLDS
    held_error = np.zeros(len(sizes) + 1)
    for k in range(FOLDS):
        held = fold == k
        added, path = _greedy(x, t, (~held).astype(np.float64), screen, sizes, even)
        for r, size in enumerate([0, *sizes]):
            size = n + min(added, size)
            held_error[r] += float(np.sum((t[held] - path.columns[held, :size] @ path.solve(size)) ** 2))
    held_error /= m
    best = int(np.argmin(held_error))
    _added, path = _greedy(x, t, np.ones(m), screen, sizes[:best], even)
    coef = path.solve()
    p = path.gram.shape[0]
    residual = t - path.columns @ coef
    sigma2 = max(float(residual @ residual) / max(1, m - p), held_error[best], 1e-16 * float(t @ t) / m)
    covariance = np.linalg.inv(path.gram + RIDGE * max(1.0, float(np.trace(path.gram)) / p) * np.eye(p))
    stderr = np.sqrt(np.clip(np.diag(covariance)[:n] * sigma2, 0.0, None))
    details = {
        "odd_sets": p - n,
        "odd_sets_cv": f"{FOLDS}-fold error by number of sets: "
        + ", ".join(f"{k}: {e:.4g}" for k, e in zip([0, *sizes.tolist()], held_error, strict=True)),
    }
    return coef[:n], stderr, held_error[0], held_error[best], details
