"""Value functions for free-form replies: each on hand-made pairs with known scores, then in a game on a tiny LM."""

import math

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from shapsweep.estimators import estimate
from shapsweep.models import load_model
from shapsweep.models.config import REPLY_SCORES, resolve_configs
from shapsweep.models.game import Usage
from shapsweep.models.reply_scorers import REPLY_SCORERS
from shapsweep.values.bertscore import bertscore_f1
from shapsweep.values.edit_distance import accuracy, error_rate
from shapsweep.values.judge import JUDGE_PROMPT, judge_value
from shapsweep.values.nli import entailment_index, entailment_probability


def test_error_rates_of_known_pairs():
    assert error_rate("the cat sat", "the cat sat on the mat", "word") == pytest.approx(3 / 6)  # 3 deletions
    assert error_rate("the dog sat on a mat", "the cat sat on the mat", "word") == pytest.approx(2 / 6)  # 2 subs
    assert error_rate("kitten", "sitting", "char") == pytest.approx(3 / 7)  # the textbook distance 3
    assert error_rate("a b c d", "a", "word") == pytest.approx(3.0)  # insertions: WER above 1
    np.testing.assert_allclose(accuracy(["same words", "", "x"], "same words", "word"), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(accuracy(["abc", "abd"], "abc", "char"), [1.0, 2 / 3])


def test_bertscore_f1_of_known_embeddings():
    e1, e2, e3 = torch.eye(3)
    assert bertscore_f1(torch.stack([e1, e2]), torch.stack([e1, e2])) == pytest.approx(1.0)
    assert bertscore_f1(torch.stack([e3]), torch.stack([e1, e2])) == pytest.approx(0.0)
    # candidate {e1}: precision 1; reference {e1, e2}: recall 1/2; F1 = 2/3
    assert bertscore_f1(torch.stack([e1]), torch.stack([e1, e2])) == pytest.approx(2 / 3)
    # scale does not matter (cosine); a 60-degree match scores cos = 1/2 both ways
    tilted = torch.tensor([0.5, math.sqrt(3) / 2, 0.0])
    assert bertscore_f1(torch.stack([3 * tilted]), torch.stack([e1])) == pytest.approx(0.5)
    assert bertscore_f1(torch.zeros(0, 3), torch.stack([e1])) == 0.0


def test_nli_and_judge_of_known_outputs():
    assert entailment_index({0: "CONTRADICTION", 1: "ENTAILMENT", 2: "NEUTRAL"}) == 1
    assert entailment_index({0: "entailment", 1: "not_entailment"}) == 0
    with pytest.raises(ValueError, match=r"value\.scorer"):
        entailment_index({0: "negative", 1: "positive"})
    logits = torch.tensor([[0.0, math.log(3.0), 0.0]])
    assert float(entailment_probability(logits, 1)[0]) == pytest.approx(3 / 5)
    scores = np.full((2, 11), -5.0)
    scores[0, 7], scores[1, [2, 9]] = -1.0, -0.5  # the second ties: the lower score wins
    np.testing.assert_allclose(judge_value(scores), [0.7, 0.2])
    assert "{reference}" in JUDGE_PROMPT and "{candidate}" in JUDGE_PROMPT


def test_registry_matches_the_schema_names():
    assert tuple(REPLY_SCORERS) == REPLY_SCORES


def _game_model(path, similarity, scorer=None):
    value = {"kind": "generate_similarity", "similarity": similarity}
    if scorer is not None:
        value["scorer"] = scorer
    model = load_model(
        {"connector": "hf_causal_lm", "path_or_id": path, "device": "cpu", "max_new_tokens": 6}, {}, value
    )
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # spread the tiny init so that coalitions get different replies
        for weight in model.model.parameters():
            if weight.dim() == 2:
                weight.copy_(torch.randn(weight.shape, generator=generator) * 0.1)
    return model


ROW = {
    "row_id": "r0",
    "messages": [
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "Tell me about the weather today"},
    ],
}


@pytest.mark.parametrize("similarity", ["wer", "cer", "bertscore", "nli", "judge"])
def test_reply_values_in_a_game(tiny_llama_path, tiny_nli_path, minilm_path, similarity):
    scorer = {"nli": tiny_nli_path, "bertscore": minilm_path}.get(similarity)
    model = _game_model(tiny_llama_path, similarity, scorer)
    game = model.game(ROW)
    n = game.n_players
    coalitions = np.random.default_rng(0).random((8, n)) < 0.5
    coalitions[0], coalitions[1] = True, False
    values = game(coalitions)
    assert np.all(np.isfinite(values))
    replies = model._texts(model.greedy(game.tokenized, coalitions, Usage()))
    full = game.response
    assert replies[0] == full and len(set(replies)) > 1  # the coalitions' replies really differ
    if similarity in ("wer", "cer"):
        np.testing.assert_allclose(values, accuracy(replies, full, "word" if similarity == "wer" else "char"))
        assert values[0] == 1.0
    elif similarity == "bertscore":
        assert values[0] == pytest.approx(1.0) and np.all(values <= 1 + 1e-9)
    elif similarity == "nli":  # the entailment probability the cross-encoder gives the (reply, full reply) pairs
        tok = AutoTokenizer.from_pretrained(tiny_nli_path)
        nli = AutoModelForSequenceClassification.from_pretrained(tiny_nli_path).eval()
        with torch.no_grad():
            logits = nli(**tok(replies, [full] * len(replies), padding=True, return_tensors="pt")).logits
        np.testing.assert_allclose(values, torch.softmax(logits.double(), -1)[:, 1].numpy(), atol=1e-6)
    else:  # judge: a score k/10 for k in 0..10, the explained model judging
        assert np.allclose(values * 10, np.round(values * 10)) and np.all((values >= 0) & (values <= 1))
        logprobs = model.reply_scorer.answer_logprobs(replies, full, Usage())
        np.testing.assert_allclose(values, np.argmax(logprobs, axis=1) / 10)
    result = estimate(game, n, method="exact")
    assert result.values.sum() == pytest.approx(result.v_full - result.v_empty, abs=1e-9)


def test_scorer_field_is_checked(tiny_llama_path, tiny_nli_path):
    model = {"connector": "hf_causal_lm", "path_or_id": tiny_llama_path}
    _, _, value = resolve_configs(model, {}, {"kind": "generate_similarity"})
    assert "scorer" not in value  # existing run ids do not move
    _, _, value = resolve_configs(model, {}, {"kind": "generate_similarity", "similarity": "judge"})
    assert value["scorer"] is None
    with pytest.raises(ValueError, match="needs an NLI"):
        resolve_configs(model, {}, {"kind": "generate_similarity", "similarity": "nli"})
    with pytest.raises(ValueError, match="only used with"):
        resolve_configs(model, {}, {"kind": "generate_similarity", "similarity": "wer", "scorer": tiny_nli_path})
    with pytest.raises(ValueError, match=r"value\.scorer"):
        resolve_configs(model, {}, {"kind": "generate_similarity", "similarity": "nli", "scorer": "/no/such/model"})
