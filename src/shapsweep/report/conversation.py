"""A conversation row's explanation laid out turn by turn: the players tinted in place, other turns plain.

Player spans of a conversation index its conversation text (`features.conversation.conversation_text`:
the prompt's turns joined by a blank line), so one `heatmap.segments` call lays out every turn; the
segments are then cut at the turn boundaries. A player never crosses a turn, only plain text is cut.
"""

from __future__ import annotations

from dataclasses import replace

from shapsweep.errors import RowError
from shapsweep.features.conversation import TURN_SEPARATOR, conversation_text, row_conversation
from shapsweep.report.heatmap import Segment


def row_turns(record: dict) -> tuple[str, list] | None:
    """(conversation text, prompt turns) of a row with `messages`; None for other rows or unreadable ones."""
    if record.get("messages") is None:
        return None
    try:
        turns, _ = row_conversation(record, ("image", "audio"))
    except RowError:
        return None
    return conversation_text(turns)[0], turns


def media_record(record: dict, turns: list) -> dict:
    """The row with the media item its conversation holds as its `image` / `audio` (what the media view
    draws); the row itself when no turn holds one."""
    holder = next((t for t in turns if t.media_kind is not None), None)
    return record if holder is None else {**record, holder.media_kind: holder.media}


def turns_view(turns: list, segments: list[Segment], text_players: bool = True) -> list[dict]:
    """One {role, segments, has_players} per turn, in order, from the segments of the conversation text;
    a mixed game's media players (they have no span and come last) follow as one more entry. Without text
    players (`text_players` False: a media-only game) every turn is plain and every segment a media one."""
    if not text_players:
        plain = [{"role": t.role, "segments": [Segment(t.content)], "has_players": False} for t in turns]
        return [*plain, {"role": "media players", "segments": list(segments), "has_players": True}]
    _, bounds = conversation_text(turns)
    out = [{"role": t.role, "segments": [], "has_players": False} for t in turns]
    media = {"role": "media players", "segments": [], "has_players": True}
    turn, cursor = 0, 0  # cursor: where the current segment starts in the conversation text
    for seg in segments:
        text = seg.text
        if cursor >= bounds[-1][1]:  # after the text: a mixed game's media players (no span), on their own
            if seg.is_player or media["segments"]:
                media["segments"].append(seg)
            continue
        while text:
            end = bounds[turn][1]
            if cursor >= end and turn + 1 < len(turns):
                # the separator (or a part of it) between this turn and the next: not shown
                skip = min(len(text), bounds[turn + 1][0] - cursor)
                text, cursor = text[skip:], cursor + skip
                if cursor >= bounds[turn + 1][0]:
                    turn += 1
                continue
            take = len(text) if seg.is_player else min(len(text), end - cursor)
            piece = text[:take] if take else text
            out[turn]["segments"].append(replace(seg, text=piece))
            out[turn]["has_players"] |= seg.is_player
            text, cursor = text[len(piece) :], cursor + len(piece)
    return out + ([media] if media["segments"] else [])


__all__ = ["TURN_SEPARATOR", "media_record", "row_turns", "turns_view"]
