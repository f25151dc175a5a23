"""Text players: split an input into token, word, sentence or explicit-span players.

A player is a piece of the user's text with its character span. The connector tokenizes the
whole prompt once (template and system prompt included); `assign_tokens` then maps each token to
the player that owns it, or to -1 for tokens that are never players (template, special tokens,
whitespace, excluded punctuation). Masking only ever touches tokens owned by a player.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

GRANULARITIES = ("token", "word", "sentence", "spans")

# A word is a run of word characters (keeping inner apostrophes and hyphens: "don't", "well-known"),
# or a run of punctuation/symbols, which `exclude_punctuation` can then drop.
_WORD = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]+")
# A sentence runs up to and including its terminal punctuation (and closing quotes/brackets).
_SENTENCE = re.compile(r"[^.!?。！？]+(?:[.!?。！？]+[\"'”’)\]]*|$)|[.!?。！？]+")


@dataclass(frozen=True)
class Player:
    text: str
    start: int  # character offsets into the row's text, [start, end)
    end: int


def is_punctuation(text: str) -> bool:
    """True when every non-space character is punctuation or a symbol (Unicode categories P*, S*)."""
    chars = [c for c in text if not c.isspace()]
    return bool(chars) and all(unicodedata.category(c)[0] in "PS" for c in chars)


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) so the span has no leading or trailing whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _regex_players(text: str, pattern: re.Pattern) -> list[Player]:
    players = []
    for m in pattern.finditer(text):
        start, end = _strip(text, m.start(), m.end())
        if start < end:
            players.append(Player(text[start:end], start, end))
    return players


def span_players(text: str, spans) -> list[Player]:
    """Players from explicit [start, end) spans; raises ValueError describing the first bad span."""
    players = []
    previous_end = 0
    for i, span in enumerate(spans):
        if span is None or len(span) != 2:
            raise ValueError(f"spans[{i}] = {span!r} is not a [start, end) pair")
        start, end = int(span[0]), int(span[1])
        if not 0 <= start < end <= len(text):
            raise ValueError(f"spans[{i}] = [{start}, {end}) is empty or outside the text (length {len(text)})")
        if start < previous_end:
            raise ValueError(f"spans[{i}] = [{start}, {end}) overlaps or precedes the previous span; sort them")
        previous_end = end
        players.append(Player(text[start:end], start, end))
    return players


def token_players(text: str, offsets) -> list[Player]:
    """One player per token whose offsets fall in the text (offsets relative to `text`)."""
    players = []
    for s, e in offsets:
        s, e = _strip(text, max(int(s), 0), min(int(e), len(text)))
        if s < e:
            players.append(Player(text[s:e], s, e))
    return players


def split_players(
    text: str,
    granularity: str,
    *,
    token_offsets=None,
    spans=None,
    exclude_punctuation: bool = True,
) -> list[Player]:
    """Players of `text` at the given granularity.

    `token_offsets` (character offsets of the tokenizer's tokens of `text`) is needed for `token`;
    `spans` for `spans`. Punctuation-only players are dropped when `exclude_punctuation` (their
    tokens then stay in every coalition).
    """
    if granularity == "word":
        players = _regex_players(text, _WORD)
    elif granularity == "sentence":
        players = _regex_players(text, _SENTENCE)
    elif granularity == "token":
        players = token_players(text, token_offsets)
    elif granularity == "spans":
        players = span_players(text, spans)
    else:
        raise ValueError(f"features.granularity: {granularity!r} is not one of {', '.join(GRANULARITIES)}")
    if exclude_punctuation:
        players = [p for p in players if not is_punctuation(p.text)]
    return players


def assign_tokens(players: list[Player], offsets, text_start: int, text_length: int, special_mask=None) -> np.ndarray:
    """Owner player of each token (-1 = never masked).

    `offsets` are the tokens' character offsets in the tokenized string, where the user's text
    occupies [text_start, text_start + text_length). A token belongs to the first player any of its
    characters falls in; special tokens and tokens outside the text belong to no one.
    """
    char_owner = np.full(text_length, -1, dtype=np.int64)
    for index, player in enumerate(players):
        char_owner[player.start : player.end] = index
    owners = np.full(len(offsets), -1, dtype=np.int64)
    for t, (s, e) in enumerate(offsets):
        if special_mask is not None and special_mask[t]:
            continue
        s, e = max(int(s) - text_start, 0), min(int(e) - text_start, text_length)
        if s >= e:
            continue
        inside = char_owner[s:e]
        hit = inside[inside >= 0]
        if hit.size:
            owners[t] = hit[0]
    return owners
