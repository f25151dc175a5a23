"""The native sentence-transformers reader against `SentenceTransformer` itself, on the real all-MiniLM-L6-v2."""

import json
import os

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

from shapsweep.models.sentence_encoder import (
    POOLING_MODES,
    FallbackSentenceEncoder,
    NativeSentenceEncoder,
    load_sentence_encoder,
    pool,
)

CPU = torch.device("cpu")
# Lengths differ so that a batch pads; mixed case and punctuation for do_lower_case.
TEXTS = ["Hi", "The quick brown fox, jumps over the LAZY dog.", "a cat sat on the mat", "Café au lait! 42 times?"]


@pytest.fixture(scope="module")
def reference(minilm_path):
    return SentenceTransformer(minilm_path, device="cpu")


@pytest.fixture(scope="module")
def native(minilm_path):
    return load_sentence_encoder(minilm_path, device=CPU)


def test_minilm_loads_natively_and_matches_sentence_transformers(native, reference):
    assert isinstance(native, NativeSentenceEncoder)
    assert native.max_seq_length == reference.max_seq_length == 256
    expected = reference.encode(TEXTS)
    np.testing.assert_allclose(native.encode(TEXTS), expected, atol=1e-5)
    # One padded batch through embed(): padding must not move any row's embedding.
    batch = native.tokenizer(TEXTS, padding=True, truncation=True, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any()
    np.testing.assert_allclose(native.embed(batch["input_ids"], batch["attention_mask"]).numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(expected, axis=1), 1.0, atol=1e-5)


def test_load_model_uses_the_native_encoder(minilm_game_factory):
    assert isinstance(minilm_game_factory().encoder, NativeSentenceEncoder)


def test_dtype_is_honoured(minilm_path):
    encoder = load_sentence_encoder(minilm_path, device=CPU, dtype=torch.bfloat16)
    assert next(encoder.model.parameters()).dtype == torch.bfloat16
    assert encoder.encode(["a cat"]).dtype == np.float64


@pytest.mark.parametrize("left_padded", [False, True])
def test_every_pooling_mode_equals_sentence_transformers_pooling(left_padded):
    from sentence_transformers.models import Pooling

    generator = torch.Generator().manual_seed(0)
    tokens = torch.randn(3, 5, 4, generator=generator)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    if left_padded:
        mask = mask.flip(1)
    for mode in POOLING_MODES:
        theirs = Pooling(4, pooling_mode=mode)({"token_embeddings": tokens, "attention_mask": mask})
        torch.testing.assert_close(pool(tokens, mask, (mode,)), theirs["sentence_embedding"], msg=mode)


def _linked_copy(source: str, target) -> str:
    """The model folder with its files linked, so its json files can be edited without copying weights."""
    for root, _dirs, files in os.walk(source):
        relative = os.path.relpath(root, source)
        os.makedirs(target / relative, exist_ok=True)
        for name in files:
            os.symlink(os.path.join(root, name), target / relative / name)
    return str(target)


def _rewrite(folder: str, name: str, content) -> None:
    path = os.path.join(folder, name)
    os.unlink(path)
    with open(path, "w") as handle:
        json.dump(content, handle)


@pytest.mark.parametrize(
    "pooling, normalize, bert",
    [
        ({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}, True, None),
        ({"pooling_mode": ["max", "weightedmean", "lasttoken"]}, False, {"max_seq_length": 6, "do_lower_case": True}),
    ],
    ids=["cls", "max+weightedmean+lasttoken-lowercase-truncated"],
)
def test_pooling_normalize_and_settings_read_from_the_folder(minilm_path, tmp_path, pooling, normalize, bert):
    folder = _linked_copy(minilm_path, tmp_path / "model")
    _rewrite(folder, "1_Pooling/config.json", {"word_embedding_dimension": 384, **pooling})
    with open(os.path.join(minilm_path, "modules.json")) as handle:
        modules = json.load(handle)
    _rewrite(folder, "modules.json", modules if normalize else modules[:2])
    if bert is not None:
        _rewrite(folder, "sentence_bert_config.json", bert)
    native = load_sentence_encoder(folder, device=CPU)
    reference = SentenceTransformer(folder, device="cpu")
    assert isinstance(native, NativeSentenceEncoder)
    assert native.max_seq_length == reference.max_seq_length
    np.testing.assert_allclose(native.encode(TEXTS), reference.encode(TEXTS), atol=1e-5)
    if bert and bert["do_lower_case"]:
        # Lowercased by the tokenizer's normalizer: offsets still index the original text.
        encoded = native.tokenizer("LAZY Dog", return_offsets_mapping=True, add_special_tokens=False)
        assert native.tokenizer.convert_ids_to_tokens(encoded["input_ids"]) == ["lazy", "dog"]
        assert encoded["offset_mapping"] == [(0, 4), (5, 8)]


def test_a_dense_module_falls_back_to_sentence_transformers(reference, tmp_path):
    from sentence_transformers.models import Dense

    torch.manual_seed(0)
    with_dense = SentenceTransformer(modules=[reference[0], reference[1], Dense(384, 16)], device="cpu")
    folder = str(tmp_path / "dense")
    with_dense.save(folder)
    encoder = load_sentence_encoder(folder, device=CPU)
    assert isinstance(encoder, FallbackSentenceEncoder)
    expected = with_dense.encode(TEXTS)
    assert expected.shape == (len(TEXTS), 16)
    np.testing.assert_allclose(encoder.encode(TEXTS), expected, atol=1e-5)
    batch = encoder.tokenizer(TEXTS, padding=True, truncation=True, return_tensors="pt")
    np.testing.assert_allclose(encoder.embed(batch["input_ids"], batch["attention_mask"]).numpy(), expected, atol=1e-5)
