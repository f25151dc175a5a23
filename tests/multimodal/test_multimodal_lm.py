"""hf_multimodal_lm on a tiny LLaVA and a tiny Qwen2-Audio: exact Shapley values of mixed text+image and
text+audio games equal brute force computed directly with transformers, one unbatched call per masked
prompt built by hand (chat template, masked words, masked pixels or samples)."""

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.signal import resample_poly
from transformers import AutoModelForImageTextToText, AutoProcessor, Qwen2AudioForConditionalGeneration

from multimodal.conftest import all_coalitions, brute_force_shapley
from shapsweep.estimators import estimate
from shapsweep.models import load_model

WORDS = ["describe", "the", "cat"]


def connector(path, modalities, block, value, **model):
    media = modalities[-1]
    return load_model(
        {
            "connector": "hf_multimodal_lm",
            "path_or_id": path,
            "device": "cpu",
            "batch_size": 16,
            "max_new_tokens": 4,
            **model,
        },
        {"modalities": modalities, media: block},
        value,
    )


def user_turn(processor, item, text):
    messages = [{"role": "user", "content": [item, {"type": "text", "text": text}]}]
    return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def logprob_of(model, inputs, response):
    ids = torch.cat([inputs.pop("input_ids")[0], torch.tensor(response)])[None]
    inputs.pop("attention_mask")  # one unpadded sequence: everything attends
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids), **inputs).logits[0].double()
    start = ids.shape[1] - len(response) - 1
    logp = torch.log_softmax(logits[start : start + len(response)], -1)
    return float(logp[torch.arange(len(response)), torch.tensor(response)].sum())


def test_text_and_image_logprob_equals_brute_force(tiny_llava_path, media_dir):
    game = connector(tiny_llava_path, ["text", "image"], {"grid": [1, 2]}, {"kind": "logprob"}).game(
        {"text": " ".join(WORDS), "image": str(media_dir / "chelsea.png")}
    )
    assert game.players == [*WORDS, "patch(0,0)", "patch(0,1)"]
    assert game.spans[:3] == [(0, 8), (9, 12), (13, 16)] and game.regions[3] == [0.0, 0.0, 300.0, 225.0]
    result = estimate(game, 5, method="exact")

    processor = AutoProcessor.from_pretrained(tiny_llava_path)
    model = AutoModelForImageTextToText.from_pretrained(tiny_llava_path).eval()
    pixels = np.asarray(Image.open(media_dir / "chelsea.png").convert("RGB"))

    def value(coalition):
        text = " ".join(w for i, w in enumerate(WORDS) if i in coalition)
        image = np.zeros_like(pixels)
        for k in (3, 4):
            if k in coalition:
                cols = slice((k - 3) * 451 // 2, (k - 2) * 451 // 2)
                image[:, cols] = pixels[:, cols]
        prompt = user_turn(processor, {"type": "image"}, text)
        inputs = processor(text=prompt, images=image, return_tensors="pt", add_special_tokens=False)
        return logprob_of(model, dict(inputs), game.response_ids)

    expected = brute_force_shapley({s: value(s) for s in all_coalitions(5)}, 5)
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(result.values, expected, rtol=1e-4, atol=1e-5)


def test_text_and_audio_logprob_equals_brute_force(tiny_qwen2_audio_path, media_dir):
    game = connector(tiny_qwen2_audio_path, ["text", "audio"], {"window_ms": 700}, {"kind": "logprob"}).game(
        {"text": "what words", "audio": str(media_dir / "speech.flac")}
    )
    n = game.n_players
    assert game.players[:2] == ["what", "words"] and game.players[2] == "t=0.00-0.70s" and n <= 6
    result = estimate(game, n, method="exact")

    processor = AutoProcessor.from_pretrained(tiny_qwen2_audio_path)
    model = Qwen2AudioForConditionalGeneration.from_pretrained(tiny_qwen2_audio_path).eval()
    import soundfile

    samples, rate = soundfile.read(media_dir / "speech.flac", dtype="float32")
    assert rate == 8000
    clip = resample_poly(samples.mean(axis=1), 2, 1).astype(np.float32)  # 8 kHz -> 16 kHz
    width = 11200  # 700 ms

    def value(coalition):
        text = " ".join(w for i, w in enumerate(["what", "words"]) if i in coalition)
        masked = np.zeros_like(clip)
        for k in range(n - 2):
            if k + 2 in coalition:
                masked[k * width : (k + 1) * width] = clip[k * width : (k + 1) * width]
        prompt = user_turn(processor, {"type": "audio", "audio_url": "x"}, text)
        inputs = processor(
            text=prompt, audio=masked, sampling_rate=16000, return_tensors="pt", add_special_tokens=False
        )
        return logprob_of(model, dict(inputs), game.response_ids)

    expected = brute_force_shapley({s: value(s) for s in all_coalitions(n)}, n)
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(result.values, expected, rtol=1e-4, atol=1e-5)


def test_image_generate_similarity_equals_brute_force(tiny_llava_path, media_dir):
    value = {"kind": "generate_similarity", "embedding": "static", "reducer": "mean", "similarity": "cosine"}
    game = connector(tiny_llava_path, ["image"], {"grid": [1, 3], "baseline": "mean"}, value).game(
        {"text": "what is it", "image": str(media_dir / "coffee.jpg")}
    )
    assert game.players == ["patch(0,0)", "patch(0,1)", "patch(0,2)"] and game.spans is None
    result = estimate(game, 3, method="exact")

    processor = AutoProcessor.from_pretrained(tiny_llava_path)
    model = AutoModelForImageTextToText.from_pretrained(tiny_llava_path).eval()
    pixels = np.asarray(Image.open(media_dir / "coffee.jpg").convert("RGB"))
    mean = np.round(pixels.reshape(-1, 3).mean(0)).astype(np.uint8)
    embeddings = model.get_input_embeddings().weight.detach().double()
    special = set(processor.tokenizer.all_special_ids)
    prompt = user_turn(processor, {"type": "image"}, "what is it")

    def embed(coalition):
        image = np.broadcast_to(mean, pixels.shape).copy()
        for k in coalition:
            cols = slice(k * 600 // 3, (k + 1) * 600 // 3)
            image[:, cols] = pixels[:, cols]
        inputs = processor(text=prompt, images=image, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(
                **inputs, max_new_tokens=4, do_sample=False, pad_token_id=processor.tokenizer.pad_token_id
            )
        tokens = [t for t in out[0, inputs["input_ids"].shape[1] :].tolist() if t not in special]
        return embeddings[tokens].mean(0) if tokens else torch.zeros(embeddings.shape[1], dtype=torch.float64)

    target = embed(frozenset(range(3)))

    def cosine(v):
        norm = float(v.norm() * target.norm())
        return float(v @ target) / norm if norm else 0.0

    expected = brute_force_shapley({s: cosine(embed(s)) for s in all_coalitions(3)}, 3)
    assert np.abs(expected).max() > 1e-3  # some patch changes what is generated
    np.testing.assert_allclose(result.values, expected, rtol=1e-6, atol=1e-9)
    assert game.response == processor.tokenizer.decode(game.response_ids, skip_special_tokens=True)


def test_config_rejects_what_the_connector_cannot_do():
    from shapsweep.models.config import resolve_configs

    with pytest.raises(ValueError, match=r"features\.masking: hf_multimodal_lm removes"):
        resolve_configs({"connector": "hf_multimodal_lm"}, {"modalities": ["image"], "masking": "attention"}, None)
    with pytest.raises(ValueError, match="connector 'hf_multimodal_lm' takes"):
        resolve_configs({"connector": "hf_multimodal_lm"}, None, None)
    model, features, value = resolve_configs(
        {"connector": "hf_multimodal_lm", "system_prompt": "be brief"}, {"modalities": ["text", "audio"]}, None
    )
    assert (
        model["system_prompt"] == "be brief"
        and value["kind"] == "logprob"
        and features["audio"]["players"] == "windows"
    )


def test_conversation_with_an_image_equals_brute_force(tiny_llava_path, media_dir):
    """A `messages` row whose first user turn holds the image: players from both user turns and the image,
    the assistant turn whole; every coalition's prompt is the whole conversation through the template."""
    lm = load_model(
        {"connector": "hf_multimodal_lm", "path_or_id": tiny_llava_path, "device": "cpu", "batch_size": 16},
        {"modalities": ["text", "image"], "image": {"grid": [1, 2]}, "players_from": "user"},
        {"kind": "logprob", "response": "reference"},
    )
    image_file = str(media_dir / "chelsea.png")
    turns = [["describe", "the", "cat"], ["what", "colour"]]
    messages = [
        {
            "role": "user",
            "content": [{"type": "image", "image": image_file}, {"type": "text", "text": "describe the cat"}],
        },
        {"role": "assistant", "content": "a cat"},
        {"role": "user", "content": "what colour"},
        {"role": "assistant", "content": "orange"},
    ]
    game = lm.game({"row_id": "c", "messages": messages})
    assert game.players == [*turns[0], *turns[1], "patch(0,0)", "patch(0,1)"]
    assert game.spans[3] == (len("describe the cat\n\na cat\n\n"), len("describe the cat\n\na cat\n\nwhat"))
    assert game.response == "orange"
    result = estimate(game, 7, method="exact")

    processor = AutoProcessor.from_pretrained(tiny_llava_path)
    model = AutoModelForImageTextToText.from_pretrained(tiny_llava_path).eval()
    pixels = np.asarray(Image.open(image_file).convert("RGB"))

    def value(coalition):
        first = " ".join(w for i, w in enumerate(turns[0]) if i in coalition)
        second = " ".join(w for i, w in enumerate(turns[1]) if i + 3 in coalition)
        patches = [k - 5 for k in (5, 6) if k in coalition]
        return _two_turn_logprob(processor, model, pixels, patches, first, second, game.response_ids)

    expected = brute_force_shapley({s: value(s) for s in all_coalitions(7)}, 7)
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(result.values, expected, rtol=1e-4, atol=1e-5)


def _two_turn_logprob(processor, model, pixels, patches, first, second, response_ids):
    """The reply's log-probability after [user: image + first, assistant: 'a cat', user: second], with only
    the image's 1x2 patches listed in `patches` kept (the rest black), computed directly with transformers."""
    image = np.zeros_like(pixels)
    for k in patches:
        cols = slice(k * 451 // 2, (k + 1) * 451 // 2)
        image[:, cols] = pixels[:, cols]
    conversation = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": first}]},
        {"role": "assistant", "content": [{"type": "text", "text": "a cat"}]},
        {"role": "user", "content": [{"type": "text", "text": second}]},
    ]
    prompt = processor.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    inputs = processor(text=prompt, images=image, return_tensors="pt", add_special_tokens=False)
    return logprob_of(model, dict(inputs), response_ids)


def test_conversation_spans_players_equal_brute_force(tiny_llava_path, media_dir):
    """`spans` players in a conversation: the row's spans index the conversation text (turns joined by a
    blank line), each inside a turn `features.players_from` names; a coalition removes the absent spans from
    their turns and the image's absent patches. Values equal a direct recomputation."""
    from shapsweep.errors import RowError
    from shapsweep.features.conversation import conversation_text, row_conversation

    lm = load_model(
        {"connector": "hf_multimodal_lm", "path_or_id": tiny_llava_path, "device": "cpu", "batch_size": 16},
        {"modalities": ["text", "image"], "image": {"grid": [1, 2]}, "players_from": "user", "granularity": "spans"},
        {"kind": "logprob", "response": "reference"},
    )
    image_file = str(media_dir / "chelsea.png")
    messages = [
        {
            "role": "user",
            "content": [{"type": "image", "image": image_file}, {"type": "text", "text": "describe the cat"}],
        },
        {"role": "assistant", "content": "a cat"},
        {"role": "user", "content": "what colour is it"},
        {"role": "assistant", "content": "orange"},
    ]
    text, _ = conversation_text(row_conversation({"messages": messages}, ("image",))[0])
    wanted = ["the cat", "what colour"]
    spans = [(text.index(w), text.index(w) + len(w)) for w in wanted]
    game = lm.game({"row_id": "c", "messages": messages, "spans": spans})
    assert game.players == [*wanted, "patch(0,0)", "patch(0,1)"]
    assert game.spans[:2] == spans
    result = estimate(game, 4, method="exact")

    processor = AutoProcessor.from_pretrained(tiny_llava_path)
    model = AutoModelForImageTextToText.from_pretrained(tiny_llava_path).eval()
    pixels = np.asarray(Image.open(image_file).convert("RGB"))

    def value(coalition):
        first = "describe the cat" if 0 in coalition else "describe"
        second = "what colour is it" if 1 in coalition else "is it"
        patches = [k - 2 for k in (2, 3) if k in coalition]
        return _two_turn_logprob(processor, model, pixels, patches, first, second, game.response_ids)

    expected = brute_force_shapley({s: value(s) for s in all_coalitions(4)}, 4)
    assert np.abs(expected[:2]).max() > 1e-3
    np.testing.assert_allclose(result.values, expected, rtol=1e-4, atol=1e-5)

    # a span in the assistant's turn (never a player) and a row without spans are refused by name
    reply_span = [(text.index("a cat"), text.index("a cat") + 5)]
    with pytest.raises(RowError, match=r"spans\[0\] = \[\d+, \d+\) is not inside one of the turns"):
        lm.game({"row_id": "c", "messages": messages, "spans": reply_span})
    with pytest.raises(RowError, match="needs a `spans` column"):
        lm.game({"row_id": "c", "messages": messages})
