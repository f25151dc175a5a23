"""Image and audio players, their regions and maskers; a game's parts concatenated and split back."""

import numpy as np
import pytest
import skimage.data

from shapsweep.errors import RowError
from shapsweep.features.audio import AUDIO_DEFAULTS, AudioPart
from shapsweep.features.image import IMAGE_DEFAULTS, ImagePart
from shapsweep.features.parts import Parts


def image_cfg(**kw):
    return {**IMAGE_DEFAULTS, **kw}


def audio_cfg(**kw):
    return {**AUDIO_DEFAULTS, **kw}


def test_grid_patches_follow_the_floor_formula_row_major():
    pixels = skimage.data.chelsea()  # 300 x 451
    part = ImagePart(pixels, image_cfg(grid=[3, 4]))
    assert part.players[:5] == ["patch(0,0)", "patch(0,1)", "patch(0,2)", "patch(0,3)", "patch(1,0)"]
    for index, (y0, x0, y1, x1) in enumerate(part.regions):
        r, c = divmod(index, 4)
        assert (y0, y1, x0, x1) == (r * 300 // 3, (r + 1) * 300 // 3, c * 451 // 4, (c + 1) * 451 // 4)
        assert (part.labels[int(y0) : int(y1), int(x0) : int(x1)] == index).all()
    assert part.regions[3] == [0.0, 338.0, 100.0, 451.0]  # floor(3 * 451 / 4) = 338


@pytest.mark.parametrize("baseline", ["zero", "mean", "blur", [10, 200, 30]])
def test_masking_fills_exactly_the_absent_patches(baseline):
    pixels = skimage.data.astronaut()
    part = ImagePart(pixels, image_cfg(grid=[2, 2], baseline=baseline))
    masked = part.mask(np.array([[True, False, True, True], [False] * 4]))
    assert masked.shape == (2, 512, 512, 3) and masked.dtype == np.uint8
    assert np.array_equal(masked[0][:256, :256], pixels[:256, :256])
    assert np.array_equal(masked[0][:256, 256:], part.baseline[:256, 256:])
    assert np.array_equal(masked[1], part.baseline)
    if baseline == "zero":
        assert not part.baseline.any()
    elif baseline == "mean":
        assert np.allclose(part.baseline[0, 0], pixels.reshape(-1, 3).mean(0), atol=0.5)
    elif baseline == "blur":
        assert part.baseline.std() < pixels.std() and abs(part.baseline.mean() - pixels.mean()) < 2
    else:
        assert (part.baseline == [10, 200, 30]).all()


def test_superpixels_cover_the_image_with_one_player_each():
    pixels = skimage.data.coffee()
    part = ImagePart(pixels, image_cfg(players="superpixels", n_segments=8))
    n = len(part.players)
    assert 2 <= n <= 16 and part.players[0] == "superpixel(0)"
    assert sorted(np.unique(part.labels)) == list(range(n)) and part.regions == [[float(k)] for k in range(n)]
    coalition = np.zeros((1, n), dtype=bool)
    coalition[0, 1] = True
    masked = part.mask(coalition)[0]
    assert np.array_equal(masked[part.labels == 1], pixels[part.labels == 1]) and not masked[part.labels != 1].any()
    assert np.array_equal(ImagePart(pixels, image_cfg(players="superpixels", n_segments=8)).labels, part.labels)


def test_an_image_smaller_than_the_grid_is_a_row_error():
    with pytest.raises(RowError, match=r"smaller than features\.image\.grid"):
        ImagePart(np.zeros((2, 2, 3), dtype=np.uint8), image_cfg(grid=[4, 4]))


def test_audio_windows_names_regions_and_silence():
    rate = 16000
    samples = np.ones(int(1.3 * rate), dtype=np.float32)
    part = AudioPart(samples, rate, audio_cfg(window_ms=500))
    assert part.players == ["t=0.00-0.50s", "t=0.50-1.00s", "t=1.00-1.30s"]
    assert part.regions == [[0.0, 0.5], [0.5, 1.0], [1.0, 1.3]]
    masked = part.mask(np.array([[True, False, True]]))[0]
    assert masked[:8000].all() and not masked[8000:16000].any() and masked[16000:].all()


def test_audio_noise_is_seeded_and_at_its_level():
    samples = np.zeros(16000, dtype=np.float32)
    a = AudioPart(samples, 16000, audio_cfg(fill="noise", noise_db=-20.0, seed=3))
    b = AudioPart(samples, 16000, audio_cfg(fill="noise", noise_db=-20.0, seed=3))
    masked = a.mask(np.zeros((2, len(a.players)), dtype=bool))
    assert np.array_equal(masked[0], masked[1]) and np.array_equal(masked[0], b.mask(np.zeros((1, 2), bool))[0])
    assert abs(20 * np.log10(masked[0].std()) + 20) < 0.5


def test_word_players_from_word_times_keep_gaps_present():
    rate = 1000
    samples = np.ones(2000, dtype=np.float32)
    words = [[0.1, 0.4, "the"], {"start": 0.5, "end": 0.9, "word": "cat"}, [1.2, 5.0, "sat"]]
    part = AudioPart(samples, rate, audio_cfg(players="words"), words)
    assert part.players == ["the", "cat", "sat"] and part.regions == [[0.1, 0.4], [0.5, 0.9], [1.2, 2.0]]
    masked = part.mask(np.zeros((1, 3), dtype=bool))[0]
    assert masked[:100].all() and not masked[100:400].any() and masked[400:500].all() and not masked[1200:].any()
    with pytest.raises(RowError, match="word_times"):
        AudioPart(samples, rate, audio_cfg(players="words"), None)
    with pytest.raises(RowError, match=r"word_times\[1\] overlaps"):
        AudioPart(samples, rate, audio_cfg(players="words"), [[0.1, 0.5, "a"], [0.4, 0.6, "b"]])


def test_parts_concatenate_players_and_split_coalitions():
    image = ImagePart(skimage.data.astronaut(), image_cfg(grid=[1, 2]))
    audio = AudioPart(np.ones(3000, dtype=np.float32), 1000, audio_cfg(window_ms=1000))
    parts = Parts([image, audio], max_players=10)
    assert parts.players == ["patch(0,0)", "patch(0,1)", "t=0.00-1.00s", "t=1.00-2.00s", "t=2.00-3.00s"]
    assert parts.spans is None and parts.regions[0] == [0.0, 0.0, 512.0, 256.0] and parts.regions[4] == [2.0, 3.0]
    first, second = parts.split(np.array([[True, False, False, True, False]]))
    assert first.tolist() == [[True, False]] and second.tolist() == [[False, True, False]]
    with pytest.raises(RowError) as caught:
        Parts([image, audio], max_players=4)
    assert caught.value.kind == "too_many_players"
