"""hf_causal_lm games (logprob, generate_similarity) on tiny random-weight Llama and GPT-2."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from shapsweep.models import RowError, load_model

TEXT = "What is the capital of France? Tell me."
SYSTEM = "Be brief."


@pytest.fixture(scope="module")
def lm_factory(tiny_llama_path, tiny_gpt2_path):
    paths = {"llama": tiny_llama_path, "gpt2": tiny_gpt2_path}
    cache = {}

    def make(arch="llama", features=None, value=None, **model):
        key = (
            arch,
            repr(sorted((features or {}).items())),
            repr(sorted((value or {}).items())),
            repr(sorted(model.items())),
        )
        if key not in cache:
            cfg = {
                "connector": "hf_causal_lm",
                "path_or_id": paths[arch],
                "device": "cpu",
                "max_new_tokens": 6,
                **model,
            }
            cache[key] = load_model(cfg, features, value)
        return cache[key]

    return make


@pytest.fixture(scope="module")
def direct(tiny_llama_path, tiny_gpt2_path):
    loaded = {}
    for arch, path in {"llama": tiny_llama_path, "gpt2": tiny_gpt2_path}.items():
        loaded[arch] = (AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path).eval())
    return loaded


def prompt_ids(arch, direct, text, system=None):
    tokenizer, _ = direct[arch]
    if arch == "llama":
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
        rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return tokenizer(rendered, add_special_tokens=False)["input_ids"]
    return [tokenizer.bos_token_id] + tokenizer(text)["input_ids"]


def hand_logprob(model, prompt, response):
    """log p(response | prompt) from one plain forward pass, summed by hand."""
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([prompt + response])).logits[0].double()
    total = 0.0
    for t, token in enumerate(response):
        total += float(torch.log_softmax(logits[len(prompt) + t - 1], dim=-1)[token])
    return total


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_greedy_reference_equals_generate(lm_factory, direct, arch):
    model = lm_factory(arch, system_prompt=SYSTEM if arch == "llama" else None)
    game = model.game({"text": TEXT})
    tokenizer, hf = direct[arch]
    prompt = prompt_ids(arch, direct, TEXT, SYSTEM if arch == "llama" else None)
    with torch.inference_mode():
        out = hf.generate(torch.tensor([prompt]), max_new_tokens=6, do_sample=False, pad_token_id=model.pad_token_id)
    expected = out[0, len(prompt) :].tolist()
    eos = tokenizer.eos_token_id
    expected = expected[: expected.index(eos) + 1] if eos in expected else expected
    assert game.response_ids == expected
    assert game.response == tokenizer.decode(expected, skip_special_tokens=True)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_logprob_equals_hand_written_teacher_forcing(lm_factory, direct, arch):
    model = lm_factory(arch, value={"kind": "logprob", "reduce": "sum"})
    game = model.game({"text": TEXT})
    _, hf = direct[arch]
    assert game.players == ["What", "is", "the", "capital", "of", "France", "Tell", "me"]
    full = game(np.ones((1, 8), dtype=bool))[0]
    assert full == pytest.approx(hand_logprob(hf, prompt_ids(arch, direct, TEXT), game.response_ids), abs=1e-4)
    # Masked coalitions against hand-built token ids: drop exactly the players' tokens.
    prompt = prompt_ids(arch, direct, TEXT)
    rendered_offsets = _offsets_of_text(arch, direct)
    for coalition in ([True, True, False, True, True, False, True, True], [False] * 8):
        dropped_words = [p for p, keep in zip(game.players, coalition) if not keep]
        masked = [
            t for t, (s, e) in zip(prompt, rendered_offsets) if not any(_owns(word, s, e) for word in dropped_words)
        ]
        value = game(np.array([coalition]))[0]
        assert value == pytest.approx(hand_logprob(hf, masked, game.response_ids), abs=1e-4)


def _offsets_of_text(arch, direct):
    """Per prompt token, its character span in TEXT (or None for template tokens)."""
    tokenizer, _ = direct[arch]
    if arch == "llama":
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": TEXT}], tokenize=False, add_generation_prompt=True
        )
        start = rendered.index(TEXT)
        enc = tokenizer(rendered, add_special_tokens=False, return_offsets_mapping=True)
        return [
            (s - start, e - start) if start <= s < start + len(TEXT) else (None, None) for s, e in enc["offset_mapping"]
        ]
    enc = tokenizer(TEXT, return_offsets_mapping=True)
    return [(None, None)] + [tuple(o) for o in enc["offset_mapping"]]


def _owns(word, s, e):
    if s is None:
        return False
    start = TEXT.index(word) if word != "me" else TEXT.index("me.")
    return s < start + len(word) and start < e  # offsets may include the leading space


@pytest.mark.parametrize("masking", ["remove", "mask_token", "attention"])
@pytest.mark.parametrize("kind", ["logprob", "generate_similarity"])
def test_batched_equals_one_by_one(lm_factory, masking, kind):
    model = lm_factory(
        "llama",
        features={"masking": masking},
        value={"kind": kind, "reduce": "mean"} if kind == "logprob" else {"kind": kind},
    )
    coalitions = np.random.default_rng(3).random((12, 8)) < 0.5
    batched = model.game({"text": TEXT})(coalitions)
    single_game = model.game({"text": TEXT})
    single = np.array([single_game(c[None, :])[0] for c in coalitions])
    np.testing.assert_allclose(batched, single, atol=1e-5)


@pytest.mark.parametrize("kind", ["logprob", "generate_similarity"])
def test_gpt2_left_padding_equals_one_by_one(lm_factory, kind):
    # GPT-2 has learned absolute positions: wrong position ids under left padding would show here.
    model = lm_factory("gpt2", value={"kind": kind})
    coalitions = np.random.default_rng(4).random((10, 8)) < 0.5
    batched = model.game({"text": TEXT})(coalitions)
    single_game = model.game({"text": TEXT})
    single = np.array([single_game(c[None, :])[0] for c in coalitions])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert np.all(np.isfinite(batched))


@pytest.mark.parametrize(
    "value",
    [
        {"embedding": "static", "reducer": "mean", "similarity": "cosine"},
        {"embedding": "contextual", "reducer": "max", "similarity": "cosine"},
        {"embedding": "static", "reducer": "first", "similarity": "euclidean"},
        {"embedding": "static", "similarity": "tfidf"},
    ],
)
def test_generate_similarity_is_one_at_full(lm_factory, value):
    game = lm_factory("llama", value={"kind": "generate_similarity", **value}).game({"text": TEXT})
    values = game(np.array([[True] * 8, [False] * 8, [True, False] * 4]))
    assert values[0] == pytest.approx(1.0, abs=1e-6)
    assert np.all(values <= 1.0 + 1e-6)


def test_generate_similarity_with_an_external_embedder(lm_factory, minilm_path):
    game = lm_factory(
        "gpt2", value={"kind": "generate_similarity", "embedding": "external", "embedder": minilm_path}
    ).game({"text": TEXT})
    passes = game.stats["forward_passes"]
    values = game(np.array([[True] * 8, [False] * 8]))
    assert values[0] == pytest.approx(1.0, abs=1e-6)
    assert game.stats["forward_passes"] > passes  # the empty coalition was generated and embedded


def test_system_prompt_and_template_are_never_players(lm_factory):
    model = lm_factory("llama", system_prompt=SYSTEM)
    game = model.game({"text": TEXT})
    assert SYSTEM not in " ".join(game.players)
    tokenized = model.tokenize({"text": TEXT}, 0)
    batch = model._masked(tokenized, np.zeros((1, game.n_players), dtype=bool))
    # Only unowned tokens are left: template, system prompt, punctuation and the lone space before "Tell".
    left = model.tokenizer.decode(batch.sequence(0))
    assert left == f"<s><|system|>\n{SYSTEM}</s>\n<|user|>\n? .</s>\n<|assistant|>\n"


def test_token_granularity_uses_the_tokenizers_pieces(lm_factory, direct):
    game = lm_factory("llama", features={"granularity": "token", "exclude_punctuation": False}).game({"text": TEXT})
    tokenizer, _ = direct["llama"]
    pieces = [tokenizer.decode([t]).strip() for t in tokenizer(TEXT, add_special_tokens=False)["input_ids"]]
    assert game.players == [p for p in pieces if p]
    assert all(TEXT[s:e] == p for p, (s, e) in zip(game.players, game.spans))


def test_reference_response_from_the_row(lm_factory, direct):
    model = lm_factory("gpt2", value={"kind": "logprob", "response": "reference"})
    game = model.game({"text": TEXT, "reference": " Paris."})
    tokenizer, hf = direct["gpt2"]
    response = tokenizer(" Paris.", add_special_tokens=False)["input_ids"]
    assert game.response == " Paris."
    value = game(np.ones((1, 8), dtype=bool))[0]
    assert value == pytest.approx(hand_logprob(hf, prompt_ids("gpt2", direct, TEXT), response), abs=1e-4)
    with pytest.raises(RowError) as error:
        model.game({"text": TEXT})
    assert error.value.kind == "missing_column"


def test_too_long_prompt_is_a_row_error(lm_factory):
    with pytest.raises(RowError) as error:
        lm_factory("gpt2", features={"max_players": 1000}).game({"text": "word " * 300})
    assert error.value.kind == "too_long"
