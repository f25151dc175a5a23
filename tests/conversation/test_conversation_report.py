"""The report lays a conversation out turn by turn: each turn's text intact, players tinted only where they are."""

from shapsweep.features.conversation import conversation_text, row_conversation
from shapsweep.report.colour import DivergingScale
from shapsweep.report.conversation import row_turns, turns_view
from shapsweep.report.heatmap import segments

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Is it cold?"},
    {"role": "assistant", "content": "A little."},
    {"role": "user", "content": "Should I wear a coat"},
    {"role": "assistant", "content": "Yes."},
]


def test_turns_keep_their_text_and_only_player_turns_are_tinted():
    text, turns = row_turns({"messages": MESSAGES})
    _, bounds = conversation_text(turns)
    # players: "cold" (turn 1) and "coat" (turn 3, at the very end of the conversation text)
    spans = [(text.index("cold"), text.index("cold") + 4), (text.index("coat"), text.index("coat") + 4)]
    segs = segments(["cold", "coat"], [0.5, -0.25], DivergingScale.for_values([0.5, -0.25]), text=text, spans=spans)
    view = turns_view(turns, segs)
    assert [t["role"] for t in view] == ["system", "user", "assistant", "user"]
    assert ["".join(s.text for s in t["segments"]) for t in view] == [t.content for t in turns]
    assert [t["has_players"] for t in view] == [False, True, False, True]
    tinted = [(s.text, s.index) for t in view for s in t["segments"] if s.is_player]
    assert tinted == [("cold", 0), ("coat", 1)]
    assert row_turns({"text": "plain row"}) is None
    assert len(bounds) == len(row_conversation({"messages": MESSAGES})[0])
