"""Closed-form games for estimator tests: each knows its own Shapley values."""

from __future__ import annotations

import itertools
import math

import numpy as np


class CountingGame:
    """Wraps a game and records every row and call it receives (to check dedup, batching, budget)."""

    def __init__(self, game):
        self.game = game
        self.rows: list[bytes] = []
        self.calls: list[int] = []

    def __call__(self, z):
        z = np.asarray(z, dtype=bool)
        self.calls.append(len(z))
        self.rows.extend(np.packbits(z, axis=1).tobytes() for z in z[:, None, :])
        return self.game(z)


class AdditiveGame:
    def __init__(self, weights, offset=0.0):
        self.w = np.asarray(weights, float)
        self.offset = offset

    def __call__(self, z):
        return self.offset + np.asarray(z, float) @ self.w

    def shapley(self):
        return self.w.copy()


class SoumGame:
    """Sum of unanimity games: v(S) = sum_T c_T [T subset of S]; phi_i = sum_{T ni i} c_T / |T|."""

    def __init__(self, n, n_terms, rng, max_order=4, offset=0.0, dense=0.0):
        """dense > 0 adds dense * sin(z . phase), which no few unanimity terms make up: the game is then
        nearly but not exactly sparse (msr's exact peeling leaves it to the fits); the closed forms below
        leave that part out."""
        self.n = n
        self.terms = [
            rng.choice(n, size=int(rng.integers(1, min(max_order, n) + 1)), replace=False) for _ in range(n_terms)
        ]
        self.coef = rng.normal(size=n_terms)
        self.offset = offset
        self.dense = dense
        self.phase = rng.normal(size=n) if dense else None

    def __call__(self, z):
        z = np.asarray(z, bool)
        v = np.full(len(z), self.offset)
        for t, c in zip(self.terms, self.coef):
            v += c * z[:, t].all(axis=1)
        if self.dense:
            v += self.dense * np.sin(z @ self.phase)
        return v

    def shapley(self):
        phi = np.zeros(self.n)
        for t, c in zip(self.terms, self.coef):
            phi[t] += c / len(t)
        return phi

    def banzhaf(self):
        """beta_i = sum_{T ni i} c_T / 2^(|T|-1): i's marginal to T is c_T when the other |T|-1 are all in."""
        beta = np.zeros(self.n)
        for t, c in zip(self.terms, self.coef):
            beta[t] += c / 2 ** (len(t) - 1)
        return beta


class WeightedVotingGame:
    """v(S) = 1 if the weights in S reach the quota."""

    def __init__(self, weights, quota):
        self.w = np.asarray(weights, float)
        self.quota = quota

    def __call__(self, z):
        return (np.asarray(z, float) @ self.w >= self.quota).astype(float)


def brute_force_shapley(game, n):
    """Average marginal contribution over all n! orders (the definition; for n <= 7)."""
    phi = np.zeros(n)
    for order in itertools.permutations(range(n)):
        z = np.zeros((n + 1, n), bool)
        for k, player in enumerate(order):
            z[k + 1 :, player] = True
        values = game(z)
        phi[list(order)] += np.diff(values)
    return phi / math.factorial(n)


def random_table_game(n, rng):
    """A game with an arbitrary value for every coalition (no structure at all)."""
    table = rng.normal(size=2**n)
    powers = 1 << np.arange(n)

    def game(z):
        return table[np.asarray(z, bool) @ powers]

    return game
