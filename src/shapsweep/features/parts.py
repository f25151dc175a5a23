"""A row as a list of parts (text, image, audio): each part has its own players, masker and regions.

A game's players are its parts' players concatenated, in the order of `features.modalities`; a
coalition over the game splits back into one coalition per part (`Parts.split`), each part masks its
own input, and the connector feeds the masked parts to the model. A new modality is a new part type:
something with `kind`, `players`, `spans`, `regions` and `mask(coalitions)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from shapsweep.errors import RowError

MODALITIES = ("text", "image", "audio")
# The combinations a game can be built from; with two, text players come first.
MODALITY_SETS = (("text",), ("image",), ("audio",), ("text", "image"), ("text", "audio"))


class Part(Protocol):
    kind: str  # text | image | audio | conversation (features/conversation.py)
    players: list[str]  # one name per player
    spans: list[tuple[int, int]] | None  # character spans into the text (text parts)
    regions: list[list[float]] | None  # pixel boxes, superpixel ids or [start_s, end_s] (media parts)

    def mask(self, coalitions: np.ndarray) -> Any:
        """The part's input for each row of `coalitions` (b, len(players)), absent players hidden."""


@dataclass
class TextPart:
    """The text of a row, already split and tokenized by the connector; `mask` returns the coalitions
    themselves: the connector turns them into token ids (`features.masking`), so one tokenization serves
    every coalition."""

    tokenized: Any  # features.tokenized.TokenizedRow
    kind: str = "text"

    @property
    def players(self) -> list[str]:
        return [p.text for p in self.tokenized.players]

    @property
    def spans(self) -> list[tuple[int, int]]:
        return [(p.start, p.end) for p in self.tokenized.players]

    regions = None

    def mask(self, coalitions: np.ndarray) -> np.ndarray:
        return np.asarray(coalitions, dtype=bool)


@dataclass
class PromptTextPart:
    """Text players of a prompt a processor tokenizes (multimodal connectors): `mask` returns each
    coalition's text with the absent players removed (with the whitespace after each), so the processor
    sees an ordinary, shorter user turn; the full coalition is the text unchanged."""

    text: str
    words: list  # features.text.Player
    kind: str = "text"
    offset: int = 0  # where `text` starts in the text the spans index (a turn in a conversation's text)

    @property
    def players(self) -> list[str]:
        return [p.text for p in self.words]

    @property
    def spans(self) -> list[tuple[int, int]]:
        return [(p.start + self.offset, p.end + self.offset) for p in self.words]

    regions = None

    def mask(self, coalitions: np.ndarray) -> list[str]:
        texts = []
        for coalition in np.asarray(coalitions, dtype=bool):
            if coalition.all():
                texts.append(self.text)
                continue
            pieces, cursor = [], 0
            for present, player in zip(coalition, self.words):
                if not present:
                    pieces.append(self.text[cursor : player.start])
                    cursor = player.end
                    while cursor < len(self.text) and self.text[cursor].isspace():
                        cursor += 1  # the space after a removed word goes with it
            pieces.append(self.text[cursor:])
            texts.append("".join(pieces).strip())
        return texts


class Parts:
    """The parts of one row and where each one's players sit in the game's player list."""

    def __init__(self, parts: list, max_players: int):
        self.parts = list(parts)
        sizes = [len(p.players) for p in self.parts]
        self.bounds = np.cumsum([0, *sizes])
        total = int(self.bounds[-1])
        if total == 0:
            raise RowError("empty_input", "the row has no players")
        if total > max_players:
            raise RowError(
                "too_many_players",
                f"{total} players exceed features.max_players = {max_players}; raise it or use fewer "
                "players per part (a coarser granularity, a smaller grid, longer windows)",
            )

    @property
    def n_players(self) -> int:
        return int(self.bounds[-1])

    @property
    def players(self) -> list[str]:
        return [name for part in self.parts for name in part.players]

    @property
    def spans(self) -> list | None:
        """Per player: its text span, None for media players; None for a game without text."""
        if not any(p.spans is not None for p in self.parts):
            return None
        return [s for p in self.parts for s in (p.spans if p.spans is not None else [None] * len(p.players))]

    @property
    def regions(self) -> list | None:
        """Per player: its media region, None for text players; None for a text-only game."""
        if not any(p.regions is not None for p in self.parts):
            return None
        return [r for p in self.parts for r in (p.regions if p.regions is not None else [None] * len(p.players))]

    def split(self, coalitions: np.ndarray) -> list[np.ndarray]:
        """One (b, n_part) coalition array per part, in order."""
        coalitions = np.asarray(coalitions, dtype=bool)
        return [coalitions[:, self.bounds[i] : self.bounds[i + 1]] for i in range(len(self.parts))]

    def masked(self, coalitions: np.ndarray) -> list:
        """Each part's masked inputs for `coalitions`, in order."""
        return [part.mask(sub) for part, sub in zip(self.parts, self.split(coalitions))]

    def part(self, kind: str):
        return next(p for p in self.parts if p.kind == kind)


def media_part(row: dict, kind: str, features: dict, sampling_rate: int | None = None, aligner=None):
    """The row's `image` or `audio` decoded (in the job) and split into players.

    Audio is resampled to `sampling_rate` (the model's feature extractor's) before it is split. `aligner`
    (a callable (samples, rate, transcript, source) -> word_times) gives `words` players to rows without a
    `word_times`: forced alignment of the row's `transcript` column when it has one, else the aligner's own
    greedy words (see `shapsweep.models.ctc_aligner`).
    Raises RowError (`bad_media`, `missing_column`, ...) for a row that cannot be used.
    """
    from shapsweep.data.media import _describe, decode_audio, decode_image, resample

    if row.get(kind) is None:
        raise RowError("missing_column", f"the row has no `{kind}` (map it with dataset.columns)")
    if kind == "image":
        from shapsweep.features.image import ImagePart

        return ImagePart(decode_image(row["image"]), features["image"])
    from shapsweep.features.audio import AudioPart

    samples, rate = decode_audio(row["audio"])
    if sampling_rate is not None:
        samples, rate = resample(samples, rate, sampling_rate), sampling_rate
    word_times = row.get("word_times")
    if word_times is None and aligner is not None and features["audio"]["players"] == "words":
        word_times = aligner(samples, rate, row.get("transcript"), source=f"`audio` {_describe(row['audio'])}")
        if not word_times:
            raise RowError("empty_input", "features.audio.aligner found no words in the clip")
    return AudioPart(samples, rate, features["audio"], word_times)
