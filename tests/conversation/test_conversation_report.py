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


def test_media_players_follow_the_turns_and_the_media_comes_from_the_messages():
    from shapsweep.report.conversation import media_record

    messages = [
        {"role": "user", "content": [{"type": "image", "image": "/x/cat.png"}, {"type": "text", "text": "the cat"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "yes"}]},
    ]
    text, turns = row_turns({"messages": [*messages, {"role": "user", "content": "why"}]})
    assert media_record({"row_id": "r"}, turns) == {"row_id": "r", "image": "/x/cat.png"}
    players, spans = ["cat", "why", "patch(0,0)", "patch(0,1)"], [(4, 7), (text.index("why"), len(text)), None, None]
    scale = DivergingScale.for_values([1.0, -1.0])
    segs = segments(players, [0.1, 0.2, 0.3, -0.4], scale, text=text, spans=spans)
    view = turns_view(turns, segs)
    assert [t["role"] for t in view] == ["user", "assistant", "user", "media players"]
    assert ["".join(s.text for s in t["segments"]) for t in view[:3]] == ["the cat", "yes", "why"]
    assert [s.text for s in view[3]["segments"] if s.is_player] == ["patch(0,0)", "patch(0,1)"]
    only_media = turns_view(turns, segments(players[2:], [0.3, -0.4], scale, spans=[None, None]), text_players=False)
    assert [t["has_players"] for t in only_media] == [False, False, False, True]
    assert ["".join(s.text for s in t["segments"]) for t in only_media[:3]] == ["the cat", "yes", "why"]


def test_the_store_keys_a_conversations_media_by_its_bytes_not_its_path(tmp_path):
    from shapsweep.store import game_key

    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    a.write_bytes(b"one picture")
    b.write_bytes(b"one picture")
    c.write_bytes(b"another picture")

    def key(path, text="the cat"):
        part = {"type": "image", "image": str(path)}
        row = {"row_id": "r", "messages": [{"role": "user", "content": [part, {"type": "text", "text": text}]}]}
        return game_key({}, {}, {}, row)

    assert key(a) == key(b)  # same bytes, another path
    assert key(a) != key(c)
    assert key(a) != key(a, "the dog")
