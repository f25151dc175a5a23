"""Integrated gradients over word embeddings: completeness, per-player sums, the game's own value, baselines."""

import itertools
import json

import numpy as np
import pytest

from shapsweep.errors import RowError
from shapsweep.models import load_model
from shapsweep.models.config import check_differentiable
from shapsweep.models.integrated_gradients import integrated_gradients

TEXT = "I loved this film, the actors were great!"
SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank today."


def full_value(game) -> float:
    return float(game(np.ones((1, game.n_players), dtype=bool))[0])


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    from tiny_models import build_tiny_roberta_classifier

    # Larger random weights than RoBERTa's init: the logit bends along the path, so too few steps leave a gap.
    # (RoBERTa's byte-level BPE trains to the same vocabulary in every process, so the numbers are fixed.)
    path = build_tiny_roberta_classifier(tmp_path_factory.mktemp("ig_roberta"), initializer_range=0.3)
    return load_model({"connector": "hf_classifier", "path_or_id": path, "device": "cpu"}, None, {"kind": "logit"})


@pytest.fixture(scope="module")
def llama(tiny_llama_path):
    return load_model(
        {"connector": "hf_causal_lm", "path_or_id": tiny_llama_path, "device": "cpu", "max_new_tokens": 6},
        None,
        {"kind": "logprob"},
    )


def test_completeness_gap_shrinks_with_steps_and_is_small(classifier):
    few = [abs(integrated_gradients(classifier, {"text": TEXT}, steps=s).completeness_gap) for s in (1, 2, 4, 8, 16)]
    assert all(a > b for a, b in itertools.pairwise(few)), few
    many = integrated_gradients(classifier, {"text": TEXT}, steps=32)
    scale = abs(many.v_full - many.v_baseline)
    assert scale > 1e-2  # the classifier does move between baseline and input
    assert abs(many.completeness_gap) < min(1e-4 * scale, few[-1])
    assert many.completeness_gap == pytest.approx(many.values.sum() - (many.v_full - many.v_baseline), abs=1e-12)
    assert abs(many.details["convergence_delta"]) < 1e-4 * scale  # captum's own residual agrees


def test_per_player_sums_and_game_agreement(classifier):
    row = {"text": TEXT}
    exp = integrated_gradients(classifier, row, steps=16)
    game = classifier.game(row)
    assert exp.players == game.players and exp.spans == game.spans
    assert exp.values.dtype == np.float64 and exp.values.shape == (game.n_players,)
    owners = exp.token_owners
    assert owners[0] == -1 and owners[-1] == -1  # <s> and </s> own no player ...
    assert np.all(exp.token_values[owners < 0] == 0.0)  # ... and the comma and "!": they get nothing
    for player in range(game.n_players):
        assert exp.values[player] == pytest.approx(exp.token_values[owners == player].sum(), abs=1e-12)
    assert exp.v_full == pytest.approx(full_value(game), abs=1e-5)
    assert exp.response is None and exp.steps == 16
    assert json.loads(json.dumps(exp.details))["steps"] == 16


def test_deterministic_and_batching_changes_only_the_pass_count(classifier):
    row = {"text": TEXT}
    one = integrated_gradients(classifier, row, steps=8, batch_size=64)
    again = integrated_gradients(classifier, row, steps=8, batch_size=64)
    chunked = integrated_gradients(classifier, row, steps=8, batch_size=3)
    np.testing.assert_array_equal(one.values, again.values)
    np.testing.assert_allclose(chunked.values, one.values, rtol=1e-5, atol=1e-8)
    assert chunked.forward_passes - one.forward_passes == 2  # 8 points in 3 passes instead of 1


def test_minilm_full_value_and_baselines(minilm_game_factory):
    model = minilm_game_factory(value={"kind": "similarity", "target": "full"})
    row = {"text": SENTENCE}
    game = model.game(row)
    pad = integrated_gradients(model, row, steps=32, baseline="pad")
    zero = integrated_gradients(model, row, steps=32, baseline="zero")
    mask = integrated_gradients(model, row, steps=32, baseline="mask")
    for exp in (pad, zero, mask):
        assert exp.v_full == pytest.approx(full_value(game), abs=1e-6)  # cos(e, e) = 1, as the game primes it
        assert exp.players == game.players
        assert abs(exp.completeness_gap) < 1e-3 * abs(exp.v_full - exp.v_baseline)
    assert len({pad.v_baseline, zero.v_baseline, mask.v_baseline}) == 3
    assert not np.allclose(pad.values, zero.values, atol=1e-3)
    assert pad.details["embedding_layer"] == "embeddings.word_embeddings"


def test_minilm_contrast_full_value(minilm_game_factory):
    model = minilm_game_factory(value={"kind": "contrast", "positive": "an animal", "negative": "a building"})
    exp = integrated_gradients(model, {"text": SENTENCE}, steps=4)
    assert exp.v_full == pytest.approx(full_value(model.game({"text": SENTENCE})), abs=1e-6)


def test_llama_logprob_full_value_response_and_refusals(llama):
    row = {"text": "What is the capital of France?"}
    game = llama.game(row)
    exp = integrated_gradients(llama, row, steps=8)
    assert exp.response == game.response  # the greedy response, generated as the game does
    assert exp.players == game.players
    assert exp.v_full == pytest.approx(full_value(game), abs=1e-4)
    # The chat template's tokens (BOS, <|user|>, the assistant turn) are never players: zero attribution.
    assert exp.token_owners[0] == -1 and np.all(exp.token_values[exp.token_owners < 0] == 0.0)
    with pytest.raises(ValueError, match=r"^shap\.options\.baseline: 'mask' needs a tokenizer with a mask token"):
        integrated_gradients(llama, row, baseline="mask")
    with pytest.raises(ValueError, match=r"^shap\.options\.baseline"):
        integrated_gradients(llama, row, baseline="unk")
    with pytest.raises(RowError) as error:
        integrated_gradients(llama, {"text": "   "})
    assert error.value.kind == "empty_input"


def test_gpt2_reference_response_mean_logprob(tiny_gpt2_path):
    # No chat template: the prompt is BOS + text, BOS prepended by the connector; position embeddings learned.
    model = load_model(
        {"connector": "hf_causal_lm", "path_or_id": tiny_gpt2_path, "device": "cpu"},
        None,
        {"kind": "logprob", "response": "reference", "reduce": "mean"},
    )
    row = {"text": "What is the capital of France?", "reference": "Paris is the capital of France."}
    game = model.game(row)
    exp = integrated_gradients(model, row, steps=32, baseline="zero")
    assert exp.response == game.response == row["reference"]
    assert exp.v_full == pytest.approx(full_value(game), abs=1e-4)
    assert abs(exp.completeness_gap) < 1e-5  # float32 rounding of a logprob near -6 (random GPT-2 barely reads it)
    assert exp.token_owners[0] == -1 and exp.token_values[0] == 0.0  # the prepended BOS


def test_generative_value_is_refused_by_the_explainer(tiny_llama_path):
    model = load_model(
        {"connector": "hf_causal_lm", "path_or_id": tiny_llama_path, "device": "cpu", "max_new_tokens": 2},
        None,
        {"kind": "generate_similarity"},
    )
    with pytest.raises(ValueError, match=r"^value\.kind: 'generate_similarity' is not differentiable"):
        integrated_gradients(model, {"text": TEXT})


def test_check_differentiable_accepts_and_refuses():
    check_differentiable({"connector": "sentence_embedder"}, {}, {"kind": "contrast"})
    check_differentiable({"connector": "hf_classifier"}, {"modalities": ["text"]}, {})
    check_differentiable({"connector": "hf_causal_lm"}, {}, {"kind": "logprob"})
    with pytest.raises(
        ValueError, match=r"^value\.kind: 'generate_similarity' is not differentiable \(greedy decoding\)"
    ):
        check_differentiable({"connector": "hf_causal_lm"}, {}, {"kind": "generate_similarity"})
    with pytest.raises(ValueError, match=r"^features\.modalities: \['image'\]"):
        check_differentiable({"connector": "hf_classifier"}, {"modalities": ["image"]}, {"kind": "probability"})
    with pytest.raises(ValueError, match=r"^model\.connector: 'hf_multimodal_lm'"):
        check_differentiable({"connector": "hf_multimodal_lm"}, {"modalities": ["text", "image"]}, {})


@pytest.mark.parametrize("max_players", [3, 64])
def test_a_row_outside_the_player_range_is_skipped_before_any_gradient(classifier, max_players):
    from shapsweep.explain import gradient_row

    run = {
        "run_id": "ig-run",
        "explain": {
            "shap": {"options": {"steps": 4, "baseline": "pad"}, "batch_size": 8, "normalizer": "abs_sum"},
            "selection": {"min_players": 1, "max_players": max_players},
        },
    }
    forward_calls = []
    hook = classifier.model.register_forward_hook(lambda *args: forward_calls.append(1))
    try:
        players = classifier.game({"text": TEXT}).players
        building_the_game = len(forward_calls)  # the classifier's target label takes a forward pass
        forward_calls.clear()
        row = gradient_row(classifier, {"row_id": 7, "text": TEXT}, run)
    finally:
        hook.remove()
    assert row["players"] == list(players)
    if max_players < len(players):
        assert row["status"] == "skipped" and "selection.min_players/max_players [1, 3]" in row["error"]
        assert len(forward_calls) == building_the_game  # no integration point ran
    else:
        assert row["status"] == "ok" and len(row["attribution"]) == len(players)
        assert len(forward_calls) > building_the_game
