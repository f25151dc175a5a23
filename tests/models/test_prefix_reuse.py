"""KV-prefix reuse in hf_causal_lm: the cached path equals full forward passes (tiny Llama and GPT-2)."""

import numpy as np
import pytest
import torch

from shapsweep.models import load_model
from shapsweep.models.game import Usage
from shapsweep.models.prefix_cache import shared_prefix_length

TEXT = "What is the capital of France? Tell me."
OTHER = "Tell me a short story about a cat."
SYSTEM = "Be brief. Answer in one short sentence and say nothing else."


@pytest.fixture(scope="module")
def paths(tiny_llama_path, tiny_gpt2_path):
    return {"llama": tiny_llama_path, "gpt2": tiny_gpt2_path}


def _model(paths, arch, system, masking):
    """The tiny model with its matrices redrawn at a larger scale: the saved init (std 0.02) answers
    every prompt with the same greedy tokens, which would hide a wrong position or mask in generation."""
    cfg = {"connector": "hf_causal_lm", "path_or_id": paths[arch], "device": "cpu", "max_new_tokens": 6}
    model = load_model({**cfg, "system_prompt": system}, {"masking": masking}, {"kind": "logprob"})
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for weight in model.model.parameters():
            if weight.dim() == 2:
                weight.copy_(torch.randn(weight.shape, generator=generator) * 0.1)
    return model


def _both(model, call):
    """call() with prefix reuse, then without; the model is left with reuse on."""
    model.reuse_prefix = True
    cached = call()
    model.reuse_prefix = False
    try:
        plain = call()
    finally:
        model.reuse_prefix = True
    return cached, plain


# llama renders its chat template (BOS, system turn, user header); gpt2 has no template (BOS, or the
# system prompt as plain text). remove pads the batch on the left (lengths differ); attention leaves holes.
@pytest.mark.parametrize("masking", ["remove", "mask_token", "attention"])
@pytest.mark.parametrize("system", [None, SYSTEM])
@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_reuse_equals_full_forward(paths, arch, system, masking):
    model = _model(paths, arch, system, masking)
    tokenized = model.tokenize({"text": TEXT}, model.max_new_tokens)
    prefix_length = shared_prefix_length(tokenized.owners)
    # llama: <s><|user|>\n at least; gpt2: BOS at least; a system prompt adds its tokens.
    assert prefix_length >= {"llama": 3, "gpt2": 1}[arch] + (8 if system else 0)
    coalitions = np.random.default_rng(7).random((12, tokenized.n_players)) < 0.5
    coalitions[0], coalitions[1] = True, False  # the full and the empty prompt: widest and narrowest
    response = torch.tensor(model.greedy(tokenized, coalitions[:1], Usage())[0])

    cached_usage, plain_usage = Usage(), Usage()
    cached, plain = _both(
        model,
        lambda: model.teacher_forced_logprob(
            tokenized, response, coalitions, cached_usage if model.reuse_prefix else plain_usage
        ),
    )
    np.testing.assert_allclose(cached, plain, atol=1e-4)
    assert np.all(np.isfinite(cached)) and np.ptp(cached) > 0  # coalitions really differ
    # The prefix ran once (it was cached above, by greedy); every coalition ran only the rest.
    assert plain_usage.tokens - cached_usage.tokens == len(coalitions) * prefix_length

    cached_tokens, plain_tokens = _both(model, lambda: model.greedy(tokenized, coalitions, Usage()))
    assert cached_tokens == plain_tokens
    assert len({tuple(t) for t in plain_tokens}) > 1  # not one response for every prompt


def test_one_prefix_cache_serves_every_row_of_a_job(paths):
    model = _model(paths, "llama", SYSTEM, "remove")
    values = {}
    for text in (TEXT, OTHER):
        coalitions = np.random.default_rng(1).random((6, 8)) < 0.5
        values[text] = _both(model, lambda text=text, coalitions=coalitions: model.game({"text": text})(coalitions))
    for cached, plain in values.values():
        np.testing.assert_allclose(cached, plain, atol=1e-4)
    assert len(model.prefix_caches._caches) == 1  # template + system prompt are the same tokens in both rows


def test_shared_prefix_leaves_one_token_to_run():
    assert shared_prefix_length(np.array([-1, -1, -1, 0, 0, 1, -1])) == 3
    assert shared_prefix_length(np.array([0, 1, -1])) == 0  # no prefix: nothing to reuse
    assert shared_prefix_length(np.array([-1, -1, -1])) == 2  # the last token predicts the response
