"""Odd-degree Fourier surrogate fitted by kernel ridge regression: cost independent of the number of terms.

What: a surrogate f(S) = sum_T c_T chi_T(S) over every Fourier character chi_T(S) = prod_{j in T} s_j
(s_j = +1 if j in S else -1) of odd degree |T| in {1, 3, 5}, fitted to half the difference of each
complementary pair, (v(S) - v(N\\S)) / 2, which is the odd part of the game and carries all of its
Shapley value.

Idea: with a Gaussian prior c_T ~ N(0, rho_k / C(n, k)) per degree k, the posterior mean is kernel ridge
regression with k(s, s') = sum_k rho_k / C(n, k) * e_k(s * s'), where e_k is the k-th elementary
symmetric polynomial of the elementwise product; e_k of a +-1 vector depends only on how many entries
are -1 (a Krawtchouk polynomial). So the Gram matrix costs one (pairs x pairs x n) product however
many characters there are (C(64, 3) = 41,664 at n = 64), and the surrogate's Shapley values are closed
form: a character of odd degree k gives each member 2 c_T / k, which sums per player to
2 / k * w_k * sum_p alpha_p s_pi e_{k-1}(s_p without i). The prior scales (rho_3, rho_5) and the noise
are chosen by closed-form leave-one-out error over one eigendecomposition per kernel. With enough
pairs, ARD priors are tried too: a character's variance is also scaled by prod_{j in T} b_j, where b
is each player's importance in the isotropic fit to a power; the kernel is then the elementary
symmetric polynomial e_k(b * s * s'), from power sums by Newton's identities (one matrix product per
odd degree), and the Shapley values stay closed form.

Reference: regression adjustment of Shapley estimators (Witter, Liu & Musco, "Regression-adjusted Monte
Carlo estimators for Shapley values and probabilistic values", NeurIPS 2025); the paired odd-part fit
follows OddSHAP (only odd Fourier terms carry Shapley value, and pairing cancels the even ones); ARD
priors after MacKay's and Neal's automatic relevance determination (Neal, "Bayesian learning for
neural networks", 1996).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.linalg.lapack import dtrtri
from scipy.special import comb

from .triple_screen import ScreenSettings, screen_triples, triple_columns
from .unanimity_kernel import MAX_ORDERS as UNANIMITY_ORDERS
from .unanimity_kernel import kernel_matrix as unanimity_kernel_matrix
from .unanimity_kernel import pair_out_odd, value_blocks, value_gram, value_shapley_rows
from .unanimity_kernel import prior as unanimity_prior
from .unanimity_kernel import shapley_rows as unanimity_shapley_rows

DEGREES = (1, 3, 5)
# Prior variance of the degree-3 and degree-5 parts relative to degree 1 (rho_1 = 1), tried in turn;
# (0, 0) is the additive surrogate, which makes the method exact on additive games.
PRIORS = ((0.0, 0.0), (0.05, 0.0), (0.3, 0.0), (1.0, 0.0), (0.1, 0.05), (0.3, 0.15), (0.3, 0.3), (1.0, 0.5), (2.0, 1.0))
NOISE = np.logspace(-6, 0, 13)  # ridge penalty, relative to the mean diagonal of the Gram matrix
SELECT_PAIRS = 512  # hyper-parameters are chosen on at most this many pairs (one eigh each)...
FIT_PAIRS = 2048  # ...and the final fit uses at most this many (one Cholesky): both bound the cost in n
# Where the fit holds more than this many rows, the selection uses SELECT_PAIRS_LARGE_FIT rows, so the
# larger Cholesky costs no more than the 1,024-row fit did at n = 256, 32n. Measured (SOUM orders 3 and 5,
# tuning seeds 0-11, benchmarks/estimators_peers312.py's games): the 2,048-row fit lowered the error 4-7%
# at n = 128, 32n and n = 256, 16n-32n; selecting on 384 rows instead of 512 there changed it by < 0.5%.
LARGE_FIT = 1024
# Measured (SOUM order <= 3, n = 256, 32n, tuning seeds 0-5, median): the kernel on 1,024 rows after the
# triples 0.0359 as on 2,048, at ~0.25 CPU s less.
FIT_PAIRS_WITH_TRIPLES = 1024
SELECT_PAIRS_LARGE_FIT = 384
# The unanimity prior on whole values (two rows a pair) competes with the Fourier prior on this many of the
# selection rows (a joint eigh of twice as many rows per prior).
VALUE_SELECT_PAIRS = 256
# ...and its final fit takes the even parts of at most this many of its pairs (each adds a row to the Cholesky).
VALUE_EVEN_PAIRS = 1024
# With `choose_on_all_rows`, the priors are compared again on every row where the unanimity prior's error on
# the selection rows is below this multiple of the Fourier prior's (an unclear verdict on few rows).
ALL_ROWS_CHOICE_MARGIN = 1.2
# ARD priors (interactions scaled by the players' importance in the isotropic fit) are tried from
# this many pairs per player (measured: they help sentence-embedding games from 16n, not below, where
# the importances are too rough) and only on at most ARD_MAX_ROWS selection rows (each power costs
# another eigh per prior).
ARD_POWERS = (0.5, 1.0)
ARD_MIN_PAIRS_PER_PLAYER = 8
ARD_MAX_ROWS = 256


def elementary_symmetric(k: int, plus: np.ndarray, minus: np.ndarray) -> np.ndarray:
    """e_k of a vector with `plus` entries +1 and `minus` entries -1 (elementwise over the arrays)."""
    out = np.zeros(np.broadcast(plus, minus).shape)
    for j in range(k + 1):
        out += (-1) ** j * comb(minus, j) * comb(plus, k - j)
    return out


def _table(k: int, length: int) -> np.ndarray:
    """e_k of a +-1 vector of `length` entries, indexed by its number of -1 entries (0..length)."""
    minus = np.arange(length + 1)
    return elementary_symmetric(k, length - minus, minus)


def _kernel_table(n: int, weights: dict[int, float]) -> np.ndarray:
    """k(s, s') indexed by the number of players on which s and s' disagree."""
    return sum(w * _table(k, n) for k, w in weights.items())


def _disagreements(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # +-1 entries: the float32 product is exact (integers below 2^24) and twice as fast as float64's
    n = a.shape[1]
    dot = a.astype(np.float32) @ b.T.astype(np.float32)
    return np.rint((n - dot) / 2).astype(np.int64)


def _newton_esym(power_sums: dict[int, np.ndarray], k_max: int) -> list[np.ndarray]:
    """e_0..e_k_max from power sums p_1..p_k_max (Newton's identities), elementwise."""
    e = [np.ones_like(power_sums[1])]
    for k in range(1, k_max + 1):
        e.append(sum((-1) ** (i - 1) * e[k - i] * power_sums[i] for i in range(1, k + 1)) / k)
    return e


def _scaled_gram(a: np.ndarray, b: np.ndarray, scale: np.ndarray, k_max: int) -> list[np.ndarray]:
    """e_k(scale * a_p * b_q) for k = 0..k_max and every pair of +-1 rows (p, q).

    Power sums of u = scale * a_p * b_q: odd ones are (a * scale^i) @ b.T, even ones sum(scale^i)
    (the signs square away), so the cost is one matrix product per odd degree.
    """
    shape = (len(a), len(b))
    sums = {i: (a * scale**i) @ b.T if i % 2 else np.full(shape, np.sum(scale**i)) for i in range(1, k_max + 1)}
    return _newton_esym(sums, k_max)


@dataclass(frozen=True)
class FourierSurrogate:
    """A fitted odd Fourier surrogate: dual weights on its training rows and the prior per degree.

    With `scale` (per player), a character of degree k >= 3 has prior variance w_k * prod_{j in T} scale_j
    instead of w_k: interactions among the players that matter most get the most room (an ARD prior).
    """

    train: np.ndarray  # (p, n) +-1 rows
    alpha: np.ndarray  # (p,) dual coefficients
    weights: dict[int, float]  # degree -> per-term prior variance (w_k = rho_k / C(n, k) without scale)
    loo_error: float  # mean squared leave-one-out error (held-out error of the fit)
    fit_rows: np.ndarray  # indexes of the training rows among the rows given to the fit
    loo_prediction: np.ndarray  # leave-one-out prediction at each training row
    choice: dict  # the chosen prior and noise, for the run's details
    scale: np.ndarray | None = None  # (n,) per-player prior scale of the degree >= 3 characters
    ridge: float = 0.0  # the absolute ridge penalty of the fit (the noise variance, in the prior's units)
    fitted: np.ndarray | None = None  # prediction at every row given to the fit (= predict(x))
    # Screened odd triples (triple_screen.py): (K, 3) players and their least-squares coefficients, a
    # fixed part of the surrogate; the kernel is fitted to what they leave
    triples: np.ndarray | None = None
    triple_coef: np.ndarray | None = None
    # Where the unanimity prior won the leave-one-out choice (unanimity_kernel.py): its weights per order,
    # which then replace the Fourier prior (`weights` and `scale` unused)
    unanimity: dict[int, float] | None = None
    # ...fitted to the odd parts at `train` and the even parts at these rows: alpha holds the odd rows'
    # weights, then the even rows'
    even_train: np.ndarray | None = None

    def kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The fitted prior's kernel between +-1 rows a and b (of the odd parts)."""
        if self.even_train is not None:
            raise ValueError(
                "the unanimity prior on whole values has no odd-only kernel to refit on folds; it is used only "
                "where no other surrogate family competes (regression_adjusted.UNANIMITY_MIN_PLAYERS)"
            )
        if self.unanimity is not None:
            return unanimity_kernel_matrix(a, b, self.unanimity)
        return kernel_matrix(a, b, self.weights, self.scale)

    def triple_part(self, x: np.ndarray) -> np.ndarray:
        """The screened triples' part of the prediction at +-1 rows x (zeros without triples)."""
        if self.triples is None:
            return np.zeros(len(x))
        return triple_columns(x, self.triples) @ self.triple_coef

    def gram(self, x: np.ndarray) -> np.ndarray:
        """Kernel between +-1 rows x and the training rows."""
        return self.kernel(x, self.train)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Odd-part prediction f(s) at +-1 rows (f(-s) = -f(s))."""
        if self.even_train is not None:
            p = len(self.train)
            odd = value_blocks(x, self.train, self.unanimity)[0] @ self.alpha[:p]
            even = value_blocks(x, self.even_train, self.unanimity)[1] @ self.alpha[p:]
            return odd + even + self.triple_part(x)
        return self.gram(x) @ self.alpha + self.triple_part(x)

    def banzhaf(self) -> np.ndarray:
        """Banzhaf values of the surrogate (Fourier prior): twice its degree-1 coefficients, w_1 alpha @ train
        (degree 1 keeps the isotropic prior under ARD; the screened triples have no degree-1 part)."""
        if self.unanimity is not None:
            raise ValueError("Banzhaf values of the unanimity prior's surrogate are banzhaf_unanimity.py's")
        return 2.0 * self.weights.get(1, 0.0) * (self.alpha @ self.train)

    def shapley(self) -> np.ndarray:
        """Shapley values of the surrogate as a game on coalitions (exact, closed form)."""
        if self.even_train is not None:
            p = len(self.train)
            odd = value_shapley_rows(self.train, self.unanimity)[:p]
            even = value_shapley_rows(self.even_train, self.unanimity)[len(self.even_train) :]
            phi = self.alpha[:p] @ odd + self.alpha[p:] @ even
        elif self.unanimity is not None:
            phi = self.alpha @ unanimity_shapley_rows(self.train, self.unanimity)
        else:
            phi = self.alpha @ shapley_rows(self.train, self.weights, self.scale)
        if self.triples is not None:  # a degree-3 character with coefficient c gives each member 2 c / 3
            np.add.at(phi, self.triples.ravel(), np.repeat(2.0 * self.triple_coef / 3.0, 3))
        return phi


def shapley_rows(s: np.ndarray, weights: dict[int, float], scale: np.ndarray | None) -> np.ndarray:
    """(p, n) matrix whose row p is the Shapley values of the prior's kernel section k(., s_p).

    A surrogate sum_p alpha_p k(., s_p) has Shapley values alpha @ shapley_rows(...); under the prior,
    row p is also Cov(phi, f(s_p)), which the adaptive design uses. A character of odd degree k gives
    each member 2 c_T / k; summed over T containing i that is 2 / k * w_k * u_pi e_{k-1}(u_p without i),
    with u_p = scale * s_p (u_p = s_p without ARD, where e_{k-1} only depends on the count of -1s).
    """
    n = s.shape[1]
    out = np.zeros(s.shape)
    if scale is None:
        minus_wo = (s < 0).sum(axis=1, keepdims=True) - (s < 0)  # -1 entries among the other n-1 players
        for k, w in weights.items():
            out += (2.0 / k) * w * s * _table(k - 1, n - 1)[minus_wo]
        return out
    u = s * scale
    k_max = max(weights)
    sums = {i: np.sum(u**i, axis=1) for i in range(1, k_max)}
    e = _newton_esym(sums, k_max - 1) if k_max > 1 else [np.ones(len(s))]
    without = np.ones_like(u)  # e_j(u_p without i), by e_j(u - i) = e_j(u) - u_i e_{j-1}(u - i)
    for j in range(0, k_max):
        if j > 0:
            without = e[j][:, None] - u * without
        k = j + 1
        if k in weights:
            out += (2.0 / k) * weights[k] * (s if k == 1 else u * without)  # degree 1 keeps the isotropic prior
    return out


def kernel_matrix(a: np.ndarray, b: np.ndarray, weights: dict[int, float], scale: np.ndarray | None) -> np.ndarray:
    """Kernel sum_k w_k sum_{|T| = k} [prod_{j in T} scale_j] chi_T(a) chi_T(b) between +-1 rows."""
    n = a.shape[1]
    if scale is None:
        return _kernel_table(n, weights)[_disagreements(a, b)]
    out = weights.get(1, 0.0) * (a @ b.T)
    higher = [k for k in weights if k > 1]
    if higher:
        e = _scaled_gram(a, b, scale, max(higher))
        out = out + sum(weights[k] * e[k] for k in higher)
    return out


def _ridge(gram: np.ndarray, relative: float) -> float:
    """The absolute ridge penalty of a relative one (NOISE is relative to the Gram matrix's mean diagonal)."""
    return relative * max(float(np.mean(np.diag(gram))), 1e-300)


def _loo_path(gram: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    """(least mean LOO squared error, its relative noise) of kernel ridge over NOISE, from one eigh."""
    evals, u = np.linalg.eigh(gram)
    evals = np.clip(evals, 0.0, None)
    scale = _ridge(gram, 1.0)
    ut = u.T @ t
    u2 = u**2
    best = (np.inf, float(NOISE[0]))
    for rel in NOISE:
        lam = rel * scale
        inv_diag = u2 @ (1.0 / (evals + lam))
        alpha = u @ (ut / (evals + lam))
        err = float(np.mean((alpha / inv_diag) ** 2))
        if err < best[0]:
            best = (err, float(rel))
    return best


def pair_out_path(joint: np.ndarray, t: np.ndarray, even: np.ndarray) -> tuple[float, float]:
    """(least mean squared leave-one-pair-out error of the odd parts, its relative noise) over NOISE, from
    one eigh of the joint (odd rows, then even rows) Gram matrix."""
    p = len(t)
    evals, u = np.linalg.eigh(joint)
    evals = np.clip(evals, 0.0, None)
    scale = _ridge(joint, 1.0)
    uy = u.T @ np.concatenate([t, even])
    u_o, u_e = u[:p], u[p:]
    best = (np.inf, float(NOISE[0]))
    for rel in NOISE:
        d = 1.0 / (evals + rel * scale)
        blocks = ((u_o**2) @ d, (u_o * u_e) @ d, (u_e**2) @ d)
        alpha = u @ (uy * d)
        held = pair_out_odd(blocks, alpha[:p], alpha[p:], t)
        err = float(np.mean((t - held) ** 2))
        if err < best[0]:
            best = (err, float(rel))
    return best


def _fit_values(x, t, even, fit_rows, weights, rel, err, found, screen, offset, triple_coef) -> FourierSurrogate:
    """The unanimity prior fitted to the odd parts at `fit_rows` and the even parts of at most
    VALUE_EVEN_PAIRS of them (spread over the rows; see fit_fourier_surrogate)."""
    train, p = x[fit_rows], len(fit_rows)
    ev = np.linspace(0, p - 1, min(p, VALUE_EVEN_PAIRS)).astype(int) if p > VALUE_EVEN_PAIRS else np.arange(p)
    q = len(ev)
    # One kernel between every row and the training rows: the even rows' blocks are its rows fit_rows[ev].
    # The Gram matrix is filled, factorised and inverted in one buffer (each fresh 2,048-row matrix costs
    # page faults as well as time).
    oo, oe, eo, ee = value_blocks(x, train, weights)
    gram = np.empty((p + q, p + q))
    gram[:p, :p] = oo[fit_rows]
    gram[:p, p:] = oe[np.ix_(fit_rows, ev)]
    gram[p:, :p] = eo[fit_rows[ev]]
    gram[p:, p:] = ee[np.ix_(fit_rows[ev], ev)]
    del eo, ee
    lam = _ridge(gram, rel)
    gram.flat[:: p + q + 1] += lam
    factor = cho_factor(gram, lower=True, overwrite_a=True)
    alpha = cho_solve(factor, np.concatenate([t[fit_rows], even[fit_rows][ev]]))
    inv, info = dtrtri(factor[0], lower=1, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"triangular inverse failed (info {info})")
    # M = inv' inv with inv lower triangular: M[i, j] sums inv[k, i] inv[k, j] over k >= max(i, j); the
    # other triangle holds the factorisation's leftovers, so each column is read from its diagonal on.
    diag = np.array([inv[i:, i] @ inv[i:, i] for i in range(p + q)])
    cross = np.array([inv[p + j :, i] @ inv[p + j :, p + j] for j, i in enumerate(ev)])
    # Held out: a pair with an even row leaves both of its rows out, the others their odd row.
    loo = t[fit_rows] - alpha[:p] / diag[:p]
    loo[ev] = pair_out_odd((diag[ev], cross, diag[p:]), alpha[ev], alpha[p:], t[fit_rows][ev])
    choice = {
        "prior": f"unanimity on whole values, orders <= {max(weights)}",
        "noise": rel,
        "fit_rows": p,
        "even_rows": q,
    }
    if screen is not None:
        choice["triples"] = screen
    return FourierSurrogate(
        train,
        alpha,
        {},
        err,
        fit_rows,
        loo + offset[fit_rows],
        choice,
        None,
        lam,
        oo @ alpha[:p] + oe[:, ev] @ alpha[p:] + offset,
        found,
        triple_coef,
        weights,
        train[ev],
    )


def inverse_diagonal(factor) -> np.ndarray:
    """diag(K^-1) from K's Cholesky factor: column sums of squares of the inverted triangle (a third of
    the work of solving for the identity, which dominated the fit's cost at 1,024 rows)."""
    chol, lower = factor
    inv, info = dtrtri(chol, lower=int(lower))
    if info != 0:
        raise np.linalg.LinAlgError(f"triangular inverse failed (info {info})")
    # The other triangle holds leftovers of the factorisation: read each row (column) from the diagonal
    # on (np.triu of the whole matrix cost as much as the inverse itself at 2,048 rows).
    if lower:
        return np.array([inv[i:, i] @ inv[i:, i] for i in range(len(inv))])
    return np.array([inv[i, i:] @ inv[i, i:] for i in range(len(inv))])


def _select_fourier(x: np.ndarray, t: np.ndarray, pick: np.ndarray):
    """The Fourier prior (per-degree scales, ARD where it applies) and noise of least leave-one-out error
    on the rows `pick`: (error, relative noise, rho, weights, scale, ARD power)."""
    n = x.shape[1]
    minus = _disagreements(x[pick], x[pick])
    degrees = [k for k in DEGREES if k <= n]
    parts = {k: _table(k, n)[minus] / comb(n, k) for k in degrees}
    best = None
    for rho3, rho5 in PRIORS:
        rho = {1: 1.0, 3: rho3, 5: rho5}
        if any(rho[k] > 0 and k not in parts for k in rho):
            continue
        gram = sum(rho[k] * parts[k] for k in degrees if rho[k] > 0)
        err, rel = _loo_path(gram, t[pick])
        if best is None or err < best[0]:
            best = (err, rel, rho)
    err, rel, rho = best
    weights = {k: rho[k] / comb(n, k) for k in degrees if rho[k] > 0}
    scale, power = None, 0.0
    if len(pick) <= ARD_MAX_ROWS and len(x) >= ARD_MIN_PAIRS_PER_PLAYER * n and 3 in parts:
        # ARD priors: scale each player's share of the interactions by its importance in the
        # isotropic fit, to the powers in ARD_POWERS; kept only if the LOO error says so.
        gram = sum(rho[k] * parts[k] for k in degrees if rho[k] > 0)
        alpha = np.linalg.solve(gram + _ridge(gram, rel) * np.eye(len(pick)), t[pick])
        phi = np.abs(alpha @ shapley_rows(x[pick], weights, None))
        importance = phi / max(float(phi.mean()), 1e-300) + 1e-3
        for p in ARD_POWERS:
            b = importance**p
            e = _scaled_gram(x[pick], x[pick], b, max(degrees))
            e_b = _newton_esym({i: np.array(np.sum(b**i)) for i in range(1, max(degrees) + 1)}, max(degrees))
            scaled = {k: e[k] / e_b[k] for k in degrees if k > 1}
            for rho3, rho5 in PRIORS:
                cand = {1: 1.0, 3: rho3, 5: rho5}
                if rho3 == 0 or any(cand[k] > 0 and k not in parts for k in cand):
                    continue
                gram = parts[1] + sum(cand[k] * scaled[k] for k in degrees if k > 1 and cand[k] > 0)
                cand_err, cand_rel = _loo_path(gram, t[pick])
                if cand_err < err:
                    err, rel, rho, power = cand_err, cand_rel, cand, p
                    weights = {1: 1.0 / n} | {k: cand[k] / float(e_b[k]) for k in degrees if k > 1 and cand[k] > 0}
                    scale = b
    return err, rel, rho, weights, scale, power


def fit_fourier_surrogate(
    x: np.ndarray,
    t: np.ndarray,
    rng: np.random.Generator,
    triples: ScreenSettings | None = None,
    unanimity: bool = False,
    even: np.ndarray | None = None,
    choose_on_all_rows: bool = False,
) -> FourierSurrogate:
    """Fit the odd Fourier surrogate to targets `t` at +-1 rows `x`, hyper-parameters by LOO error.

    Args:
        x: (p, n) rows of +-1 (one per complementary pair, plus the all-present row).
        t: (p,) half-differences (v(S) - v(N\\S)) / 2.
        rng: used only to subsample rows when there are more than SELECT_PAIRS / FIT_PAIRS.
        (More than LARGE_FIT rows: the prior and noise are chosen on SELECT_PAIRS_LARGE_FIT of them.)
        triples: with settings, first screen all C(n, 3) odd triples on every row (triple_screen.py);
            those kept are a fixed part of the surrogate, and the kernel is fitted to the rest of t.
        unanimity: also try the odd part of a unanimity (Moebius) prior (unanimity_kernel.py) on the same
            selection rows; it replaces the Fourier prior if its leave-one-out error is lower.
        even: with `unanimity`, the even parts (v(S) + v(N\\S)) / 2 at the rows x: the unanimity prior is
            then fitted to both parts of every pair (value_gram), on VALUE_SELECT_PAIRS
            selection rows, and competes by its leave-one-pair-out error of the odd parts there.
        choose_on_all_rows: with `even`, where the two priors' errors on the selection rows are within
            ALL_ROWS_CHOICE_MARGIN, fit both on every row (each with the hyper-parameters chosen there)
            and keep the one of lower leave-one-(pair-)out error over all of them.
    Returns:
        The fitted surrogate, with its leave-one-out error and predictions and the chosen prior.
    """
    n = x.shape[1]
    found, screen, offset = None, None, np.zeros(len(x))
    if triples is not None:
        found, coef, screen = screen_triples(x, t, triples)
        if len(found):
            offset = triple_columns(x, found) @ coef[n:]
            t = t - offset
        else:
            found = None
    # Where the screen's settings say so, kept triples leave only the unanimity prior to be tried on the rest.
    unanimity_only = unanimity and found is not None and triples.unanimity_after_kept
    order = rng.permutation(len(x)) if len(x) > SELECT_PAIRS else np.arange(len(x))
    pick = np.sort(order[: SELECT_PAIRS_LARGE_FIT if len(x) > LARGE_FIT else SELECT_PAIRS])
    tied = None  # the unanimity prior's weights, where it wins
    if unanimity and even is not None:
        # The unanimity prior on whole values is chosen on VALUE_SELECT_PAIRS of the rows (a joint eigh has
        # two rows a pair) and competes with the Fourier prior chosen on the same rows, the Fourier one by
        # its leave-one-out error of t, the unanimity one by its leave-one-pair-out error of t. Where the
        # Fourier prior wins, it is chosen again on all the selection rows, as without this competition.
        sub = pick[:: max(1, len(pick) // VALUE_SELECT_PAIRS)][:VALUE_SELECT_PAIRS]
        fourier_sub = None if unanimity_only else _select_fourier(x, t, sub)
        fourier_err = np.inf if fourier_sub is None else fourier_sub[0]
        best_tied = None  # (error, relative noise, weights) of the best unanimity prior on `sub`
        for order_max in UNANIMITY_ORDERS:
            if order_max > n:
                continue
            cand = unanimity_prior(order_max)
            joint = value_gram(x[sub], x[sub], cand)
            cand_err, cand_rel = pair_out_path(joint, t[sub], even[sub])
            if best_tied is None or cand_err < best_tied[0]:
                best_tied = (cand_err, cand_rel, cand)
        if best_tied is not None and best_tied[0] < fourier_err:
            err, rel, tied = best_tied
        close = best_tied is not None and best_tied[0] < ALL_ROWS_CHOICE_MARGIN * fourier_err
        if choose_on_all_rows and close and fourier_sub is not None and found is None:
            return _choose_on_all_rows(x, t, even, order, fourier_sub, best_tied)
    if tied is None and not unanimity_only:
        err, rel, rho, weights, scale, power = _select_fourier(x, t, pick)
    else:
        err, rho, weights, scale, power = np.inf, {3: 0.0, 5: 0.0}, {}, None, 0.0
    if unanimity and even is None:
        for order_max in UNANIMITY_ORDERS:
            if order_max > n:
                continue
            cand = unanimity_prior(order_max)
            cand_err, cand_rel = _loo_path(unanimity_kernel_matrix(x[pick], x[pick], cand), t[pick])
            if cand_err < err:
                err, rel, tied = cand_err, cand_rel, cand
    # Where triples were kept and there are more rows than FIT_PAIRS (n = 256, 32n), the kernel fits what
    # they leave on fewer rows: the screen's cost is paid from the Cholesky's.
    cap = FIT_PAIRS_WITH_TRIPLES if found is not None and len(x) > FIT_PAIRS else FIT_PAIRS
    fit_rows = np.sort(order[:cap])
    train = x[fit_rows]
    # One kernel between every given row and the training rows: the fit's Gram matrix is its training
    # rows, and the predictions at every row (which the caller needs) come without a second one.
    only = " (the only prior tried after kept triples)" if unanimity_only else ""
    if tied is not None and even is not None:
        values = _fit_values(
            x, t, even, fit_rows, tied, rel, err, found, screen, offset, coef[n:] if found is not None else None
        )
        values.choice["prior"] += only
        return values
    if tied is not None:
        cross = unanimity_kernel_matrix(x, train, tied)
    else:
        cross = kernel_matrix(x, train, weights, scale)
    alpha, loo, lam = _kernel_ridge(cross, t, fit_rows, rel)
    choice = {"rho3": rho[3], "rho5": rho[5], "noise": rel, "fit_rows": len(train), "ard_power": power}
    if unanimity:
        choice["prior"] = ("fourier" if tied is None else f"unanimity, orders <= {max(tied)}") + only
    if screen is not None:
        choice["triples"] = screen
    return FourierSurrogate(
        train,
        alpha,
        weights,
        err,
        fit_rows,
        loo + offset[fit_rows],
        choice,
        scale,
        lam,
        cross @ alpha + offset,
        found,
        None if found is None else coef[n:],
        tied,
    )


def _kernel_ridge(cross: np.ndarray, t: np.ndarray, fit_rows: np.ndarray, rel: float):
    """(dual weights, leave-one-out predictions at fit_rows, absolute ridge) of kernel ridge on the rows
    fit_rows, given the kernel `cross` between every row and those."""
    gram = cross[fit_rows]
    lam = _ridge(gram, rel)
    factor = cho_factor(gram + lam * np.eye(len(fit_rows)))
    alpha = cho_solve(factor, t[fit_rows])
    return alpha, t[fit_rows] - alpha / inverse_diagonal(factor), lam


def _choose_on_all_rows(x, t, even, order, fourier_sub, best_tied) -> FourierSurrogate:
    """Both priors, as chosen on the selection rows, fitted to every row (up to FIT_PAIRS); the one of lower
    leave-one-(pair-)out error of the odd parts over those rows. Used in the refit after the adaptive design
    (regression_adjusted). Measured there past 512 pairs: on 256 selection rows the two priors' errors were within 5% and the
    choice flipped with the draw (SOUM order <= 3, n = 256, 8n, a pool of 4 candidates a designed pair: the
    Fourier prior on 3 of 6 held-out games, median 0.0911 against 0.0839 with the unanimity prior on all
    six); over all 1,024 rows the unanimity prior's error was the lower on all 12 held-out games of orders
    3 and 5, by 5-34%. After the Fourier-fitted design (<= 512 pairs) it changed 1 of 288 held-out runs of
    issue 22's grid (n = 256, 4n: 0.1626 -> 0.1376) and no median."""
    fit_rows = np.sort(order[:FIT_PAIRS])
    err_u, rel_u, tied = best_tied
    values = _fit_values(x, t, even, fit_rows, tied, rel_u, err_u, None, None, np.zeros(len(x)), None)
    _, rel_f, rho, weights, scale, power = fourier_sub
    cross = kernel_matrix(x, x[fit_rows], weights, scale)
    alpha, loo, lam = _kernel_ridge(cross, t, fit_rows, rel_f)
    loo_u = float(np.mean((t[fit_rows] - values.loo_prediction) ** 2))
    loo_f = float(np.mean((t[fit_rows] - loo) ** 2))
    verdict = {"fourier": round(loo_f, 6), "unanimity": round(loo_u, 6), "rows": len(fit_rows)}
    if loo_u <= loo_f:
        values.choice["all_rows_loo"] = verdict
        return values
    choice = {"rho3": rho[3], "rho5": rho[5], "noise": rel_f, "fit_rows": len(fit_rows), "ard_power": power}
    choice |= {"prior": "fourier", "all_rows_loo": verdict}
    return FourierSurrogate(x[fit_rows], alpha, weights, loo_f, fit_rows, loo, choice, scale, lam, cross @ alpha)


def cross_validated_predictions(surrogate: FourierSurrogate, x: np.ndarray, t: np.ndarray, folds) -> np.ndarray:
    """Out-of-fold predictions at `x` of the surrogate's prior and noise refitted on the given folds.

    Lets the Fourier fit be compared with another family on the very same folds and targets
    (leave-one-out would train on more rows than a 3-fold fit, and flatter it).
    """
    gram = surrogate.kernel(x, x)
    lam = _ridge(gram, surrogate.choice["noise"])
    offset = surrogate.triple_part(x)  # the screened triples stay fixed: the kernel is refitted to the rest
    t = t - offset
    out = offset.copy()
    for test in folds:
        train = np.setdiff1d(np.arange(len(x)), test)
        alpha = cho_solve(cho_factor(gram[np.ix_(train, train)] + lam * np.eye(len(train))), t[train])
        out[test] += gram[np.ix_(test, train)] @ alpha
    return out
