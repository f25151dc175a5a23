"""A row tokenized once: its token ids, which player owns each token, and the players themselves."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shapsweep.errors import RowError
from shapsweep.features.text import Player, assign_tokens, split_players


@dataclass
class TokenizedRow:
    ids: np.ndarray  # (T,) token ids of prefix + text + suffix
    owners: np.ndarray  # (T,) owning player per token, -1 = always kept
    players: list[Player]

    @property
    def n_players(self) -> int:
        return len(self.players)


def row_text(row: dict) -> str:
    """The row's `text`, or a RowError saying what is wrong with it."""
    if "text" not in row or row["text"] is None:
        raise RowError("missing_column", "the row has no `text` (map it with dataset.columns)")
    text = row["text"]
    if not isinstance(text, str):
        raise RowError("bad_input", f"`text` must be a string, got {type(text).__name__}")
    if not text.strip():
        raise RowError("empty_input", "`text` is empty")
    return text


def row_players(text: str, features: dict, *, spans=None, token_offsets=None) -> list[Player]:
    """The players of a row's text under the `features` block, with the RowErrors every connector raises:
    `missing_column` (spans players without spans), `bad_spans`, `empty_input`, `too_many_players`."""
    if features["granularity"] == "spans" and spans is None:
        raise RowError("missing_column", "features.granularity 'spans' needs a `spans` column in the row")
    try:
        players = split_players(
            text,
            features["granularity"],
            token_offsets=token_offsets,
            spans=spans,
            exclude_punctuation=features["exclude_punctuation"],
        )
    except ValueError as error:
        raise RowError("bad_spans", str(error)) from error
    if not players:
        raise RowError("empty_input", "the text has no players at this granularity (all punctuation or whitespace?)")
    if len(players) > features["max_players"]:
        raise RowError(
            "too_many_players",
            f"{len(players)} players exceed features.max_players = {features['max_players']}; "
            "raise it or use a coarser features.granularity",
        )
    return players


def tokenize_row(
    tokenizer,
    text: str,
    features: dict,
    *,
    spans=None,
    prefix: str = "",
    suffix: str = "",
    add_special_tokens: bool = True,
    prepend_ids: tuple[int, ...] = (),
    max_length: int | None = None,
) -> TokenizedRow:
    """Tokenize `prefix + text + suffix` once and split `text` into players.

    `prepend_ids` (e.g. a BOS the tokenizer does not add) go first and are never players.
    Raises RowError for zero players (`empty_input`), more than `features.max_players`
    (`too_many_players`), bad explicit spans (`bad_spans`) or a sequence over `max_length` (`too_long`).
    """
    full = prefix + text + suffix
    encoded = tokenizer(
        full,
        add_special_tokens=add_special_tokens,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    ids = np.asarray(encoded["input_ids"], dtype=np.int64)
    offsets = encoded["offset_mapping"]
    special = np.asarray(encoded["special_tokens_mask"], dtype=bool)
    if prepend_ids:
        ids = np.concatenate([np.asarray(prepend_ids, dtype=np.int64), ids])
        offsets = [(0, 0)] * len(prepend_ids) + list(offsets)
        special = np.concatenate([np.ones(len(prepend_ids), dtype=bool), special])
    # Special tokens written into the template text ("<s>", "<|user|>") are not flagged by the
    # tokenizer's mask, but they sit outside [text_start, text_end) and so stay unowned.
    text_start, text_end = len(prefix), len(prefix) + len(text)
    if max_length is not None and len(ids) > max_length:
        raise RowError("too_long", f"the input has {len(ids)} tokens; the model takes at most {max_length}")

    token_offsets = None
    if features["granularity"] == "token":
        token_offsets = [
            (s - text_start, e - text_start)
            for (s, e), sp in zip(offsets, special)
            if not sp and s < text_end and e > text_start
        ]
    players = row_players(text, features, spans=spans, token_offsets=token_offsets)
    owners = assign_tokens(players, offsets, text_start, len(text), special_mask=special)
    return TokenizedRow(ids, owners, players)
