"""Media drawn for reports and HTML-lines exports: superpixel outlines, word labels, hostile labels stay
text, nothing is fetched (headless Chromium)."""

import numpy as np
import pytest

from shapsweep.export import html_line
from shapsweep.features.image import IMAGE_DEFAULTS, ImagePart

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="window.__pwned=1">'


def record(players, regions, features, values):
    return {
        "row_id": "r0",
        "text": None,
        "players": players,
        "player_spans": None,
        "player_regions": regions,
        "attributions": values,
        "attributions_normalized": None,
        "stderr": [0.01] * len(values),
        "v_empty": 0.0,
        "v_full": float(sum(values)),
        "response": None,
        "status": "ok",
        "error": None,
        "run": {
            "set": "s",
            "run_id": "run-1",
            "method": "exact",
            "budget": None,
            "model": {"path_or_id": "m"},
            "features": features,
            "value": {"kind": "probability"},
        },
    }


def test_superpixels_and_hostile_word_labels_in_a_browser(media_dir):
    from report.browser import chromium

    from shapsweep.data.media import decode_image

    cfg = {**IMAGE_DEFAULTS, "players": "superpixels", "n_segments": 6}
    part = ImagePart(decode_image(str(media_dir / "coffee.jpg")), cfg)
    n = len(part.players)
    image_line = html_line(
        record(part.players, part.regions, {"granularity": "word", "image": cfg}, list(np.linspace(-1, 1, n))),
        media_row={"image": str(media_dir / "coffee.jpg")},
    )
    words = ["the", HOSTILE, "sat"]
    audio_line = html_line(
        record(
            words,
            [[0.1, 0.4], [0.4, 0.8], [0.9, 1.2]],
            {"granularity": "word", "audio": {"players": "words"}},
            [0.5, -0.2, 0.1],
        ),
        media_row={"audio": str(media_dir / "speech.wav")},
    )
    assert "\n" not in image_line and "\n" not in audio_line
    with chromium() as browser:
        page = browser.new_page()
        fetched = []
        page.on("request", lambda r: fetched.append(r.url) if not r.url.startswith(("data:", "about:")) else None)
        page.set_content(image_line)
        outlines = page.locator("path.region")
        assert outlines.count() == n
        # each outline encloses its superpixel: the outlines' boxes together cover the picture
        boxes = page.evaluate(
            "Array.from(document.querySelectorAll('path.region')).map(p => {const b = p.getBBox(); return [b.x, b.y, b.width, b.height]})"
        )
        width = page.evaluate("document.querySelector('svg.media-image').getAttribute('width')")
        assert min(b[0] for b in boxes) < 2 and max(b[0] + b[2] for b in boxes) > float(width) - 2
        assert outlines.first.get_attribute("data-tip").startswith("superpixel(0): player 0: φ = -1 ± 0.01")
        page.set_content(audio_line)
        assert [t.text_content() for t in page.locator("text.word").all()] == words
        assert page.evaluate("window.__pwned") is None and page.locator("img").count() == 0
        assert page.locator("audio.clip").count() == 1
    assert fetched == []
