"""The one door between estimators and a game: deduplication, batching and the hard budget cap.

Estimators ask for values of coalition matrices; this wrapper evaluates each distinct coalition once,
calls the game in batches of at most `batch_size` rows, and refuses to go past the budget, so no
estimator can overspend or double-count by mistake.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Game(Protocol):
    """The game contract: a boolean coalition matrix (k, n), True = player present, to k float64 values.

    Models, features and value functions build games; estimators only ever call them. Any callable with
    this shape is a game (a function, a lambda, an object with `__call__`).
    """

    def __call__(self, coalitions: np.ndarray, /) -> np.ndarray: ...


class BudgetExceeded(RuntimeError):
    """An estimator asked for more distinct coalitions than its budget (a bug in the estimator)."""


class BudgetedGame:
    """Caching, batching, budget-enforcing view of a game over `n_players`."""

    def __init__(self, game: Game, n_players: int, budget: int, batch_size: int):
        self._game = game
        self.n_players = n_players
        self.budget = budget
        self.batch_size = batch_size
        self._cache: dict[bytes, float] = {}
        self._uncached = 0  # rows evaluated through `evaluate_new_distinct` (exact's fast path)
        self.game_calls = 0
        self.table: np.ndarray | None = None  # all 2^n values in all_coalitions order, once `exact` has them

    @property
    def n_evals(self) -> int:
        return len(self._cache) + self._uncached

    @property
    def remaining(self) -> int:
        return self.budget - self.n_evals

    @staticmethod
    def _keys(coalitions: np.ndarray) -> list[bytes]:
        packed = np.packbits(coalitions, axis=1)
        return [row.tobytes() for row in packed]

    def count_new(self, coalitions: np.ndarray) -> int:
        """How many distinct coalitions of this matrix are not evaluated yet (costs no evaluation)."""
        coalitions = self._check(coalitions)
        return len({k for k in self._keys(coalitions) if k not in self._cache})

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        coalitions = self._check(coalitions)
        keys = self._keys(coalitions)
        new_rows: dict[bytes, int] = {}
        for row, key in enumerate(keys):
            if key not in self._cache and key not in new_rows:
                new_rows[key] = row
        if self.n_evals + len(new_rows) > self.budget:
            raise BudgetExceeded(
                f"estimator asked for {len(new_rows)} new coalitions with {self.remaining} left of budget {self.budget}"
            )
        if new_rows:
            todo = coalitions[list(new_rows.values())]
            values = self._batched(todo)
            self._cache.update(zip(new_rows.keys(), values.tolist()))
        return np.fromiter((self._cache[k] for k in keys), dtype=np.float64, count=len(keys))

    def evaluated(self) -> tuple[np.ndarray, np.ndarray]:
        """(coalitions, values) of every cached evaluation (what interaction indices are estimated from)."""
        if self.table is not None:  # row c is the coalition whose bit i of c is player i (exact's order)
            codes = np.arange(len(self.table), dtype=np.int64)
            return ((codes[:, None] >> np.arange(self.n_players)) & 1).astype(bool), self.table
        if not self._cache:
            return np.zeros((0, self.n_players), bool), np.zeros(0)
        packed = np.frombuffer(b"".join(self._cache), dtype=np.uint8).reshape(len(self._cache), -1)
        z = np.unpackbits(packed, axis=1)[:, : self.n_players].astype(bool)
        return z, np.fromiter(self._cache.values(), dtype=np.float64, count=len(self._cache))

    def evaluate_new_distinct(self, coalitions: np.ndarray) -> np.ndarray:
        """Evaluate rows the caller guarantees distinct and not yet evaluated, skipping per-row hashing.

        `exact` enumerates all 2^n coalitions (distinct by construction); hashing 65k rows would
        dominate its own time. The rows count toward `n_evals` and the budget but are not cached.
        """
        coalitions = self._check(coalitions)
        if self.n_evals + len(coalitions) > self.budget:
            raise BudgetExceeded(
                f"estimator asked for {len(coalitions)} new coalitions with {self.remaining} left of budget {self.budget}"
            )
        values = self._batched(coalitions)
        self._uncached += len(coalitions)
        return values

    def _batched(self, coalitions: np.ndarray) -> np.ndarray:
        k = len(coalitions)
        out = np.empty(k, dtype=np.float64)
        for start in range(0, k, self.batch_size):
            batch = coalitions[start : start + self.batch_size]
            values = np.asarray(self._game(batch), dtype=np.float64).reshape(-1)
            self.game_calls += 1
            if values.shape != (len(batch),):
                raise ValueError(
                    f"game returned {values.shape[0]} values for {len(batch)} coalitions; "
                    "a game must map a (k, n) boolean matrix to k floats"
                )
            if not np.all(np.isfinite(values)):
                raise ValueError("game returned a non-finite value (NaN or inf); check the value function")
            out[start : start + len(batch)] = values
        return out

    def _check(self, coalitions: np.ndarray) -> np.ndarray:
        coalitions = np.asarray(coalitions)
        if coalitions.ndim != 2 or coalitions.shape[1] != self.n_players:
            raise ValueError(f"coalition matrix must have shape (k, {self.n_players}), got {coalitions.shape}")
        return coalitions.astype(bool, copy=False)
