"""A component game (ablation, update) backed by the evaluation store.

Input games keep their store cache in `models.game.CachedGame`; a game over model components is built by its
kind, so the kind wraps it here: coalitions the store holds are taken from it, the rest go to the game in one
call (so it still batches them), and `evaluated()` is what was computed here, for the store to keep.
"""

from __future__ import annotations

import numpy as np


class StoredGame:
    def __init__(self, game, known: dict[bytes, float] | None = None):
        self.game, self.players = game, list(game.players)
        self._known = known or {}  # packed coalition (np.packbits) -> value, from another run of the sweep
        self._hits: set[bytes] = set()
        self._computed: dict[bytes, float] = {}

    @property
    def n_players(self) -> int:
        return len(self.players)

    @property
    def store_hits(self) -> int:
        """Distinct coalitions taken from the store."""
        return len(self._hits)

    def evaluated(self) -> tuple[list[bytes], np.ndarray]:
        keys = list(self._computed)
        return keys, np.fromiter(self._computed.values(), dtype=np.float64, count=len(keys))

    def __call__(self, coalitions) -> np.ndarray:
        coalitions = np.asarray(coalitions, dtype=bool)
        keys = [row.tobytes() for row in np.packbits(coalitions, axis=1)]
        values = np.empty(len(keys))
        todo: dict[bytes, list[int]] = {}
        for i, key in enumerate(keys):
            if key in self._known:
                values[i] = self._known[key]
                self._hits.add(key)
            elif key in self._computed:
                values[i] = self._computed[key]
            else:
                todo.setdefault(key, []).append(i)
        if todo:
            first = [rows[0] for rows in todo.values()]
            for key, value in zip(todo, np.asarray(self.game(coalitions[first]), dtype=np.float64), strict=True):
                self._computed[key] = float(value)
                values[todo[key]] = value
        return values
