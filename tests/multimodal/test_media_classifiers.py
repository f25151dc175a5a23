"""hf_classifier on images and audio: exact Shapley values through the project's game equal brute force
computed directly with transformers on masked inputs built by hand."""

import numpy as np
import polars as pl
import pytest
import soundfile
import torch
from scipy.signal import resample_poly
from transformers import (
    AutoFeatureExtractor,
    AutoImageProcessor,
    AutoModelForAudioClassification,
    AutoModelForImageClassification,
)

from multimodal.conftest import all_coalitions, brute_force_shapley
from shapsweep.estimators import estimate
from shapsweep.explain import explain_row, shard_frame
from shapsweep.file_schemas import SHARD_SCHEMA
from shapsweep.models import load_model


def classifier(path, modality, block, kind="probability", **value):
    return load_model(
        {"connector": "hf_classifier", "path_or_id": path, "device": "cpu", "batch_size": 16},
        {"modalities": [modality], modality: block},
        {"kind": kind, **value},
    )


@pytest.fixture(scope="module")
def image_models(tiny_vit_path):
    return {
        kind: classifier(tiny_vit_path, "image", {"grid": [2, 3], "baseline": "mean"}, kind)
        for kind in ("probability", "log_odds")
    }


@pytest.mark.parametrize("kind", ["probability", "log_odds"])
def test_image_shapley_equals_brute_force_on_transformers(image_models, tiny_vit_path, media_dir, kind):
    from PIL import Image

    pixels = np.asarray(Image.open(media_dir / "chelsea.png").convert("RGB"))
    height, width = pixels.shape[:2]
    mean = np.round(pixels.reshape(-1, 3).mean(0)).astype(np.uint8)
    processor = AutoImageProcessor.from_pretrained(tiny_vit_path)
    model = AutoModelForImageClassification.from_pretrained(tiny_vit_path).eval()

    def masked(coalition):
        image = np.broadcast_to(mean, pixels.shape).copy()
        for index in coalition:
            r, c = divmod(index, 3)
            rows = slice(r * height // 2, (r + 1) * height // 2)
            cols = slice(c * width // 3, (c + 1) * width // 3)
            image[rows, cols] = pixels[rows, cols]
        return image

    coalitions = all_coalitions(6)  # the last one is the full image
    with torch.inference_mode():  # one batched call: the model is the same per image
        logits = model(**processor(images=[masked(s) for s in coalitions], return_tensors="pt")).logits.double()
    target = int(logits[-1].argmax())
    p = torch.softmax(logits, -1)[:, target]
    values = (p if kind == "probability" else torch.log(p / (1 - p))).tolist()

    game = image_models[kind].game({"image": str(media_dir / "chelsea.png")})
    assert game.n_players == 6 and game.players[5] == "patch(1,2)" and game.target_class == target
    assert game.regions[4] == [150.0, 150.0, 300.0, 300.0]
    result = estimate(game, 6, method="exact")
    expected = brute_force_shapley(dict(zip(coalitions, values)), 6)
    assert np.abs(expected).max() > 1e-4  # the game is not flat
    np.testing.assert_allclose(result.values, expected, rtol=1e-5, atol=1e-7)
    # 64 coalitions in chunks of model.batch_size 16: a handful of forward passes, not one per coalition
    assert game.stats["coalitions"] == 64 and game.stats["forward_passes"] <= 7


def test_audio_shapley_equals_brute_force_on_transformers(tiny_wav2vec2_path, media_dir):
    model_game = classifier(tiny_wav2vec2_path, "audio", {"window_ms": 250}, "logit", target_class="no")
    samples, rate = soundfile.read(media_dir / "speech.flac", dtype="float32")
    assert rate == 8000
    samples = samples.mean(axis=1)
    clip = resample_poly(samples, 2, 1).astype(np.float32)  # 8 kHz -> the extractor's 16 kHz
    width = 4000  # 250 ms at 16 kHz
    n = -(-len(clip) // width)
    assert 4 <= n <= 8
    extractor = AutoFeatureExtractor.from_pretrained(tiny_wav2vec2_path)
    model = AutoModelForAudioClassification.from_pretrained(tiny_wav2vec2_path).eval()

    def masked(coalition):
        out = np.zeros_like(clip)
        for k in coalition:
            out[k * width : (k + 1) * width] = clip[k * width : (k + 1) * width]
        return out

    coalitions = all_coalitions(n)
    with torch.inference_mode():
        inputs = extractor([masked(s) for s in coalitions], sampling_rate=16000, return_tensors="pt")
        values = model(**inputs).logits[:, 1].double().tolist()

    game = model_game.game({"audio": str(media_dir / "speech.flac")})
    assert game.n_players == n and game.players[1] == "t=0.25-0.50s" and game.regions[1] == [0.25, 0.5]
    result = estimate(game, n, method="exact")
    expected = brute_force_shapley(dict(zip(coalitions, values)), n)
    assert np.abs(expected).max() > 1e-5
    np.testing.assert_allclose(result.values, expected, rtol=1e-4, atol=1e-6)


def test_bad_media_rows_keep_the_rest_of_the_shard(image_models, tiny_wav2vec2_path, media_dir):
    run = {
        "run_id": "r",
        "explain": {
            "shap": {"method": "exact", "seed": 0, "batch_size": 64, "options": {}, "normalizer": "abs_sum"},
            "selection": {},
        },
    }
    rows = [
        {"row_id": "ok", "image": str(media_dir / "coffee.jpg")},
        {"row_id": "corrupt", "image": str(media_dir / "corrupt.png")},
        {"row_id": "absent", "image": None},
    ]
    records = [explain_row(image_models["probability"], row, run) for row in rows]
    frame = shard_frame(records)
    assert frame.schema == pl.Schema(SHARD_SCHEMA)
    assert frame["status"].to_list() == ["ok", "bad_media", "missing_column"]
    assert "corrupt.png" in frame["error"][1]
    assert frame["player_regions"][0].to_list()[0] == [0.0, 0.0, 200.0, 200.0]
    assert frame["player_spans"][0] is None
    audio = classifier(tiny_wav2vec2_path, "audio", {"window_ms": 400})
    missing = explain_row(audio, {"row_id": "m", "audio": str(media_dir / "gone.wav")}, run)
    assert missing["status"] == "bad_media" and "gone.wav" in missing["error"]
