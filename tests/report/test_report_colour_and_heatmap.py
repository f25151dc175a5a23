import math

from shapsweep.report.colour import CENTRE, NEGATIVE, POSITIVE, DivergingScale
from shapsweep.report.heatmap import segments


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def test_scale_is_centred_on_zero_and_symmetric():
    scale = DivergingScale.for_values([-0.5, 0.2, 2.0])
    assert scale.limit == 2.0
    assert _rgb(scale.colour(0.0)) == CENTRE
    assert _rgb(scale.colour(2.0)) == POSITIVE
    assert _rgb(scale.colour(-2.0)) == NEGATIVE
    assert _rgb(scale.colour(99.0)) == POSITIVE  # clipped, not wrapped
    # equal magnitudes sit at the same fraction of the way to their end colour, whatever the sign
    half = lambda end: tuple(round(c + (e - c) / 2) for c, e in zip(CENTRE, end))  # noqa: E731
    assert _rgb(scale.colour(1.0)) == half(POSITIVE)
    assert _rgb(scale.colour(-1.0)) == half(NEGATIVE)
    assert scale.legend_ticks() == [-2.0, -1.0, 0.0, 1.0, 2.0]


def test_scale_without_signal_keeps_everything_white():
    scale = DivergingScale.for_values([0.0, None, float("nan")])
    assert scale.limit == 1.0
    assert _rgb(scale.colour(0.0)) == CENTRE
    assert _rgb(scale.colour(None)) == CENTRE
    assert _rgb(scale.colour(math.nan)) == CENTRE


def test_segments_follow_the_text_and_give_one_segment_per_player():
    text = "Hi, big world!"
    players, spans = ["Hi", "big", "world"], [[0, 2], [4, 7], [8, 13]]
    scale = DivergingScale(limit=1.0)
    segs = segments(players, [0.5, -0.25, 1.0], scale, stderr=[0.1, 0.2, None], text=text, spans=spans)
    assert "".join(s.text for s in segs) == text
    shown = [s for s in segs if s.is_player]
    assert [s.text for s in shown] == players
    assert shown[0].tip == "player 0: φ = +0.5 ± 0.1"
    assert shown[2].tip == "player 2: φ = +1"


def test_segments_fall_back_to_the_player_list_when_spans_do_not_fit():
    scale = DivergingScale(limit=1.0)
    segs = segments(["a", "b"], [0.1, 0.2], scale, text="a b", spans=[[0, 1], [0, 9]])
    assert [s.text for s in segs] == ["a", " ", "b"]
    assert sum(s.is_player for s in segs) == 2
