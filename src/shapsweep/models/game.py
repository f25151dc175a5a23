"""The game handed to estimators: bool coalitions (k, n) -> float64 values (k,), batched and cached."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from shapsweep.models.device import BatchRunner


@dataclass
class Usage:
    """What one explanation cost: model forward passes and tokens processed (padding excluded)."""

    forward_passes: int = 0
    tokens: int = 0

    def add(self, forward_passes: int, tokens: int) -> None:
        self.forward_passes += int(forward_passes)
        self.tokens += int(tokens)


class GenerationMemo:
    """The greedy responses (token ids) of a game's coalitions, for values computed from generations.

    A value such as generate_similarity is the similarity of each coalition's *generated* response to
    the full input's; the generation is the expensive part. Responses given in `known` (the evaluation
    store, from any run with the same model, features and row) are taken as they are, so another
    similarity, reducer or embedding re-uses every generation; `evaluated()` gives the new ones.
    """

    def __init__(self):
        self.known: dict[bytes, list[int]] = {}
        self.new: dict[bytes, list[int]] = {}
        self.reused = 0

    def responses(self, coalitions: np.ndarray, generate: Callable[[np.ndarray], list[list[int]]]) -> list[list[int]]:
        keys = [row.tobytes() for row in np.packbits(np.asarray(coalitions, dtype=bool), axis=1)]
        todo = [i for i, k in enumerate(keys) if k not in self.known and k not in self.new]
        if todo:
            self.new.update(zip((keys[i] for i in todo), generate(coalitions[todo])))
        self.reused += len(keys) - len(todo)
        return [self.known[k] if k in self.known else self.new[k] for k in keys]

    def record(self, coalition, response: list[int]) -> None:
        """A response the connector generated itself (the full input's, while building the game)."""
        self.new[np.packbits(np.asarray(coalition, dtype=bool)).tobytes()] = list(response)

    def evaluated(self) -> tuple[list[bytes], list[list[int]]]:
        return list(self.new), list(self.new.values())


class CachedGame:
    """A row's game. Every distinct coalition reaches `evaluate` once per explanation.

    `evaluate` maps a (b, n) bool chunk to (b,) values; the game deduplicates, looks up its cache,
    orders the new coalitions by size (similar lengths pad less) and feeds them in chunks.
    Values known from elsewhere (`use_known`: the evaluation store) are taken instead of calling the
    model; `evaluated()` gives what the model computed here, for the store to keep.
    """

    def __init__(
        self,
        players: list[str],
        spans: list[tuple[int, int]] | None,
        evaluate: Callable[[np.ndarray], np.ndarray],
        runner: BatchRunner,
        usage: Usage,
        response: str | None = None,
        regions: list | None = None,
    ):
        self.players = list(players)
        self.n_players = len(self.players)
        self.spans = spans
        # Per player: its media region (pixel box, superpixel id, [start_s, end_s]); None = text player.
        self.regions = regions
        self.response = response
        self._evaluate = evaluate
        self._runner = runner
        self._usage = usage
        self._cache: dict[bytes, float] = {}
        self._known: dict[bytes, float] = {}
        self._from_model: set[bytes] = set()
        self.store_hits = 0

    @classmethod
    def of_players(cls, players: list, evaluate, runner: BatchRunner, usage: Usage, response: str | None = None):
        """A game over text players (anything with `text`, `start`, `end`: a tokenized row's)."""
        return cls([p.text for p in players], [(p.start, p.end) for p in players], evaluate, runner, usage, response)

    @property
    def stats(self) -> dict[str, int]:
        return {
            "forward_passes": self._usage.forward_passes,
            "tokens": self._usage.tokens,
            "coalitions": len(self._cache),
            "model_evals": len(self._from_model),
            "store_hits": self.store_hits,
        }

    def prime(self, coalition, value: float) -> None:
        """Record a value the connector already computed the same way (e.g. v(full) while building the reference)."""
        key = self._key(np.asarray(coalition, dtype=bool))
        self._cache[key] = float(value)
        self._from_model.add(key)

    def use_known(self, values: dict[bytes, float]) -> None:
        """Values of coalitions (packed with np.packbits) computed before, e.g. by another run of the sweep."""
        self._known = values

    def evaluated(self) -> tuple[list[bytes], np.ndarray]:
        """(packed coalitions, values) the model computed for this game, not taken from `use_known`."""
        keys = [k for k in self._cache if k in self._from_model]
        return keys, np.fromiter((self._cache[k] for k in keys), dtype=np.float64, count=len(keys))

    def _key(self, coalition: np.ndarray) -> bytes:
        return np.packbits(coalition).tobytes()

    def __call__(self, coalitions) -> np.ndarray:
        coalitions = np.asarray(coalitions)
        if coalitions.ndim == 1:
            coalitions = coalitions[None, :]
        if coalitions.ndim != 2 or coalitions.shape[1] != self.n_players:
            raise ValueError(f"coalitions must have shape (k, {self.n_players}), got {coalitions.shape}")
        coalitions = coalitions.astype(bool)
        keys = [row.tobytes() for row in np.packbits(coalitions, axis=1)]  # one vectorised pack, not one per row
        new: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            if key not in self._cache and key not in new:
                new[key] = i
        if new and self._known:
            hits = [key for key in new if key in self._known]
            for key in hits:
                self._cache[key] = self._known[key]
                del new[key]
            self.store_hits += len(hits)
        if new:
            self._from_model.update(new)
            rows = np.fromiter(new.values(), dtype=np.int64, count=len(new))
            # Largest coalitions first: neighbours in a chunk have similar lengths.
            rows = rows[np.argsort(-coalitions[rows].sum(axis=1), kind="stable")]
            values = self._runner.run(coalitions[rows], self._evaluate)
            for row, value in zip(rows, values):
                self._cache[keys[row]] = float(value)
        return np.array([self._cache[key] for key in keys], dtype=np.float64)
