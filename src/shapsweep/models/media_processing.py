"""The model side of media parts: load an image processor or audio feature extractor, and turn a chunk
of masked images or clips into model inputs with one processor call."""

from __future__ import annotations

import numpy as np


def load_media_processor(path: str, kind: str, model_cfg: dict):
    """The folder's image processor (`kind` image) or feature extractor (`kind` audio)."""
    from transformers import AutoFeatureExtractor, AutoImageProcessor

    common = {"revision": model_cfg["revision"], "trust_remote_code": model_cfg["trust_remote_code"]}
    auto = AutoImageProcessor if kind == "image" else AutoFeatureExtractor
    try:
        return auto.from_pretrained(path, **common)
    except (OSError, ValueError) as error:
        what = "an image processor" if kind == "image" else "a feature extractor"
        raise ValueError(f"model.path_or_id: {model_cfg['path_or_id']!r} has no {what} ({error})") from error


def processor_rate(extractor) -> int:
    """Sampling rate the feature extractor expects (clips are resampled to it before they are split)."""
    rate = getattr(extractor, "sampling_rate", None)
    if not rate:
        raise ValueError("model.path_or_id: the feature extractor does not say its sampling_rate")
    return int(rate)


def image_inputs(processor, images: np.ndarray) -> dict:
    """Model inputs (tensors) for a batch of (H, W, 3) uint8 images, in one processor call."""
    return dict(processor(images=list(images), return_tensors="pt"))


def audio_inputs(extractor, clips: np.ndarray, rate: int) -> dict:
    """Model inputs (tensors) for a batch of equal-length clips, in one feature-extractor call."""
    return dict(extractor(list(clips), sampling_rate=rate, return_tensors="pt"))
