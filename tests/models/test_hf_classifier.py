"""hf_classifier games on a tiny random-weight BERT classifier loaded with from_pretrained."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from shapsweep.features.masking import mask_batch
from shapsweep.features.tokenized import tokenize_row
from shapsweep.models import load_model

TEXT = "I loved this film, the actors were great!"


@pytest.fixture(scope="module")
def direct(tiny_bert_classifier_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_classifier_path)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert_classifier_path).eval()

    def logits(ids):
        with torch.inference_mode():
            return model(input_ids=torch.tensor([ids])).logits[0].double()

    return tokenizer, logits


def classifier(path, masking="remove", **value):
    return load_model(
        {"connector": "hf_classifier", "path_or_id": path, "device": "cpu"},
        {"masking": masking},
        {"kind": "probability", **value},
    )


@pytest.fixture(scope="module")
def models(tiny_bert_classifier_path):
    cache = {}

    def get(masking="remove", **value):
        key = (masking, tuple(sorted(value.items())))
        if key not in cache:
            cache[key] = classifier(tiny_bert_classifier_path, masking, **value)
        return cache[key]

    return get


def test_full_value_equals_a_direct_model_call(models, direct):
    tokenizer, logits = direct
    full_logits = logits(tokenizer(TEXT)["input_ids"])
    predicted = int(full_logits.argmax())
    for kind, expected in [
        ("probability", torch.softmax(full_logits, -1)[predicted]),
        ("logit", full_logits[predicted]),
        (
            "log_odds",
            torch.log(torch.softmax(full_logits, -1)[predicted] / (1 - torch.softmax(full_logits, -1)[predicted])),
        ),
    ]:
        game = models(kind=kind).game({"text": TEXT})
        assert game.target_class == predicted
        value = game(np.ones((1, game.n_players), dtype=bool))[0]
        assert value == pytest.approx(float(expected), abs=1e-6)
        assert game.stats["forward_passes"] == 1  # v(full) came with the prediction


def test_masks_give_the_expected_token_ids(models, direct):
    tokenizer, logits = direct
    encoded = tokenizer(TEXT, return_offsets_mapping=True)
    ids = encoded["input_ids"]
    # Tokens of "loved" and "actors"; the comma and "!" are never players.
    spans = [(TEXT.index(w), TEXT.index(w) + len(w)) for w in ("loved", "actors")]
    dropped = {i for i, (s, e) in enumerate(encoded["offset_mapping"]) if any(a <= s < b for a, b in spans)}
    assert tokenizer.decode([ids[i] for i in sorted(dropped)]).split() == ["loved", "actors"]
    expected = {
        "remove": ([t for i, t in enumerate(ids) if i not in dropped], [1] * (len(ids) - len(dropped))),
        "mask_token": ([tokenizer.mask_token_id if i in dropped else t for i, t in enumerate(ids)], [1] * len(ids)),
        "attention": (ids, [0 if i in dropped else 1 for i in range(len(ids))]),
    }
    for masking, (expected_ids, expected_attention) in expected.items():
        model = models(masking=masking, kind="logit")
        game = model.game({"text": TEXT})
        assert game.players == ["I", "loved", "this", "film", "the", "actors", "were", "great"]
        coalition = np.array([p not in ("loved", "actors") for p in game.players])
        tokenized = tokenize_row(model.tokenizer, TEXT, model.features)
        batch = mask_batch(
            tokenized.ids,
            tokenized.owners,
            coalition[None, :],
            masking,
            pad_token_id=model.pad_token_id,
            mask_token_id=model.mask_token_id,
        )
        assert batch.sequence(0) == expected_ids
        assert batch.attention_mask[0].tolist() == expected_attention
        value = game(coalition[None, :])[0]
        if masking != "attention":  # the direct call below has no attention mask
            assert value == pytest.approx(float(logits(expected_ids)[game.target_class]), abs=1e-5)


@pytest.mark.parametrize("masking", ["remove", "mask_token", "attention"])
def test_batched_equals_one_by_one(models, masking):
    model = models(masking=masking, kind="log_odds")
    coalitions = np.random.default_rng(0).random((24, 8)) < 0.5
    batched = model.game({"text": TEXT})(coalitions)
    single_game = model.game({"text": TEXT})
    single = np.array([single_game(c[None, :])[0] for c in coalitions])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_target_class_by_label_name_and_index(models):
    by_name = models(target_class="positive").game({"text": TEXT})
    by_index = models(target_class=2).game({"text": TEXT})
    assert by_name.target_class == by_index.target_class == 2
    coalitions = np.eye(by_name.n_players, dtype=bool)
    np.testing.assert_array_equal(by_name(coalitions), by_index(coalitions))


@pytest.mark.parametrize("target, message", [("happy", "not a label"), (7, "outside")])
def test_bad_target_class_names_the_field(tiny_bert_classifier_path, target, message):
    with pytest.raises(ValueError, match=f"value.target_class.*{message}"):
        classifier(tiny_bert_classifier_path, target_class=target)
