"""A single-index cubic term for the Fourier surrogate: interactions shaped by the main effects.

What: the odd Fourier surrogate (fourier_kernel.py) refitted with one more kernel column,
tau * phi(s) phi(s'), where phi(s) = e_3(a * s) = sum_{i<j<k} a_i a_j a_k s_i s_j s_k and a is the
surrogate's own degree-1 coefficients: the degree-3 characters get a shared shape, c_ijk ~ gamma a_i a_j a_k,
on top of the isotropic prior.
Idea: a game that is a smooth function of an additive score, f(S) ~ g(sum_i a_i s_i) (a sentence embedding's
similarity that saturates as words come back), has the cubic Taylor term g''' / 6 (a . s)^3, whose degree-3
characters are exactly a_i a_j a_k. Measured on the all-MiniLM-L6-v2 tables of the benchmarks (13-14 words):
corr(c_ijk, a_i a_j a_k) = 0.39-0.56 on four of six sentences. phi has degree-3 characters only (e_3 of a
vector multiplies three distinct entries), so the Banzhaf values stay twice the degree-1 coefficients,
2 w_1 alpha @ train. The scale tau (tau = 0 is the surrogate itself) and the noise are chosen by leave-one-out
error, each tau a Sherman-Morrison update of one Cholesky factor per noise level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from .fourier_kernel import FourierSurrogate, inverse_diagonal

# tau relative to mean diag(K) / mean(phi^2): 0 keeps the surrogate, 100 lets phi dominate the degree-3 prior
TAUS = (0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
NOISE_FACTORS = (0.3, 1.0, 3.0)  # times the surrogate's own ridge (chosen without phi)
# Above this many training rows the refit is not tried: one factorisation per noise level costs O(rows^3), and the
# gain was measured at 4-8 pairs a player on n = 12-14 (docs/estimators.md)
MAX_ROWS = 512


@dataclass(frozen=True)
class SingleIndexFit:
    """The refit: dual weights on the surrogate's training rows with the cubic column scaled by `tau`."""

    surrogate: FourierSurrogate
    alpha: np.ndarray
    tau: float  # absolute scale of the phi phi' column (0: the surrogate's own kernel)
    main: np.ndarray  # the degree-1 coefficients a that shape phi
    loo_prediction: np.ndarray  # leave-one-out prediction at each of the surrogate's training rows
    choice: dict

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Odd-part prediction at +-1 rows."""
        s = self.surrogate
        phi_train = cubic_feature(s.train, self.main)
        return s.kernel(x, s.train) @ self.alpha + self.tau * cubic_feature(x, self.main) * (phi_train @ self.alpha)

    def banzhaf(self) -> np.ndarray:
        """Twice the degree-1 coefficients: the cubic column adds none."""
        return 2.0 * self.surrogate.weights.get(1, 0.0) * (self.alpha @ self.surrogate.train)


def cubic_feature(x: np.ndarray, main: np.ndarray) -> np.ndarray:
    """e_3(main * s) at each +-1 row s, from power sums (Newton): (p1^3 - 3 p1 p2 + 2 p3) / 6, where
    p2 = sum main^2 (s_i^2 = 1)."""
    p1 = x @ main
    p2 = float(np.sum(main**2))
    p3 = x @ main**3
    return (p1**3 - 3.0 * p1 * p2 + 2.0 * p3) / 6.0


def fit_single_index(surrogate: FourierSurrogate, x: np.ndarray, t: np.ndarray) -> SingleIndexFit | None:
    """The surrogate refitted with the cubic column on its own training rows (x, t as given to
    fit_fourier_surrogate); None where it does not apply (unanimity prior, screened triples, no degree-1
    prior, more than MAX_ROWS rows, or phi identically zero)."""
    s = surrogate
    if s.unanimity is not None or s.triples is not None or 1 not in s.weights or len(s.fit_rows) > MAX_ROWS:
        return None
    main = s.banzhaf() / 2.0
    target = t[s.fit_rows]
    gram = s.kernel(s.train, s.train)
    phi = cubic_feature(s.train, main)
    if not np.any(phi):
        return None
    unit = float(np.mean(np.diag(gram))) / float(np.mean(phi**2))
    best = None
    for factor in NOISE_FACTORS:
        # A = K + lam I: A^-1 phi, A^-1 t and diag(A^-1) are all the updates need (no full inverse)
        cholesky = cho_factor(gram + factor * s.ridge * np.eye(len(gram)))
        b_phi, b_t = cho_solve(cholesky, phi), cho_solve(cholesky, target)
        inverse_diag = inverse_diagonal(cholesky)
        for relative in TAUS:
            tau = relative * unit
            denom = 1.0 + tau * float(phi @ b_phi)
            alpha = b_t - tau * b_phi * float(b_phi @ target) / denom
            diag = inverse_diag - tau * b_phi**2 / denom
            residual = alpha / diag
            err = float(np.mean(residual**2))
            if best is None or err < best[0]:
                best = (err, alpha, tau, target - residual, {"tau": relative, "noise_factor": factor})
    _err, alpha, tau, loo, choice = best
    return SingleIndexFit(s, alpha, tau, main, loo, choice)
