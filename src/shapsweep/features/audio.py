"""Audio players (fixed time windows or word segments) and their masker (fill with silence or noise).

The clip is first resampled to the model's feature-extractor rate, then split: `windows` cuts it into
`window_ms` pieces (the last one shorter), named `t=1.25-1.50s`; `words` takes segments from the row's
`word_times` column (`[start_s, end_s, word]` triples or `{start, end, word}` records, as a forced
aligner writes them; SGPA in MLLM-SHAP uses such word segments), named by their word. Samples outside
every segment are never players and stay in every coalition. An absent segment's samples become zeros
(`silence`) or white noise at `noise_db` dB below full scale, drawn once per row from `seed`, so every
coalition of a row hears the same noise. The clip keeps its length, so no coalition needs padding.
"""

from __future__ import annotations

import numpy as np

from shapsweep.errors import RowError
from shapsweep.fields import Field, defaults, enum, nullable

AUDIO_PLAYERS = ("windows", "words")
AUDIO_FILLS = ("silence", "noise")
AUDIO_FIELDS = (
    Field("players", enum(AUDIO_PLAYERS), "windows", "fixed time windows, or word segments (word_times or aligner)"),
    Field("window_ms", {"type": "number", "exclusiveMinimum": 0}, 500, "players 'windows': window length"),
    Field("fill", enum(AUDIO_FILLS), "silence", "what replaces an absent segment: zeros or seeded white noise"),
    Field("noise_db", {"type": "number"}, -40.0, "fill 'noise': level in dB below full scale"),
    Field("seed", {"type": "integer", "minimum": 0}, 0, "fill 'noise': seed of the row's noise"),
    Field(
        "aligner",
        nullable("string"),
        None,
        "players 'words' without a word_times column: a CTC model (path or id) whose greedy path gives the words",
    ),
)
AUDIO_DEFAULTS = defaults(AUDIO_FIELDS)


def _word_segments(word_times, duration: float) -> list[tuple[float, float, str]]:
    if word_times is None:
        raise RowError("missing_column", "features.audio.players 'words' needs a `word_times` column in the row")
    segments = []
    for i, item in enumerate(word_times):
        try:
            if isinstance(item, dict):
                start, end, word = float(item["start"]), float(item["end"]), str(item["word"])
            else:
                start, end, word = float(item[0]), float(item[1]), str(item[2])
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise RowError("bad_spans", f"word_times[{i}] = {item!r} is not [start_s, end_s, word]") from error
        if not 0 <= start < end or start >= duration:
            raise RowError(
                "bad_spans", f"word_times[{i}] = [{start}, {end}) is empty or outside the clip ({duration:.2f}s)"
            )
        if segments and start < segments[-1][1]:
            raise RowError("bad_spans", f"word_times[{i}] overlaps or precedes the previous word; sort them")
        segments.append((start, min(end, duration), word))
    return segments


def audio_segments(n_samples: int, rate: int, cfg: dict, word_times=None) -> list[tuple[int, int, str]]:
    """(start_sample, end_sample, name) of each player, in time order."""
    if cfg["players"] == "windows":
        width = max(1, round(cfg["window_ms"] * rate / 1000))
        bounds = [(s, min(s + width, n_samples)) for s in range(0, n_samples, width)]
        return [(s, e, f"t={s / rate:.2f}-{e / rate:.2f}s") for s, e in bounds]
    words = _word_segments(word_times, n_samples / rate)
    return [(round(s * rate), max(round(s * rate) + 1, round(e * rate)), w) for s, e, w in words]


class AudioPart:
    """A row's audio clip (at the model's rate) as players; `mask` fills absent segments."""

    kind = "audio"
    spans = None

    def __init__(self, samples: np.ndarray, rate: int, cfg: dict, word_times=None):
        self.samples = np.asarray(samples, dtype=np.float32)
        self.rate = int(rate)
        segments = audio_segments(len(self.samples), self.rate, cfg, word_times)
        self.players = [name for _, _, name in segments]
        self.regions = [[s / self.rate, e / self.rate] for s, e, _ in segments]
        self.owners = np.full(len(self.samples), -1, dtype=np.int64)
        for index, (s, e, _) in enumerate(segments):
            self.owners[s:e] = index
        if cfg["fill"] == "silence":
            self.fill = np.zeros_like(self.samples)
        else:
            scale = 10 ** (cfg["noise_db"] / 20)
            self.fill = (np.random.default_rng(cfg["seed"]).standard_normal(len(self.samples)) * scale).astype(
                np.float32
            )

    def mask(self, coalitions: np.ndarray) -> np.ndarray:
        """(b, T) float32: each coalition's clip."""
        coalitions = np.asarray(coalitions, dtype=bool)
        owned = self.owners >= 0
        present = np.ones((coalitions.shape[0], len(self.samples)), dtype=bool)
        present[:, owned] = coalitions[:, self.owners[owned]]
        return np.where(present, self.samples[None], self.fill[None])
