"""Players (text.py), masks (masking.py) and the cached game on their own: no model needed."""

import logging

import numpy as np
import pytest
import torch

from shapsweep.features.masking import mask_batch
from shapsweep.features.text import assign_tokens, is_punctuation, split_players
from shapsweep.models.device import BatchRunner
from shapsweep.models.game import CachedGame, Usage

TEXT = "Hello, world! It's a well-known test... Isn't it? Yes."


def texts(players):
    return [p.text for p in players]


def test_word_players_keep_contractions_and_drop_punctuation():
    players = split_players(TEXT, "word")
    assert texts(players) == ["Hello", "world", "It's", "a", "well-known", "test", "Isn't", "it", "Yes"]
    assert all(TEXT[p.start : p.end] == p.text for p in players)
    with_punct = split_players(TEXT, "word", exclude_punctuation=False)
    assert texts(with_punct)[:4] == ["Hello", ",", "world", "!"]


def test_sentence_players():
    players = split_players(TEXT, "sentence")
    assert texts(players) == ["Hello, world!", "It's a well-known test...", "Isn't it?", "Yes."]
    assert texts(split_players("No end punctuation here", "sentence")) == ["No end punctuation here"]


def test_span_players_and_their_errors():
    players = split_players(TEXT, "spans", spans=[[0, 5], [7, 12]])
    assert texts(players) == ["Hello", "world"]
    for spans, message in [([[3, 2]], "empty or outside"), ([[0, 99]], "outside"), ([[5, 9], [0, 3]], "overlaps")]:
        with pytest.raises(ValueError, match=message):
            split_players(TEXT, "spans", spans=spans)


def test_token_players_from_offsets_and_punctuation():
    players = split_players("ab cd!", "token", token_offsets=[(0, 1), (1, 2), (2, 5), (5, 6)])
    assert texts(players) == ["a", "b", "cd"]
    assert is_punctuation("...") and is_punctuation(" $ ") and not is_punctuation("a.") and not is_punctuation(" ")


def test_assign_tokens_skips_template_and_special_tokens():
    # prefix "<u>" (3 chars), text "hi you", suffix; tokens: special, template, "hi", " you", suffix
    players = split_players("hi you", "word")
    offsets = [(0, 0), (0, 3), (3, 5), (5, 9), (9, 12)]
    owners = assign_tokens(players, offsets, text_start=3, text_length=6, special_mask=[1, 0, 0, 0, 0])
    assert owners.tolist() == [-1, -1, 0, 1, -1]


def test_masks_for_each_strategy_right_and_left_padding():
    ids = np.array([101, 7, 8, 9, 5, 102])
    owners = np.array([-1, 0, 0, 1, 2, -1])
    coalitions = np.array([[True, False, True], [False, True, False]])
    remove = mask_batch(ids, owners, coalitions, "remove", pad_token_id=0)
    assert remove.input_ids.tolist() == [[101, 7, 8, 5, 102], [101, 9, 102, 0, 0]]
    assert remove.attention_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert [remove.sequence(i) for i in range(2)] == [[101, 7, 8, 5, 102], [101, 9, 102]]
    left = mask_batch(ids, owners, coalitions, "remove", pad_token_id=0, padding_side="left")
    assert left.input_ids.tolist() == [[101, 7, 8, 5, 102], [0, 0, 101, 9, 102]]
    assert left.position_ids[1, 2:].tolist() == [0, 1, 2]
    assert left.sequence(1) == [101, 9, 102]
    masked = mask_batch(ids, owners, coalitions, "mask_token", pad_token_id=0, mask_token_id=103)
    assert masked.input_ids.tolist() == [[101, 7, 8, 103, 5, 102], [101, 103, 103, 9, 103, 102]]
    attention = mask_batch(ids, owners, coalitions, "attention", pad_token_id=0)
    assert attention.input_ids.tolist() == [ids.tolist()] * 2
    assert attention.attention_mask.tolist() == [[1, 1, 1, 0, 1, 1], [1, 0, 0, 1, 0, 1]]
    assert attention.position_ids.tolist() == [list(range(6))] * 2
    with pytest.raises(ValueError, match=r"features\.masking"):
        mask_batch(ids, owners, coalitions, "mask_token", pad_token_id=0)


def test_game_dedups_caches_and_orders_by_size():
    seen = []

    def evaluate(chunk):
        seen.append(chunk.copy())
        return chunk.sum(axis=1) * 1.5

    game = CachedGame(["a", "b", "c"], None, evaluate, BatchRunner(2), Usage())
    coalitions = np.array([[1, 0, 0], [1, 1, 1], [1, 0, 0], [0, 0, 0], [0, 1, 1]], dtype=bool)
    np.testing.assert_array_equal(game(coalitions), [1.5, 4.5, 1.5, 0.0, 3.0])
    np.testing.assert_array_equal(game(coalitions[::-1]), [3.0, 0.0, 1.5, 4.5, 1.5])
    sent = np.concatenate(seen)
    assert len(sent) == 4 and [len(c) for c in seen] == [2, 2]
    assert sent.sum(axis=1).tolist() == [3, 2, 1, 0]  # largest first
    assert game.stats["coalitions"] == 4
    with pytest.raises(ValueError, match=r"shape \(k, 3\)"):
        game(np.ones((2, 4), dtype=bool))


def test_batch_runner_halves_on_out_of_memory(caplog):
    # No GPU here: an evaluate that raises torch's own OutOfMemoryError above 3 rows stands in for CUDA.
    def evaluate(chunk):
        if len(chunk) > 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return chunk[:, 0] * 2.0

    runner = BatchRunner(16)
    items = np.arange(20, dtype=float)[:, None]
    with caplog.at_level(logging.WARNING, logger="shapsweep.models"):
        values = runner.run(items, evaluate)
    np.testing.assert_array_equal(values, np.arange(20) * 2.0)
    assert runner.batch_size == 2
    assert "out of memory on a batch of 16; retrying with batch_size 8" in caplog.text

    def always_fails(chunk):
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(torch.OutOfMemoryError):
        BatchRunner(4).run(items, always_fails)
