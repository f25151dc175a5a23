r"""Order-3 Walsh terms for the paired Banzhaf fit, their number chosen by K-fold cross-validation.

Why: with x in {-1,+1}^n, a complementary pair's half-difference t = (v(S) - v(N\S)) / 2 holds only
the odd Walsh terms of v, and the Banzhaf values are twice its first-order coefficients. A paired
linear fit leaves the odd terms of order >= 3 in its residual, which is all of its error; fitting the
few order-3 terms that carry most of that residual jointly with the main effects removes them.
How: candidates are scored by their correlation with the residual. On a Hadamard block
(hadamard_design.py) a triple's column is a Hadamard column times a sign, so one fast Walsh-Hadamard
transform per block scores all C(n,3) triples by look-up. The strongest POOL_SIZE triples form the
pool; greedy rounds add the best-scored pool triples and refit by least squares (normal equations,
grown column by column). The number of triples is chosen by K-fold cross-validation on the pairs
already evaluated (each fold's path is selected on its training rows only), and 0 (the linear fit)
is kept unless a path beats it: games whose odd part is dense (order-5 terms, real models) stay linear.
Reference: OddSHAP (shapiq 1.8) for the idea of fitting odd terms of paired designs; Scheibler,
Haghighatshoar and Vetterli, "A fast Hadamard transform for signals with sublinear sparsity", 2015,
for scoring Walsh terms through aliased Hadamard bins.
"""

from __future__ import annotations

import numpy as np

from .hadamard_design import BlockDesign

MAX_PLAYERS = 128  # C(128, 3) = 341,376 triples scored per block; above, the fit stays linear (cost)
POOL_SIZE = 4096  # triples kept after the first screening
ROUNDS = 14  # greedy rounds per path, adding triples up to geometrically spaced counts; the
# cross-validation compares the path after each
FOLDS = 5
MIN_ROWS_PER_PLAYER = 6  # below (budgets under 12n), the triples lost to the linear fit (seeds 0-5, n = 32-128)
PATH_FLOPS = 1.5e8  # bounds a path's column products: n = 128 at 32n keeps at most 214 triples
RIDGE = 1e-9  # relative, keeps the normal equations solvable when a triple repeats a column


def fwht(a: np.ndarray) -> np.ndarray:
    """Unnormalised Walsh-Hadamard transform along the last axis (length a power of two)."""
    a = np.array(a, dtype=np.float64)
    size, h = a.shape[-1], 1
    while h < size:
        a = a.reshape(*a.shape[:-1], -1, 2, h)
        a = np.stack([a[..., 0, :] + a[..., 1, :], a[..., 0, :] - a[..., 1, :]], axis=-2)
        a = a.reshape(*a.shape[:-3], size)
        h *= 2
    return a


def all_triples(n: int) -> np.ndarray:
    """(3, C(n,3)) players a < b < c."""
    i, j = np.triu_indices(n, 1)
    parts = [np.stack([i[j < c], j[j < c], np.full(int(np.sum(j < c)), c)]) for c in range(2, n)]
    return np.concatenate(parts, axis=1).astype(np.int32) if parts else np.zeros((3, 0), np.int32)


class _Bins:
    """Each triple's bin (label XOR) and sign in each block, for scoring by look-up."""

    def __init__(self, design: BlockDesign, block: np.ndarray, index: np.ndarray, triples: np.ndarray):
        a, b, c = triples
        labels, flips = design.labels, design.flips
        offset = (np.arange(len(labels)) * design.size)[:, None]
        self.triples = triples
        self.slot = (labels[:, a] ^ labels[:, b] ^ labels[:, c]) + offset  # (blocks, triples), flat bin index
        self.slot = self.slot.astype(np.int32 if self.slot.size and self.slot.max() < 2**31 else np.int64)
        self.sign = (1 - 2 * (flips[:, a] ^ flips[:, b] ^ flips[:, c])).astype(np.float32)
        self.shape, self.block, self.index = (len(labels), design.size), block, index

    def subset(self, keep: np.ndarray) -> _Bins:
        out = object.__new__(_Bins)
        out.triples, out.slot, out.sign = self.triples[:, keep], self.slot[:, keep], self.sign[:, keep]
        out.shape, out.block, out.index = self.shape, self.block, self.index
        return out

    def score(self, residual: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """|sum over `rows` (in blocks) of residual * chi_T| for every triple."""
        spread = np.zeros(self.shape)
        np.add.at(spread, (self.block[rows], self.index[rows]), residual[rows])
        looked_up = fwht(spread).ravel()[self.slot]
        looked_up *= self.sign
        return np.abs(looked_up.sum(axis=0))


class _Path:
    """Least squares on the main effects plus the triples added so far, on the rows with weight 1.
    Columns and normal equations live in arrays sized for `capacity` triples (grown, not copied)."""

    def __init__(self, x: np.ndarray, t: np.ndarray, weight: np.ndarray, capacity: int):
        (m, n), self.size = x.shape, x.shape[1]
        self.t, self.w = t, weight
        self.store = np.empty((m, n + capacity))
        self.store[:, :n] = x
        self.normal = np.empty((n + capacity, n + capacity))
        self.normal[:n, :n] = x.T @ (weight[:, None] * x)
        self.right = np.empty(n + capacity)
        self.right[:n] = x.T @ (weight * t)

    @property
    def columns(self) -> np.ndarray:
        return self.store[:, : self.size]

    @property
    def gram(self) -> np.ndarray:
        return self.normal[: self.size, : self.size]

    def add(self, new: np.ndarray) -> None:
        old, size = self.size, self.size + new.shape[1]
        weighted = self.w[:, None] * new
        self.store[:, old:size] = new
        self.normal[:size, old:size] = self.store[:, :size].T @ weighted
        self.normal[old:size, :old] = self.normal[:old, old:size].T
        self.right[old:size] = weighted.T @ self.t
        self.size = size

    def solve(self, size: int | None = None) -> np.ndarray:
        size = self.size if size is None else size
        gram = self.normal[:size, :size]
        ridge = RIDGE * max(1.0, float(np.trace(gram)) / size)
        return np.linalg.solve(gram + ridge * np.eye(size), self.right[:size])


def _chi(x: np.ndarray, triples: np.ndarray) -> np.ndarray:
    return x[:, triples[0]] * x[:, triples[1]] * x[:, triples[2]]


def _greedy(x, t, weight, every: _Bins, sizes: np.ndarray, in_block):
    """The path on the rows with weight 1: (triples added, in order; the _Path). The first round scores
    every triple and keeps a pool of the POOL_SIZE best; later rounds rescore the pool."""
    path = _Path(x, t, weight, int(sizes[-1]) if len(sizes) else 0)
    rows = in_block & (weight > 0)
    residual = weight * (t - x @ path.solve())
    first = every.score(residual, rows)
    keep = np.argpartition(-first, POOL_SIZE)[:POOL_SIZE] if len(first) > POOL_SIZE else np.arange(len(first))
    bins = every.subset(keep)
    added = 0
    free = np.ones(bins.slot.shape[1], dtype=bool)
    for size in sizes:
        score = np.where(free, bins.score(residual, rows), -1.0)
        best = np.argsort(-score)[: size - added]
        best = best[score[best] > 0]
        if len(best) == 0:
            break
        free[best] = False
        added += len(best)
        path.add(_chi(x, bins.triples[:, best]))
        residual = weight * (t - path.columns @ path.solve())
    return added, path


def fit_odd_triples(x: np.ndarray, t: np.ndarray, design: BlockDesign, block: np.ndarray, index: np.ndarray, rng):
    """Main effects (+-1 coding) and OLS standard errors of the fit with the chosen number of triples,
    the linear fit's and the chosen fit's held-out errors, and a dict of what was chosen; None when
    there are too few rows to try.

    `x` (m, n) +-1 rows, `t` their odd parts; `block`, `index`: each row's block in `design` and row in
    its Hadamard matrix (block -1: outside every block, e.g. the full coalition)."""
    m, n = x.shape
    in_block = block >= 0
    extra = max(0, int((m * (FOLDS - 1) / FOLDS - n) // 3))  # terms a fold's training rows can carry
    extra = min(extra, int((np.sqrt(n * n + 4 * PATH_FLOPS / m) - n) / 2))  # m (n + s) s <= PATH_FLOPS
    if n > MAX_PLAYERS or n < 3 or m < MIN_ROWS_PER_PLAYER * n or extra < 2:
        return None
    every = _Bins(design, block, index, all_triples(n))
    sizes = np.unique(np.geomspace(1, extra, ROUNDS).astype(int))

    def grow(weight, counts):
        return _greedy(x, t, weight, every, counts, in_block)

    return cross_validated_fit(x, t, grow, sizes, FOLDS, rng, "odd_triples", "triples")


def _inverse_diagonals(path: _Path) -> np.ndarray:
    """(p, p): row s - 1 holds the diagonal of the inverse of the path's first s columns' normal matrix
    (p: the path's columns). With gram = L L', the first s columns' gram is L_s L_s' and L_s^-1 is the
    leading block of L^-1, so every leading block's inverse diagonal is a running sum of squares of
    L^-1's rows: one factorisation per path, not one inversion per size (cached on the path)."""
    cached = getattr(path, "_inverse_diagonals", None)
    if cached is None or len(cached) != path.size:
        gram = path.gram
        ridge = RIDGE * max(1.0, float(np.trace(gram)) / path.size)
        factor = np.linalg.inv(np.linalg.cholesky(gram + ridge * np.eye(path.size)))
        cached = np.cumsum(factor**2, axis=0)
        path._inverse_diagonals = cached
    return cached


def garrote_solve(path: _Path, n: int, size: int, garrote: float) -> np.ndarray:
    """The path's least squares on its first `size` columns, each added term's coefficient then shrunk by
    the non-negative garrote (1 - garrote^2 / z^2)+ (z: its OLS t-statistic) and the n main effects
    refitted on what the shrunk terms leave. Why: a greedy path keeps terms for their large scores, so a
    false term's coefficient is as large as a true one's (winner's curse), and each term moves the main
    effects it aliases by its coefficient; the garrote keeps strong terms nearly whole and shrinks the
    marginal ones, most of them false. garrote = 0: plain least squares."""
    coef = path.solve(size)
    if garrote <= 0 or size <= n:
        return coef
    residual = path.w * (path.t - path.store[:, :size] @ coef)
    sigma2 = float(residual @ residual) / max(1.0, float(path.w.sum()) - size)
    variance = _inverse_diagonals(path)[size - 1, n:size]
    z2 = coef[n:] ** 2 / np.maximum(variance * sigma2, 1e-300)
    terms = coef[n:] * np.clip(1 - garrote**2 / np.maximum(z2, 1e-300), 0.0, None)
    right = path.right[:n] - path.normal[:n, n:size] @ terms
    return np.concatenate([np.linalg.solve(path.normal[:n, :n], right), terms])


def main_effect_stderr(path: _Path, n: int, sigma2: float) -> np.ndarray:
    """OLS standard errors of the path's n main effects with residual variance sigma2 (its ridge kept)."""
    p = path.size
    covariance = np.linalg.inv(path.gram + RIDGE * max(1.0, float(np.trace(path.gram)) / p) * np.eye(p))
    return np.sqrt(np.clip(np.diag(covariance)[:n] * sigma2, 0.0, None))


def cross_validated_fit(
    x: np.ndarray, t: np.ndarray, grow, sizes: np.ndarray, folds: int, rng, key: str, terms: str, garrote: float = 0.0
):
    """The greedy path's number of terms chosen by K-fold error on the rows, refitted on all of them:
    (main effects, their OLS standard errors, the linear and chosen fits' held-out errors, details).

    `grow(weight, counts)` runs the greedy path on the rows of weight 1 up to the largest of `counts`
    added terms, -> (terms added, path); odd_sets.py grows sets where this module grows triples.
    `garrote` > 0: every fit, in the folds and the final one, shrinks its terms (garrote_solve)."""
    m, n = x.shape
    fold = rng.permutation(m) % folds
    held_error = np.zeros(len(sizes) + 1)
    for k in range(folds):
        held = fold == k
        added, path = grow((~held).astype(np.float64), sizes)
        for r, size in enumerate([0, *sizes]):
            size = n + min(added, size)
            fitted = path.columns[held, :size] @ garrote_solve(path, n, size, garrote)
            held_error[r] += float(np.sum((t[held] - fitted) ** 2))
    held_error /= m
    best = int(np.argmin(held_error))
    _added, path = grow(np.ones(m), sizes[:best])
    coef = garrote_solve(path, n, path.size, garrote)
    p = path.gram.shape[0]
    residual = t - path.columns @ coef
    # the held-out error prices the selection, which the in-sample residual does not see; the floor keeps
    # an exactly recovered game's rounding errors inside their intervals
    sigma2 = max(float(residual @ residual) / max(1, m - p), held_error[best], 1e-16 * float(t @ t) / m)
    stderr = main_effect_stderr(path, n, sigma2)
    details = {
        key: p - n,
        f"{key}_cv": f"{folds}-fold error by number of {terms}: "
        + ", ".join(f"{k}: {e:.4g}" for k, e in zip([0, *sizes.tolist()], held_error, strict=True)),
    }
    if garrote > 0:
        details[f"{key}_garrote"] = garrote
    return coef[:n], stderr, held_error[0], held_error[best], details
