"""Mixed rows (text + image, text + audio) on the report's row page, in headless Chromium: the text heatmap
and the media picture side by side, colour for colour, self-contained (no request leaves the page) and
escaped. The experiment set is laid out by hand (as hand_made_set.py does), with real image and audio
players from the project's own feature parts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import skimage.data
import soundfile
from browser import chromium
from hand_made_set import words
from PIL import Image
from summarize_set import aggregate_and_compare
from test_report_browser import _not_blank, _watch

from shapsweep.file_schemas import SHARD_SCHEMA
from shapsweep.report import build_report, load_report_inputs

pytestmark = pytest.mark.browser

HOSTILE = '<script>window.__pwned = 1</script> Is this <b>a cat</b> & "dog"?'


def _media_players(kind: str, path: Path, cfg: dict) -> tuple[list[str], list[list[float]]]:
    """The players and regions the project's own feature part gives the file (what a real job writes)."""
    from shapsweep.data.media import decode_audio, decode_image
    from shapsweep.features.audio import AudioPart
    from shapsweep.features.image import IMAGE_DEFAULTS, ImagePart

    if kind == "image":
        part = ImagePart(decode_image(str(path)), {**IMAGE_DEFAULTS, **cfg})
    else:
        samples, rate = decode_audio(str(path))
        part = AudioPart(samples, rate, cfg["audio"], cfg["word_times"])
    return list(part.players), [list(map(float, r)) for r in part.regions]


def _shard_row(run_id: str, method: str, row: dict, media: tuple[list[str], list], seed: int) -> dict:
    text_players, spans = words(row["text"])
    media_players, regions = media
    players = text_players + media_players
    phi = np.linspace(-1.0, 1.0, len(players))
    if method != "exact":
        phi = phi + np.random.default_rng(seed).normal(0, 0.2, len(players))
    return {
        "row_id": row["row_id"],
        "run_id": run_id,
        "players": players,
        "player_spans": spans + [None] * len(media_players),  # as a mixed game writes them
        "player_regions": [None] * len(text_players) + regions,
        "attribution": phi.tolist(),
        "attribution_normalized": (phi / np.abs(phi).sum()).tolist(),
        "stderr": None if method == "exact" else [0.1] * len(players),
        "v_empty": 0.0,
        "v_full": float(phi.sum()),
        "n_players": len(players),
        "n_evals": 2 ** len(players),
        "budget": None,
        "forward_passes": 2 ** len(players),
        "efficiency_gap": 0.0,
        "runtime_s": 0.01,
        "response": None,
        "status": "ok",
        "error": None,
    }


@pytest.fixture
def mixed_set(tmp_path) -> Path:
    """Two experiments over mixed rows: text + image (exact and kernel runs) and text + audio (exact)."""
    from shapsweep import layout
    from shapsweep.config.experiment_set import from_config

    media = tmp_path / "media"
    media.mkdir()
    Image.fromarray(skimage.data.chelsea()).save(media / "chelsea.png")
    subprocess.run(["espeak-ng", "-w", str(media / "speech.wav"), "green apples taste sour"], check=True)
    model = tmp_path / "model"  # the config checks the folder holds a saved model; no job loads it here
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "llava"}))
    # as a rows file holds them (the data layer turns JSON triples into strings)
    word_times = [
        ["0.1", "0.5", "green"],
        ["0.5", "1.0", "apples"],
        ["1.0", "1.4", "taste"],
        ["1.4", "1.8", HOSTILE[:8]],
    ]
    rows = {
        "image": [{"row_id": "m0", "text": HOSTILE, "image": str(media / "chelsea.png")}],
        "audio": [
            {"row_id": "a0", "text": "What is said?", "audio": str(media / "speech.wav"), "word_times": word_times}
        ],
    }
    features = {
        "image": {"modalities": ["text", "image"], "image": {"grid": [2, 2]}, "max_players": 12},
        "audio": {"modalities": ["text", "audio"], "audio": {"players": "words"}, "max_players": 12},
    }
    experiments = []
    for kind in ("image", "audio"):
        source = tmp_path / f"{kind}.jsonl"
        source.write_text("".join(json.dumps(r) + "\n" for r in rows[kind]))
        dataset = {"source": "json", "data_files": str(source)}
        experiments.append(
            {
                "name": kind,
                "reference": True,
                "dataset": dataset,
                "features": features[kind],
                "shap": {"method": "exact"},
            }
        )
    experiments.append(
        {**experiments[0], "name": "image-kernel", "reference": False, "shap": {"method": "kernel", "budget": 64}}
    )
    set_dir = tmp_path / "mixed"
    set_dir.mkdir()
    exp = from_config(
        {
            "experiment_set_id": set_dir.name,
            "output_root": str(tmp_path),
            "shard_size": 2,
            "model": {"connector": "hf_multimodal_lm", "path_or_id": str(model)},
            "value": {"kind": "logprob"},
            "experiments": experiments,
        }
    )
    layout.config_json(set_dir).write_text(json.dumps(exp.config, indent=1))
    for i, (run_id, spec) in enumerate(exp.runs.items()):
        kind = "image" if "image" in spec["explain"]["features"] else "audio"
        resolved = spec["explain"]["features"]
        cfg = resolved["image"] if kind == "image" else {"audio": resolved["audio"], "word_times": word_times}
        rows_file = layout.rows_file(set_dir, spec["data_id"])
        rows_file.parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame(rows[kind]).write_parquet(rows_file)
        for shard in exp.shard_plan(run_id).shards:
            part = [
                _shard_row(
                    run_id, spec["explain"]["shap"]["method"], row, _media_players(kind, Path(row[kind]), cfg), i
                )
                for row in rows[kind][shard.start : shard.end]
            ]
            path = layout.shard_file(set_dir, run_id, shard.shard_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            pl.DataFrame(part, schema=SHARD_SCHEMA).write_parquet(path)
    aggregate_and_compare(set_dir, exp)
    return set_dir


def _heatmap_and_media_agree(page, section_player_count: int, region_selector: str) -> None:
    """Every media region has the colour and tip of the heatmap cell of the same player."""
    for figure in page.locator("figure.media").all():
        run_id = figure.get_attribute("data-run")
        cells = page.locator(f'section.run[data-run="{run_id}"] .player')
        assert cells.count() >= section_player_count
        regions = figure.locator(region_selector)
        assert regions.count() > 0
        for region in regions.all():
            cell = cells.nth(int(region.get_attribute("data-index")))
            assert region.get_attribute("fill") in cell.get_attribute("style")
            assert region.get_attribute("data-tip").endswith(cell.get_attribute("data-tip"))


def test_a_text_and_image_row_shows_the_heatmap_and_the_picture_together(mixed_set):
    files = build_report(load_report_inputs(mixed_set / "config.json"), mixed_set / "report")
    page_file = next(path for (_, row_id), path in files.row_pages.items() if row_id == "m0")
    text_players, _ = words(HOSTILE)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        problems = _watch(page)
        page.goto(page_file.as_uri())
        # the text, hostile markup included, is text
        assert page.locator("#row-text").inner_text() == HOSTILE
        assert page.evaluate("window.__pwned") is None and page.locator("b").count() == 0
        assert page.evaluate("document.scripts.length") == 1  # only the page's own sorter
        # both runs: a heatmap with the text players, a picture with one tinted patch per image player
        sections = page.locator("section.run")
        assert sections.count() == 2
        for section in sections.all():
            # the text as written (its own spacing), then the image players, all coloured on one scale
            heatmap = section.locator(".heatmap").text_content()
            assert heatmap.startswith(HOSTILE + "\n"), heatmap
            shown = [c.inner_text() for c in section.locator(".player").all()]
            assert shown[: len(text_players)] == text_players and len(shown) == len(text_players) + 4
        pictures = page.locator("figure.media svg.media-image")
        assert pictures.count() == 2
        assert all(p.locator("rect.region").count() == 4 for p in pictures.all())
        assert page.evaluate(
            "Array.from(document.querySelectorAll('svg image')).every(i => i.getAttribute('href').startsWith('data:image/'))"
        )
        _heatmap_and_media_agree(page, len(text_players) + 4, "rect.region")
        for region in page.locator("rect.region").all():
            region.hover()
        page.locator(".player").first.hover()
        assert page.evaluate("window.__pwned") is None
        assert _not_blank(page.screenshot(full_page=True))
        assert problems == []


def test_a_text_and_audio_row_shows_the_heatmap_the_waveform_and_the_clip(mixed_set):
    files = build_report(load_report_inputs(mixed_set / "config.json"), mixed_set / "report")
    page_file = next(path for (_, row_id), path in files.row_pages.items() if row_id == "a0")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        problems = _watch(page)
        page.goto(page_file.as_uri())
        assert page.locator("#row-text").inner_text() == "What is said?"
        heatmap = page.locator("section.run .heatmap").text_content()
        assert heatmap == "What is said?\ngreen apples taste " + HOSTILE[:8], heatmap
        # the word labels under the waveform, the hostile one as text
        assert [t.text_content() for t in page.locator("svg.media-audio text.word").all()] == [
            "green",
            "apples",
            "taste",
            HOSTILE[:8],
        ]
        assert page.locator("svg.media-audio path.waveform").count() == 1
        _heatmap_and_media_agree(page, 3 + 4, "rect.region")
        clip = page.locator("audio.clip")
        assert clip.count() == 1 and clip.get_attribute("src").startswith("data:audio/wav;base64,")
        # the embedded clip decodes in the browser (no request leaves the page)
        page.wait_for_function("document.querySelector('audio.clip').readyState >= 1", timeout=10_000)
        duration = page.evaluate("document.querySelector('audio.clip').duration")
        assert duration == pytest.approx(
            soundfile.info(str(mixed_set.parent / "media" / "speech.wav")).duration, abs=0.02
        )
        assert page.evaluate("window.__pwned") is None
        assert problems == []
