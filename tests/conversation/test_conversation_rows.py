"""Conversation rows (`messages`) in hf_causal_lm: players from the chosen turns only, the whole conversation
through the chat template, the value on the reply that follows, KV-prefix reuse unchanged."""

import numpy as np
import pytest
import torch

from shapsweep.errors import RowError
from shapsweep.features.conversation import Turn, conversation_text, player_turns, row_conversation
from shapsweep.models import load_model
from shapsweep.models.config import resolve_configs
from shapsweep.models.game import Usage
from shapsweep.models.prefix_cache import shared_prefix_length

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris is the capital."},
    {"role": "user", "content": "Tell me about the weather today."},
    {"role": "assistant", "content": "The weather today is sunny."},
]


def _model(path, features=None, value=None, scale=True):
    model = load_model(
        {"connector": "hf_causal_lm", "path_or_id": path, "device": "cpu", "max_new_tokens": 5},
        features,
        value or {"kind": "logprob", "response": "reference"},
    )
    if scale:  # the saved init (std 0.02) gives every prompt the same answer; spread the weights
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for weight in model.model.parameters():
                if weight.dim() == 2:
                    weight.copy_(torch.randn(weight.shape, generator=generator) * 0.1)
    return model


def test_last_assistant_turn_is_the_reply_and_turn_selection():
    turns, reply = row_conversation({"messages": MESSAGES})
    assert reply == "The weather today is sunny." and [t.role for t in turns] == ["system", "user", "assistant", "user"]
    assert player_turns(turns, "last_user") == [3]
    assert player_turns(turns, "user") == [1, 3]
    assert player_turns(turns, {"roles": ["system", "assistant"]}) == [0, 2]
    assert player_turns(turns, {"turns": [2, 0]}) == [0, 2]
    with pytest.raises(RowError, match="turn 7"):
        player_turns(turns, {"turns": [7]})
    with pytest.raises(RowError, match="no turn"):
        player_turns(turns, {"roles": ["tool"]})
    text, spans = conversation_text([Turn("user", "ab"), Turn("assistant", "cde")])
    assert text == "ab\n\ncde" and spans == [(0, 2), (4, 7)]
    with pytest.raises(RowError, match="use hf_multimodal_lm"):
        row_conversation({"messages": [{"role": "user", "content": [{"type": "image", "image": "x.png"}]}]})


@pytest.mark.parametrize(
    ("players_from", "words"),
    [
        (None, ["Tell", "me", "about", "the", "weather", "today"]),
        ("user", ["What", "is", "the", "capital", "of", "France", "Tell", "me", "about", "the", "weather", "today"]),
        ({"roles": ["assistant"]}, ["Paris", "is", "the", "capital"]),
        ({"turns": [0]}, ["Be", "brief"]),
    ],
)
def test_players_come_only_from_the_chosen_turns(tiny_llama_path, players_from, words):
    features = {} if players_from is None else {"players_from": players_from}
    model = _model(tiny_llama_path, features, scale=False)
    game = model.game({"row_id": "0", "messages": MESSAGES})
    assert game.players == words
    text, _ = conversation_text(row_conversation({"messages": MESSAGES})[0])
    assert [text[s:e] for s, e in game.spans] == words  # spans index the conversation text
    tokenized = game.tokenized
    # every token a player owns decodes to (a piece of) that player's word; other turns' tokens are unowned
    for token, owner in zip(tokenized.ids, tokenized.owners):
        if owner >= 0:
            assert model.tokenizer.decode([int(token)]).strip() in words[owner]
    rendered = model.tokenizer.decode(tokenized.ids.tolist())
    assert rendered.count("<|user|>") == 2 and rendered.endswith("<|assistant|>\n")
    assert "The weather today is sunny" not in rendered  # the reply is not part of the prompt
    assert game.response == "The weather today is sunny."


def test_one_user_turn_is_todays_text_row(tiny_llama_path):
    """A conversation of a system and one user turn gives the game a text row with model.system_prompt gives."""
    model = load_model(
        {"connector": "hf_causal_lm", "path_or_id": tiny_llama_path, "device": "cpu", "system_prompt": "Be brief."},
        {},
        {"kind": "logprob"},
    )
    text = "What is the capital of France?"
    plain = model.tokenize({"text": text}, 4)
    turns, _ = row_conversation({"messages": [{"role": "user", "content": text}]})
    conversation = model.tokenize({}, 4, turns)
    np.testing.assert_array_equal(plain.ids, conversation.ids)
    np.testing.assert_array_equal(plain.owners, conversation.owners)


@pytest.mark.parametrize("masking", ["remove", "attention"])
def test_prefix_reuse_equals_full_prompts(tiny_llama_path, masking):
    model = _model(tiny_llama_path, {"players_from": "user", "masking": masking})
    row = {"row_id": "0", "messages": MESSAGES}
    game = model.game(row)
    tokenized = game.tokenized
    prefix = shared_prefix_length(tokenized.owners)
    assert prefix == int(np.flatnonzero(tokenized.owners >= 0)[0]) and prefix >= 6  # <s><|system|>\nBe brief.</s>...
    coalitions = np.random.default_rng(3).random((10, game.n_players)) < 0.5
    coalitions[0], coalitions[1] = True, False
    response = torch.tensor(game.response_ids)
    model.teacher_forced_logprob(tokenized, response, coalitions[:1], Usage())  # computes the prefix cache
    cached_usage, plain_usage = Usage(), Usage()
    cached = model.teacher_forced_logprob(tokenized, response, coalitions, cached_usage)
    cached_game = model.game(row)(coalitions)
    model.reuse_prefix = False
    try:
        plain = model.teacher_forced_logprob(tokenized, response, coalitions, plain_usage)
        plain_game = model.game(row)(coalitions)
        plain_greedy = model.greedy(tokenized, coalitions, Usage())
    finally:
        model.reuse_prefix = True
    np.testing.assert_allclose(cached, plain, atol=1e-4)
    np.testing.assert_allclose(cached_game, plain_game, atol=1e-4)
    assert model.greedy(tokenized, coalitions, Usage()) == plain_greedy
    assert np.ptp(cached) > 0  # the coalitions really differ
    # the prefix (everything before the first player token) ran once, not once per coalition
    assert plain_usage.tokens - cached_usage.tokens == len(coalitions) * prefix


def test_players_from_is_checked_and_absent_by_default(tiny_llama_path):
    model = {"connector": "hf_causal_lm", "path_or_id": tiny_llama_path}
    _, features, _ = resolve_configs(model, {"players_from": "last_user"}, {})
    assert "players_from" not in features  # run ids of text rows stay as they were
    _, features, _ = resolve_configs(model, {"players_from": {"turns": [0, 2]}}, {})
    assert features["players_from"] == {"turns": [0, 2]}
    for bad in ("everyone", {"turns": [-1]}, {"roles": []}, {"roles": ["user"], "turns": [0]}):
        with pytest.raises(ValueError, match=r"features\.players_from"):
            resolve_configs(model, {"players_from": bad}, {})
    with pytest.raises(ValueError, match="only the hf_causal_lm"):
        resolve_configs({"connector": "sentence_embedder"}, {"players_from": "user"}, {})


def test_integrated_gradients_explain_a_conversation(tiny_llama_path):
    from shapsweep.models.integrated_gradients import integrated_gradients

    model = _model(tiny_llama_path, {"players_from": "user"})
    row = {"row_id": "0", "messages": MESSAGES}
    exp = integrated_gradients(model, row, steps=32, baseline="pad", batch_size=32)
    assert exp.players == model.game(row).players and len(exp.players) == 12
    assert abs(exp.completeness_gap) < 0.05 * abs(exp.v_full - exp.v_baseline) + 1e-3
    assert all(v == 0 for v, owner in zip(exp.token_values, exp.token_owners) if owner < 0)  # other turns get 0


def test_spans_players_index_the_conversation_text_inside_the_chosen_turns(tiny_llama_path):
    text, _ = conversation_text(row_conversation({"messages": MESSAGES})[0])
    wanted = ["capital of France", "weather", "today"]
    spans = [(text.index(w), text.index(w) + len(w)) for w in wanted]
    model = _model(tiny_llama_path, {"granularity": "spans", "players_from": "user"}, scale=False)
    game = model.game({"row_id": "0", "messages": MESSAGES, "spans": spans})
    assert game.players == wanted and game.spans == spans
    for token, owner in zip(game.tokenized.ids, game.tokenized.owners):
        if owner >= 0:
            assert model.tokenizer.decode([int(token)]).strip() in wanted[owner]
    assert (game.tokenized.owners >= 0).sum() >= 3
    # the same spans with players from the last user turn only: the first turn's span is refused by name
    last_only = _model(tiny_llama_path, {"granularity": "spans"}, scale=False)
    with pytest.raises(RowError, match=r"spans\[0\] = \[\d+, \d+\) is not inside one of the turns"):
        last_only.game({"row_id": "0", "messages": MESSAGES, "spans": spans})
    with pytest.raises(RowError, match="needs a `spans` column"):
        last_only.game({"row_id": "0", "messages": MESSAGES})
