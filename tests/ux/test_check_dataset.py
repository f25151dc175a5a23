"""Issue 15 item 6 (validate): `validate --check-dataset` counts the rows that will not be explained (empty,
over features.max_players) before any model is loaded, and names the first few."""

import json

import pytest

from shapsweep.cli import main

TEXTS = [
    "cats chase mice",
    "",
    "one two three four five six seven eight nine ten eleven",
    "   ",
    "dogs bark. loudly!",
    "a b c d e f g h i j k l m n",
]


def write_set(tmp_path, features: str, model: str = "ss.minilm") -> str:
    """The set and its data in tmp_path, which becomes the working directory (data paths are relative)."""
    (tmp_path / "data.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    (tmp_path / "set.jsonnet").write_text(
        f"""
local ss = import 'shapsweep.libsonnet';
{{
  experiment_set_id: 'check',
  dataset: ss.localFile('data.jsonl'),
  model: {model},
  features: {features},
  experiments: [ss.method('kernel', [16])],
}}
"""
    )
    return str(tmp_path / "set.jsonnet")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_empty_and_over_long_word_rows_are_counted_with_their_ids(tmp_path, capsys):
    assert main(["validate", write_set(tmp_path, "{ max_players: 8 }"), "--check-dataset"]) == 0
    out = capsys.readouterr().out
    assert "warning: dataset" in out
    assert "2 of 6 rows are empty (status empty_input): 1, 3" in out
    assert "2 of 6 rows have more than features.max_players = 8 word players" in out
    assert "most: 14): 2, 5;" in out


def test_sentence_players_are_counted_at_their_granularity(tmp_path, capsys):
    set_file = write_set(tmp_path, "{ max_players: 1, granularity: 'sentence' }")
    assert main(["validate", set_file, "--check-dataset"]) == 0
    out = capsys.readouterr().out
    assert "1 of 6 rows have more than features.max_players = 1 sentence players" in out  # row 4: two sentences
    assert "most: 2): 4;" in out


def test_token_players_need_only_the_tokenizer(tmp_path, capsys):
    set_file = write_set(tmp_path, "{ max_players: 12, granularity: 'token' }")
    assert main(["validate", set_file, "--check-dataset"]) == 0
    out = capsys.readouterr().out
    # MiniLM's WordPiece keeps these words whole: row 5 has 14 tokens, row 2 has 11
    assert (
        "1 of 6 rows have more than features.max_players = 12 token players (status too_many_players; most: 14)" in out
    )
    assert "import torch" not in out


def test_a_set_whose_rows_all_fit_says_nothing_more(tmp_path, capsys):
    assert main(["validate", write_set(tmp_path, "{ max_players: 64 }"), "--check-dataset"]) == 0
    out = capsys.readouterr().out
    assert "too_many_players" not in out and "2 of 6 rows are empty" in out
