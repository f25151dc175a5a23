"""Tiny random-weight image and audio classifiers with their processors, saved with `save_pretrained`.

Loaded back through `from_pretrained` as a user's checkpoint is. Weights are seeded, so a folder built
twice holds the same model. Media fixtures come from packages and tools installed here: scikit-image's
bundled photos and espeak-ng's speech (see tests/multimodal/conftest.py).
"""

from __future__ import annotations

import os

import torch
from transformers import (
    ViTConfig,
    ViTForImageClassification,
    ViTImageProcessor,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForSequenceClassification,
)

IMAGE_LABELS = ["cat", "coffee", "person"]
AUDIO_LABELS = ["yes", "no", "maybe"]


def _labels(names: list[str]) -> dict:
    return {
        "num_labels": len(names),
        "id2label": dict(enumerate(names)),
        "label2id": {n: i for i, n in enumerate(names)},
    }


def _save(model, processor, folder) -> str:
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_tiny_vit_classifier(folder, *, image_size: int = 32, patch_size: int = 8, seed: int = 0) -> str:
    """A ViT image classifier (labels cat/coffee/person) and a ViTImageProcessor resizing to `image_size`."""
    config = ViTConfig(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        initializer_range=0.5,  # wide random weights: masked patches move the output visibly
        **_labels(IMAGE_LABELS),
    )
    processor = ViTImageProcessor(size={"height": image_size, "width": image_size})
    torch.manual_seed(seed)
    return _save(ViTForImageClassification(config).eval(), processor, folder)


def build_tiny_wav2vec2_classifier(folder, *, seed: int = 0) -> str:
    """A wav2vec2 audio classifier (labels yes/no/maybe) with a 16 kHz Wav2Vec2FeatureExtractor."""
    config = Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16, 16, 16),
        conv_stride=(5, 4, 4),
        conv_kernel=(10, 4, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        classifier_proj_size=16,
        do_stable_layer_norm=False,
        initializer_range=0.5,
        feat_extract_norm="group",
        **_labels(AUDIO_LABELS),
    )
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=False
    )
    torch.manual_seed(seed)
    return _save(Wav2Vec2ForSequenceClassification(config).eval(), extractor, folder)
