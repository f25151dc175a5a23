r"""Sparse odd triples for the Fourier surrogate: greedy screening of all C(n, 3) Walsh triples.

Why: a game whose odd part is main effects plus a few dozen to hundreds of degree-3 Walsh terms (a sum
of unanimity games of order <= 3) is sparse among C(n, 3) characters (41,664 at n = 64, 341,376 at
n = 128). The Fourier kernel's isotropic degree-3 prior spreads its variance over all of them and cannot
single those out; a greedy screen can, because every triple found lowers the residual and so the noise
of the next screen (a score's noise is the residual's sd over sqrt(rows)): the strongest triples are
found first, and the weaker ones rise above the noise as the residual shrinks. The kept triples are a
fixed part of the surrogate (fourier_kernel.fit_fourier_surrogate), their Shapley values closed form
(2 c_T / 3 to each member), and the kernel is fitted to what they leave.
How: on the +-1 rows x and half-differences t, least squares on the main effects and the triples so
far (normal equations grown column block by column block). A full screen scores every triple by
|r . chi_T| (chi_T is +-1, so its norm is sqrt(m)), per player i one product X_{>i}' diag(r x_i) X_{>i}
in float32, and keeps the strongest POOL. Rounds rescore the pool on every row against the new residual
and add at most PER_ROUND triples whose z-score clears Z_SCALE * sqrt(2 ln C(n, 3)) (sqrt(2 ln N) is about
where the largest of N null scores lies); when the pool has nothing left, the whole set is rescreened,
at most FULL_SCREENS times in all. Once the path ends, a triple is kept only if its z-score in the final
fit clears KEEP_SCALE * sqrt(2 ln C(n, 3)): a triple selected near the bar has its coefficient inflated by
the noise that selected it, which on games with many weak terms (order 5) cost more than it gave.
Over LARGE triples (n = 256) a full screen costs ~0.13 CPU s, so there at most FULL_SCREENS_LARGE run and
a first path that would keep fewer than GIVE_UP_BELOW triples stops and keeps none. The bars, the rows of
the full screens, their number over LARGE and a least count kept come in a ScreenSettings (the defaults
above unless the caller looks harder: regression_adjusted.TRIPLES_WHOLE_FIT).
Reference: orthogonal matching pursuit (Pati, Rezaiifar & Krishnaprasad, 1993) over Walsh characters;
OddSHAP (shapiq 1.8) for fitting odd terms of paired samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import comb

# Tuned on seeds 0-11 of benchmarks/estimators_peers312.py's SOUM games (n = 64-256, 8n-32n); see
# docs/estimators.md.
Z_SCALE = 0.9  # entry bar (1.0: the snowball did not start on 2 of 6 order-3 games at n = 128, 16n)
# Keep bar. n = 128, seeds 0-11, median error (kernel alone: order 3 16n 0.0677, order 5 16n 0.1253,
# 32n 0.0743): 1.2 gave 0.0424 / 0.1267 / 0.0753, 1.3 0.0458 / 0.1253 / 0.0742, 1.4 0.0476 / 0.1253 / 0.0742.
KEEP_SCALE = 1.3
POOL = 2048  # triples kept from a full screen and rescored each round (on every row)
# The first full screen scores all triples on at most SCREEN_ROWS rows spread over the sample; a later
# one, with the residual's sd down from sigma_0 to sigma, on SCREEN_ROWS (sigma / sigma_0)^2 (at least
# MIN_SCREEN_ROWS): about the same sensitivity, since a score's z grows as sqrt(rows) / sigma.
SCREEN_ROWS = 1024
MIN_SCREEN_ROWS = 256
FULL_SCREENS = 4
# Where a full screen scores over LARGE triples (n = 256: 2.8 million; n = 128: 341,376 is not), one costs
# ~0.1-0.15 CPU s, and the screen is cut to fit the cost floor: at most FULL_SCREENS_LARGE of them, and a
# first path (the first screen's pool used up) that would keep fewer than GIVE_UP_BELOW triples stops
# there and keeps none (no sparse degree-3 part worth its rescreens: measured, SOUM n = 256, 32n, seeds
# 0-5, such a path would keep 6-25 on order-3 games and 0-2 on order-5 ones, whose kept ones cost 1-3%).
LARGE = 1e6
FULL_SCREENS_LARGE = 3
GIVE_UP_BELOW = 4
PER_ROUND = 16  # at most this many enter per round (the strongest first)
MAX_ROUNDS = 24
SCREEN_BLOCK = 64  # rows j per product in a full screen
ROWS_BLOCK = 64  # triples per block when their columns are built
RIDGE = 1e-9  # relative to the normal equations' mean diagonal: a repeated column stays solvable


@dataclass(frozen=True)
class ScreenSettings:
    """How hard a screen looks: the bars, the rows of its full screens and how soon it stops."""

    entry: float = Z_SCALE
    keep: float = KEEP_SCALE
    screen_rows: int = SCREEN_ROWS  # rows of the first full screen...
    later_rows: int = SCREEN_ROWS  # ...and of a later one: this x (sigma / sigma_0)^2
    full_screens_large: int = FULL_SCREENS_LARGE
    min_kept: int = 0  # a screen that would keep fewer (but some) triples keeps none
    # Where triples were kept, the Fourier fit tries only the unanimity prior on what they leave (not the
    # Fourier one): read by fourier_kernel.fit_fourier_surrogate.
    unanimity_after_kept: bool = False


DEFAULT_SETTINGS = ScreenSettings()


def large_screen(n: int) -> bool:
    """Whether a full screen of n players scores over LARGE triples (and so is cut to fit the cost floor)."""
    return comb(n, 3) > LARGE


def triple_columns(x: np.ndarray, triples: np.ndarray) -> np.ndarray:
    """chi_T(x) for every triple: (rows, K) products of three +-1 columns."""
    return x[:, triples[:, 0]] * x[:, triples[:, 1]] * x[:, triples[:, 2]]


def _full_screen(x32: np.ndarray, r: np.ndarray, keep: int) -> np.ndarray:
    """The `keep` triples (K, 3) most correlated with r, over all C(n, 3)."""
    n = x32.shape[1]
    xt = np.ascontiguousarray(x32.T)
    rf = r.astype(np.float32)
    lower = np.tril(np.ones((SCREEN_BLOCK, SCREEN_BLOCK), dtype=np.float32), -1)  # (a, b) is 1 iff a > b
    found_t, found_s = [], []
    held, floor = 0, 0.0  # floor: the keep-th best score so far; only scores above it are kept
    for i in range(n - 2):
        rest = xt[i + 1 :]
        weighted = rest * (rf * xt[i])
        width = n - i - 1
        # Only pairs j < k are needed: block the players j, and each block's product starts at its own
        # first player k (about half the square's products; (k, j) order measured 15% faster at n = 256).
        for c in range(0, width - 1, SCREEN_BLOCK):
            prod = rest[c:] @ weighted[c : c + SCREEN_BLOCK].T  # (k, j)
            np.abs(prod, out=prod)
            head = prod[: prod.shape[1]]  # only the block's own players k can have k <= j
            head *= lower[: len(head), : prod.shape[1]]
            idx = np.flatnonzero(prod > floor)
            if not len(idx):
                continue
            k, j = np.divmod(idx, prod.shape[1])
            found_s.append(prod.ravel()[idx])
            found_t.append(np.stack([np.full(len(idx), i), j + c + i + 1, k + c + i + 1], axis=1))
            held += len(idx)
            if held > 4 * keep:  # keep the running best only, so memory stays O(keep)
                s, t = np.concatenate(found_s), np.vstack(found_t)
                best = np.argpartition(-s, keep - 1)[:keep]
                found_s, found_t, held = [s[best]], [t[best]], keep
                floor = float(s[best].min())
    s, t = np.concatenate(found_s), np.vstack(found_t)
    return t[np.argsort(-s, kind="stable")[:keep]]


def _rows(xt: np.ndarray, triples: np.ndarray) -> np.ndarray:
    """chi_T as rows (K, m) from the transposed +-1 matrix: contiguous gathers, unlike columns; built
    in blocks of rows that stay in cache (the pool's 2,048 x 4,095 in one go cost 4x the time)."""
    out = np.empty((len(triples), xt.shape[1]), dtype=xt.dtype)
    for s in range(0, len(triples), ROWS_BLOCK):
        t, block = triples[s : s + ROWS_BLOCK], out[s : s + ROWS_BLOCK]
        np.take(xt, t[:, 0], axis=0, out=block)
        block *= xt[t[:, 1]]
        block *= xt[t[:, 2]]
    return out


class _LeastSquares:
    """Least squares on main effects and a growing set of triple columns, by normal equations grown
    block by block (a refit costs the new columns' products, not a new factorisation of all rows)."""

    def __init__(self, x: np.ndarray, xt: np.ndarray, t: np.ndarray):
        self.xt, self.t = xt, t  # xt: x transposed, contiguous (its rows gather fast)
        self.cols = x  # (m, p) float64
        self.gram = x.T @ x
        self.rhs = x.T @ t

    def add(self, triples: np.ndarray) -> None:
        new = _rows(self.xt, triples).T.astype(np.float64)
        cross = self.cols.T @ new
        self.gram = np.block([[self.gram, cross], [cross.T, new.T @ new]])
        self.rhs = np.concatenate([self.rhs, new.T @ self.t])
        self.cols = np.hstack([self.cols, new])

    def _regularised(self) -> np.ndarray:
        p = len(self.gram)
        return self.gram + RIDGE * np.trace(self.gram) / p * np.eye(p)

    def z_scores(self, coef: np.ndarray, sigma: float) -> np.ndarray:
        """|coefficient| / its standard error, for every coefficient."""
        sd = sigma * np.sqrt(np.diag(np.linalg.inv(self._regularised())))
        return np.abs(coef) / np.maximum(sd, 1e-300)

    def solve(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(residual, coefficients (main effects, then triples), residual sd)."""
        p = len(self.gram)
        coef = np.linalg.solve(self._regularised(), self.rhs)
        resid = self.t - self.cols @ coef
        return resid, coef, float(np.sqrt(resid @ resid / max(len(self.t) - p, 1)))


def screen_triples(
    x: np.ndarray, t: np.ndarray, settings: ScreenSettings = DEFAULT_SETTINGS
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Greedy screen of odd triples on +-1 rows x (m, n) and targets t.

    A triple enters at `settings.entry` times the bar; once the path ends it is kept only if its
    coefficient's z-score in the final least-squares fit clears `settings.keep` times the bar (selected
    near the bar, a coefficient is inflated by the noise that selected it), and the kept ones are refitted.
    Returns (triples (K, 3), least-squares coefficients (n main effects, then the K triples), details).
    """
    m, n = x.shape
    empty = np.zeros((0, 3), dtype=np.int64)
    if n < 3 or m <= 2 * (n + 1):
        return empty, np.zeros(n), {"triples": 0, "reason": "too few rows"}
    bar = float(np.sqrt(2 * np.log(comb(n, 3))))
    active, fit, details = _greedy(x, t, bar, settings)
    keep = np.zeros(0, dtype=int)
    if len(active) and not details.get("gave_up"):
        _, coef, sigma = fit.solve()
        keep = np.flatnonzero(fit.z_scores(coef, sigma)[n:] > settings.keep * bar)
    if 0 < len(keep) < settings.min_kept:
        details["too_few_kept"] = len(keep)
        keep = keep[:0]
    details |= {"screened": len(active), "triples": len(keep), "z_bar": round(bar, 2)}
    if not len(keep):  # main effects only: their normal equations are at hand (a solve of n, not a QR of m x n)
        return empty, np.linalg.solve(fit.gram[:n, :n], fit.rhs[:n]), details
    # The final fit by an orthogonal factorisation, not the ridged normal equations: where the triples
    # explain the odd part exactly, their coefficients are then exact to rounding (with the ridge, to 1e-10,
    # more than the sandwich's standard errors, which see residuals of zero).
    design = np.hstack([x, triple_columns(x, active[keep])])
    coef = np.linalg.lstsq(design, t, rcond=None)[0]
    return active[keep], coef, details


def _kept(fit: _LeastSquares, n: int, keep_bar: float) -> int:
    """How many triples entered so far clear the keep bar in the current fit."""
    if len(fit.gram) == n:
        return 0
    _, coef, sigma = fit.solve()
    return int(np.sum(fit.z_scores(coef, sigma)[n:] > keep_bar))


def _greedy(x, t, z_bar, settings: ScreenSettings):
    """The screen's path on (x, t): (triples in order of entry, their least-squares fit, details)."""
    m, n = x.shape
    bar, keep_bar = settings.entry * z_bar, settings.keep * z_bar
    x32 = x.astype(np.float32)
    xt = np.ascontiguousarray(x32.T)

    def spread(k: float) -> np.ndarray:  # rows come sorted by size: take them evenly
        return np.linspace(0, m - 1, int(min(m, max(k, MIN_SCREEN_ROWS)))).astype(int)

    active = np.zeros((0, 3), dtype=np.int64)
    fit = _LeastSquares(x, xt, t)
    resid, _, sigma = fit.solve()
    sigma_0 = sigma
    pool = _full_screen(x32[spread(settings.screen_rows)], resid[spread(settings.screen_rows)], POOL)
    columns = _rows(xt, pool)
    full = 1
    taken: set[tuple[int, ...]] = set()
    rounds, gave_up, first_kept = 0, False, -1
    large = large_screen(n)
    while rounds < MAX_ROUNDS and sigma > 0:
        rounds += 1
        z = np.abs(columns @ resid.astype(np.float32)) / (sigma * np.sqrt(m))
        order = np.argsort(-z, kind="stable")
        new = [q for q in order[: 4 * PER_ROUND] if z[q] > bar and tuple(pool[q]) not in taken][:PER_ROUND]
        if not new:
            if full >= (settings.full_screens_large if large else FULL_SCREENS):
                break
            if full == 1 and large:
                first_kept = _kept(fit, n, keep_bar)
                if first_kept < GIVE_UP_BELOW:
                    gave_up = True
                    break
            few = spread(settings.later_rows * (sigma / sigma_0) ** 2)
            pool = _full_screen(x32[few], resid[few], POOL)
            columns = _rows(xt, pool)
            full += 1
            continue
        taken.update(tuple(pool[q]) for q in new)
        active = np.vstack([active, pool[new]])
        fit.add(pool[new])
        resid, _, sigma = fit.solve()
        if len(active) + n >= m // 2:  # keep the fit well determined
            break
    details = {"rounds": rounds, "full_screens": full, "sd_ratio": round(sigma / sigma_0, 3) if sigma_0 else 1.0}
    details |= {"gave_up": gave_up, "first_path_kept": first_kept} if large else {}
    return active, fit, details
