"""The openai_compatible block: its fields are filled only for it, and what it cannot do is refused by name."""

import re

import pytest

from shapsweep.models.config import resolve_configs


def served(tokenizer, **extra):
    return {
        "connector": "openai_compatible",
        "path_or_id": tokenizer,
        "base_url": "http://127.0.0.1:9",
        "model": "m",
    } | extra


def test_served_fields_are_filled_for_the_served_connector_only(tiny_llama_path):
    model, _, value = resolve_configs(served(tiny_llama_path), {}, {})
    assert (model["concurrency"], model["max_retries"], model["api_key_env"], model["request_options"]) == (
        8,
        4,
        None,
        {},
    )
    assert value["kind"] == "logprob"
    local, _, _ = resolve_configs({"connector": "hf_causal_lm", "path_or_id": tiny_llama_path}, {}, {})
    assert not {"base_url", "model", "concurrency", "api_key_env"} & set(local)  # in-process run ids unchanged


@pytest.mark.parametrize(
    ("model_extra", "features", "value", "message"),
    [
        ({"base_url": None}, {}, {}, "model.base_url: expected a non-empty string"),
        ({"base_url": "127.0.0.1:8000"}, {}, {}, "model.base_url: expected an http:// or https:// address"),
        ({"concurrency": 0}, {}, {}, "model.concurrency"),
        ({}, {"masking": "attention"}, {}, "features.masking: a served model takes text prompts"),
        (
            {},
            {},
            {"kind": "generate_similarity", "similarity": "bertscore"},
            "value.similarity (connector openai_compatible)",
        ),
    ],
)
def test_what_a_served_model_cannot_do_is_refused_by_field(tiny_llama_path, model_extra, features, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        resolve_configs(served(tiny_llama_path, **model_extra), features, value)


def test_served_fields_on_another_connector_and_a_missing_tokenizer_are_refused(tiny_llama_path):
    with pytest.raises(ValueError, match=r"model\.base_url: only the openai_compatible connector takes it"):
        resolve_configs({"connector": "hf_causal_lm", "path_or_id": tiny_llama_path, "base_url": "http://x"}, {}, {})
    with pytest.raises(ValueError, match=r"model\.path_or_id: openai_compatible needs the served model's tokenizer"):
        resolve_configs({"connector": "openai_compatible", "base_url": "http://127.0.0.1:9", "model": "m"}, {}, {})
