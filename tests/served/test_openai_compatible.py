"""The served connector against llama.cpp's real OpenAI-compatible server, checked against in-process values.

The same tiny Llama is explained in process (`hf_causal_lm`) and behind the server (an f32 GGUF of the same
weights): every coalition's value, the Shapley values and the greedy generations must agree.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import polars as pl
import pytest

from shapsweep.config.experiment_set import from_config
from shapsweep.estimators import estimate
from shapsweep.explain import IncompleteShards, ShardJob, explain_shards
from shapsweep.models import load_model

ROWS = [
    ("a", "The quick brown fox jumps over the dog.", " Paris is the capital"),
    ("b", "She read the book in one evening.", " a short review"),
    ("c", "Shapley values split a prediction.", " among the input features"),
]
# llama-cpp-python penalises repeats unless told not to; greedy decoding must be plain argmax.
GREEDY = {"repeat_penalty": 1.0, "top_k": 0}


def served_model(server, tokenizer_path, **extra):
    return {
        "connector": "openai_compatible",
        "path_or_id": tokenizer_path,
        "base_url": server.base_url,
        "model": server.alias,
        "request_options": GREEDY,
        "max_retries": 1,
        **extra,
    }


def all_coalitions(n):
    return np.array(list(itertools.product([False, True], repeat=n)), dtype=bool)


def test_served_logprob_game_equals_the_in_process_game(llama_server, served_llama_path):
    value = {"kind": "logprob", "response": "reference"}
    features = {"max_players": 10}
    local = load_model({"connector": "hf_causal_lm", "path_or_id": served_llama_path}, features, value)
    served = load_model(served_model(llama_server, served_llama_path), features, value)
    assert served.store_identity == {"served_model": {"id": "tiny-llama", "owned_by": "me"}}
    for row_id, text, reference in ROWS:
        row = {"row_id": row_id, "text": text, "reference": reference}
        local_game, served_game = local.game(row), served.game(row)
        assert served_game.players == local_game.players
        coalitions = all_coalitions(local_game.n_players)
        local_values, served_values = local_game(coalitions), served_game(coalitions)
        # f32 on both sides; llama.cpp sums in another order than torch
        np.testing.assert_allclose(served_values, local_values, atol=2e-3, rtol=0)
        local_phi = estimate(local_game, local_game.n_players, method="exact").values
        served_phi = estimate(served_game, served_game.n_players, method="exact").values
        np.testing.assert_allclose(served_phi, local_phi, atol=2e-3, rtol=0)
        assert np.abs(local_phi).max() > 1e-2  # the game is not flat: the comparison means something


CONVERSATION = {
    "row_id": "trip",
    "messages": [
        {"role": "user", "content": "A weekend in Paris."},
        {"role": "assistant", "content": "Spring is a lovely time there."},
        {"role": "user", "content": "What should I pack?"},
        {"role": "assistant", "content": " A light raincoat."},
    ],
}


@pytest.mark.parametrize("players_from", ["last_user", "user"])
def test_a_conversation_rows_served_values_equal_the_in_process_ones(llama_server, served_llama_path, players_from):
    value = {"kind": "logprob", "response": "reference"}
    features = {"max_players": 10, "players_from": players_from}
    local = load_model({"connector": "hf_causal_lm", "path_or_id": served_llama_path}, features, value)
    served = load_model(served_model(llama_server, served_llama_path), features, value)
    local_game, served_game = local.game(CONVERSATION), served.game(CONVERSATION)
    assert served_game.players == local_game.players
    assert served_game.spans == local_game.spans
    assert served_game.response == local_game.response == " A light raincoat."  # the last assistant turn
    # players only from the chosen user turns: the assistant's words are never players
    assert ("raincoat." in served_game.players) is False and "Spring" not in served_game.players
    assert ("weekend" in served_game.players) is (players_from == "user")
    local_phi = estimate(local_game, local_game.n_players, method="exact").values
    served_phi = estimate(served_game, served_game.n_players, method="exact").values
    np.testing.assert_allclose(served_phi, local_phi, atol=2e-3, rtol=0)
    assert np.abs(local_phi).max() > 1e-2


def test_a_conversation_rows_spans_players_served_equal_the_in_process_ones(llama_server, served_llama_path):
    """`spans` players over two user turns (the spans index the conversation text): the served game's
    players, token owners and Shapley values are hf_causal_lm's on the same weights."""
    from shapsweep.features.conversation import conversation_text, row_conversation

    text, _ = conversation_text(row_conversation(CONVERSATION)[0])
    wanted = ["weekend in Paris", "should", "pack?"]
    row = {**CONVERSATION, "spans": [(text.index(w), text.index(w) + len(w)) for w in wanted]}
    value = {"kind": "logprob", "response": "reference"}
    features = {"granularity": "spans", "players_from": "user"}
    local = load_model({"connector": "hf_causal_lm", "path_or_id": served_llama_path}, features, value)
    served = load_model(served_model(llama_server, served_llama_path), features, value)
    local_game, served_game = local.game(row), served.game(row)
    assert served_game.players == local_game.players == wanted
    assert served_game.spans == local_game.spans == row["spans"]
    turns = row_conversation(row)[0]
    owners = served.tokenize(row, turns).owners
    np.testing.assert_array_equal(owners, local_game.tokenized.owners)
    assert sorted(set(owners.tolist())) == [-1, 0, 1, 2]  # every span owns tokens
    coalitions = all_coalitions(3)
    np.testing.assert_allclose(served_game(coalitions), local_game(coalitions), atol=2e-3, rtol=0)
    local_phi = estimate(local_game, 3, method="exact").values
    served_phi = estimate(served_game, 3, method="exact").values
    np.testing.assert_allclose(served_phi, local_phi, atol=2e-3, rtol=0)
    assert np.abs(local_phi).max() > 1e-2


def test_a_reply_the_server_ends_with_eos_is_read_from_the_echo_as_in_process(llama_server, served_llama_path):
    """llama-cpp-python's echo with `max_tokens` 1 ends with the generated token's entry, unless it generated
    EOS: then that entry is left out and `usage.completion_tokens` is 0 (checked here on the raw answer).
    The connector must not shift its pick by one token onto the prompt: a logit bias makes EOS the
    generated token for every coalition and the values still equal the in-process ones."""
    import httpx
    from transformers import AutoTokenizer

    eos = AutoTokenizer.from_pretrained(served_llama_path).eos_token_id
    forced_eos = {**GREEDY, "logit_bias": {str(eos): 100.0}}
    row_id, text, reference = ROWS[0]
    prompt = "<s>" + text + reference  # starts with BOS, as the connector's prompts do (see the next test)
    body = {"model": llama_server.alias, "prompt": prompt, "max_tokens": 1, "echo": True, "logprobs": 1}
    plain = httpx.post(f"{llama_server.base_url}/v1/completions", json={**body, **GREEDY}, timeout=30).json()
    stopped = httpx.post(f"{llama_server.base_url}/v1/completions", json={**body, **forced_eos}, timeout=30).json()
    assert (plain["choices"][0]["finish_reason"], plain["usage"]["completion_tokens"]) == ("length", 1)
    assert (stopped["choices"][0]["finish_reason"], stopped["usage"]["completion_tokens"]) == ("stop", 0)
    echoed = [e["choices"][0]["logprobs"]["token_logprobs"] for e in (plain, stopped)]
    assert echoed[0][:-1] == echoed[1]  # the same prompt entries, without the generated token's
    assert echoed[1][0] is None  # the first echoed token has none (the OpenAI API's convention)

    value = {"kind": "logprob", "response": "reference"}
    local = load_model({"connector": "hf_causal_lm", "path_or_id": served_llama_path}, {"max_players": 10}, value)
    served = load_model(
        served_model(llama_server, served_llama_path, request_options=forced_eos), {"max_players": 10}, value
    )
    row = {"row_id": row_id, "text": text, "reference": reference}
    local_game, served_game = local.game(row), served.game(row)
    coalitions = all_coalitions(local_game.n_players)
    np.testing.assert_allclose(served_game(coalitions), local_game(coalitions), atol=2e-3, rtol=0)


def test_echoed_logprobs_shifted_by_the_server_are_refused_by_name(llama_server, served_llama_path, tmp_path):
    """llama-cpp-python drops a leading BOS from the echo and pairs the other tokens with the logits from
    position 0: for a prompt without BOS each echoed value is the next position's (checked on raw answers).
    A tokenizer whose template writes no BOS makes such prompts; the connector refuses the server when the
    model loads instead of computing wrong values."""
    import shutil

    import httpx

    url, greedy = f"{llama_server.base_url}/v1/completions", {**GREEDY, "max_tokens": 1, "echo": True, "logprobs": 1}
    text = ROWS[0][1]
    answers = [
        httpx.post(url, json={"model": llama_server.alias, "prompt": p, **greedy}, timeout=30).json()
        for p in ("<s>" + text, text)
    ]
    with_bos, without = (a["choices"][0]["logprobs"] for a in answers)
    assert with_bos["tokens"][:-1] == without["tokens"]  # the same tokens echoed, the generated one dropped
    assert with_bos["token_logprobs"][1:-1] != without["token_logprobs"][1:]  # but not the same values

    no_bos = tmp_path / "no-bos-template"
    shutil.copytree(served_llama_path, no_bos)
    template = no_bos / "chat_template.jinja"
    template.write_text(template.read_text().replace("{{ bos_token }}", ""))
    with pytest.raises(ValueError, match="echoes values that do not belong to their tokens"):
        load_model(served_model(llama_server, str(no_bos)), {}, {"kind": "logprob", "response": "reference"})


def test_a_prompt_of_only_bos_is_refused_and_a_system_prompt_fixes_it(llama_server, served_llama_path, tmp_path):
    """Without a chat template the empty coalition's prompt is BOS alone; llama-cpp-python drops it from the
    echo and leaves the reply's first token without a log-probability, so every row would fail. The
    connector says so when the model loads; with model.system_prompt the values equal the in-process ones."""
    import shutil

    plain = tmp_path / "no-template"
    shutil.copytree(served_llama_path, plain)
    (plain / "chat_template.jinja").unlink()
    value = {"kind": "logprob", "response": "reference"}
    with pytest.raises(ValueError, match=r"set model\.system_prompt"):
        load_model(served_model(llama_server, str(plain)), {}, value)

    system = {"system_prompt": "Answer briefly."}
    served = load_model(served_model(llama_server, str(plain), **system), {"max_players": 10}, value)
    local = load_model({"connector": "hf_causal_lm", "path_or_id": str(plain), **system}, {"max_players": 10}, value)
    row_id, text, reference = ROWS[1]
    row = {"row_id": row_id, "text": text, "reference": reference}
    local_game, served_game = local.game(row), served.game(row)
    coalitions = all_coalitions(local_game.n_players)
    np.testing.assert_allclose(served_game(coalitions), local_game(coalitions), atol=2e-3, rtol=0)


def greedy_margin(local, tokenized, coalition, reply_ids) -> float:
    """The smallest gap between the top two logits over the in-process greedy reply's steps."""
    import torch

    prompt = torch.from_numpy(local._masked(tokenized, coalition[None]).input_ids)
    sequence = torch.cat([prompt, torch.tensor([reply_ids])], dim=1)
    with torch.inference_mode():
        logits = local.model(sequence).logits[0, prompt.shape[1] - 1 : -1]
    top2 = logits.topk(2).values
    return float((top2[:, 0] - top2[:, 1]).min())


def test_served_generations_are_the_in_process_greedy_ones(llama_server, served_llama_path):
    from shapsweep.models.game import Usage

    features = {"max_players": 10}
    local = load_model({"connector": "hf_causal_lm", "path_or_id": served_llama_path, "max_new_tokens": 12}, features)
    served = load_model(
        served_model(llama_server, served_llama_path, max_new_tokens=12),
        features,
        {"kind": "generate_similarity", "similarity": "tfidf"},
    )
    compared = 0
    for _, text, _ in ROWS:
        tokenized = local.tokenize({"text": text}, 12)
        coalitions = all_coalitions(tokenized.n_players)[::3]
        local_ids = local.greedy(tokenized, coalitions, Usage())
        local_texts = local._texts(local_ids)
        served_texts = served.generate(served.masked_prompts(served.tokenize({"text": text}), coalitions), Usage())
        assert len(set(local_texts)) > 1  # masking changes the reply: a real comparison
        for coalition, ids, local_text, served_text in zip(coalitions, local_ids, local_texts, served_texts):
            # Random weights give near-flat logits; two engines' f32 sums (values agree to ~1e-5) may
            # break a near-tie differently, so only replies without one must match token for token.
            if greedy_margin(local, tokenized, coalition, ids) > 1e-3:
                assert served_text == local_text
                compared += 1
    assert compared >= 10


def test_a_server_without_prompt_logprobs_is_refused_by_name(tiny_llama_gguf, served_llama_path, tmp_path):
    from llama_server import LlamaServer

    server = LlamaServer(tiny_llama_gguf, tmp_path / "server.log")
    server.start(extra_args=["--logits_all", "false"])
    try:
        with pytest.raises(ValueError, match=r"value.kind: 'logprob' needs the prompt's log-probabilities"):
            load_model(served_model(server, served_llama_path), {}, {"kind": "logprob", "response": "reference"})
    finally:
        server.stop()


def _served_run(server, tokenizer_path, data, **model_extra):
    cfg = {
        "experiment_set_id": "served",
        "dataset": {"source": "json", "data_files": str(data)},
        "model": served_model(server, tokenizer_path, **model_extra),
        "value": {"kind": "logprob", "response": "reference"},
        "features": {"max_players": 10},
        "experiments": [{"name": "exact", "shap": {"method": "exact"}}],
    }
    return next(iter(from_config(cfg).runs.values()))


class _KillAfterFirstRow(io.StringIO):
    """A job log that kills the server as soon as the first row of the shard is reported done."""

    def __init__(self, server):
        super().__init__()
        self.server = server

    def write(self, text):
        if " row 1/" in text:
            self.server.stop()
        return super().write(text)


def test_a_killed_server_fails_rows_not_the_shard_and_the_rerun_completes_them(
    tiny_llama_gguf, served_llama_path, tmp_path
):
    from llama_server import LlamaServer

    rows = pl.DataFrame(
        {"row_id": [r[0] for r in ROWS], "text": [r[1] for r in ROWS], "reference": [r[2] for r in ROWS]}
    )
    rows.write_parquet(tmp_path / "rows.parquet")
    data = tmp_path / "rows.jsonl"
    data.write_text("")
    server = LlamaServer(tiny_llama_gguf, tmp_path / "server.log").start()
    try:
        run = _served_run(server, served_llama_path, data)
        job = ShardJob("00000", 0, len(ROWS), tmp_path / "00000.parquet")
        with pytest.raises(IncompleteShards, match="run the workflow again"):
            explain_shards(run, tmp_path / "rows.parquet", [job], threads=1, log=_KillAfterFirstRow(server))
        assert not job.out.exists()
        partial = pl.read_parquet(tmp_path / ".00000.partial.parquet")
        assert partial["status"].to_list() == ["ok", "server_error", "server_error"]
        assert "unreachable" in partial["error"][2]  # the dead server is not retried row after row
        first = partial.row(0, named=True)

        server.start()  # same port, same model: the re-run explains only the two failed rows
        log = io.StringIO()
        explain_shards(run, tmp_path / "rows.parquet", [job], threads=1, log=log)
    finally:
        server.stop()
    shard = pl.read_parquet(job.out)
    assert shard["status"].to_list() == ["ok", "ok", "ok"]
    assert shard.row(0, named=True)["runtime_s"] == first["runtime_s"]  # kept, not recomputed
    assert not (tmp_path / ".00000.partial.parquet").exists()
