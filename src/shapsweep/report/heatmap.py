"""One explanation laid out as coloured player segments: what a heatmap template draws.

Where the row's text and the players' character spans are known, the original text is shown with the
players coloured in place and the text between them (spaces, punctuation that is not a player) left
plain; otherwise the players are shown in order, separated by spaces. Every player gives exactly one
segment, in player order, so a page has as many coloured elements as the explanation has players.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shapsweep.report.colour import DivergingScale


@dataclass(frozen=True)
class Segment:
    text: str
    index: int | None = None  # player index; None for plain text between players
    value: float | None = None
    stderr: float | None = None
    normalized: float | None = None
    colour: str = ""
    text_colour: str = ""

    @property
    def is_player(self) -> bool:
        return self.index is not None

    @property
    def tip(self) -> str:
        """Hover text: value ± standard error (and the normalized value when there is one)."""
        if self.value is None or not math.isfinite(self.value):
            return f"player {self.index}: no value"
        tip = f"φ = {self.value:+.4g}"
        if self.stderr is not None and math.isfinite(self.stderr):
            tip += f" ± {self.stderr:.2g}"
        if self.normalized is not None and math.isfinite(self.normalized):
            tip += f" (normalized {self.normalized:+.3g})"
        return f"player {self.index}: {tip}"


def _at(values, i):
    if values is None or i >= len(values) or values[i] is None:
        return None
    return float(values[i])


def _spans_fit(text: str | None, players: list[str], spans) -> bool:
    if not text or spans is None or len(spans) != len(players):
        return False
    end = 0
    for span in spans:
        if span is None or len(span) != 2:
            return False
        start, stop = int(span[0]), int(span[1])
        if start < end or stop < start or stop > len(text):
            return False  # overlapping or out of range: fall back to the player list
        end = stop
    return True


def segments(
    players: list[str],
    attribution,
    scale: DivergingScale,
    stderr=None,
    normalized=None,
    text: str | None = None,
    spans=None,
) -> list[Segment]:
    players = list(players or [])

    def player(i: int, shown: str) -> Segment:
        value = _at(attribution, i)
        return Segment(
            text=shown,
            index=i,
            value=value,
            stderr=_at(stderr, i),
            normalized=_at(normalized, i),
            colour=scale.colour(value),
            text_colour=scale.text_colour(value),
        )

    out: list[Segment] = []
    # a mixed game's media players come after its text players, with no span: the text keeps its own
    # layout and the media players follow it (their pictures are drawn beside)
    n_text = len(players) if spans is None else next((i for i, s in enumerate(spans) if s is None), len(spans))
    media_after_text = 0 < n_text < len(players) and all(s is None for s in spans[n_text:])
    if media_after_text and _spans_fit(text, players[:n_text], spans[:n_text]):
        out = segments(players[:n_text], attribution, scale, stderr, normalized, text, spans[:n_text])
        for i in range(n_text, len(players)):
            out.extend([Segment(text="\n" if i == n_text else " "), player(i, players[i])])
        return out
    if _spans_fit(text, players, spans):
        cursor = 0
        for i, (start, stop) in enumerate(spans):
            start, stop = int(start), int(stop)
            if start > cursor:
                out.append(Segment(text=text[cursor:start]))
            out.append(player(i, text[start:stop]))
            cursor = stop
        if cursor < len(text):
            out.append(Segment(text=text[cursor:]))
        return out
    for i, name in enumerate(players):
        if i:
            out.append(Segment(text=" "))
        out.append(player(i, name))
    return out
