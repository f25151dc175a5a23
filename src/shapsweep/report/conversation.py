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
        turns, _ = row_conversation(record)
    except RowError:
        return None
    return conversation_text(turns)[0], turns


def turns_view(turns: list, segments: list[Segment]) -> list[dict]:
    """One {role, segments, has_players} per turn, in order, from the segments of the conversation text."""
    _, bounds = conversation_text(turns)
    out = [{"role": t.role, "segments": [], "has_players": False} for t in turns]
    turn, cursor = 0, 0  # cursor: where the current segment starts in the conversation text
    for seg in segments:
        text = seg.text
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
    return out


__all__ = ["TURN_SEPARATOR", "row_turns", "turns_view"]
