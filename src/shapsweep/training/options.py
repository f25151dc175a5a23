"""The `training` block of an experiment set: the training the pipeline records into a trace, declared once.

No torch here: the config fills and checks the block at parse time and hashes the filled result into the
trace id, so a changed option re-traces (and re-explains what reads the trace) and a default left implicit
does not. `trace` points at a trace a user recorded instead (`training.recorder`); then nothing is trained.
"""

from __future__ import annotations

from typing import Any

from shapsweep.data.blocks import DATASET_FIELDS, SELECTION_FIELDS
from shapsweep.fields import POSITIVE_INT, TEXT, Field, enum, nullable, object_schema

KINDS = ("hf_classifier", "hf_causal_lm")  # the connectors whose models the pipeline can train
LOSSES = {"hf_classifier": "cross_entropy", "hf_causal_lm": "next_token"}
_WINDOW = {
    "anyOf": [
        {"type": "null"},
        {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2, "maxItems": 2},
    ]
}

TRAINING_MODEL_FIELDS = (
    Field("connector", enum(KINDS), "hf_classifier", "what is trained: a sequence classifier or a causal LM"),
    Field("path_or_id", TEXT, description="the model before training: a folder, hub id or package:<module>"),
)

TRAINING_FIELDS = (
    Field(
        "trace",
        nullable("string", minLength=1),
        None,
        "a trace folder recorded by your own loop (training.recorder); the other fields are then not used",
    ),
    Field(
        "model",
        {"anyOf": [{"type": "null"}, object_schema(TRAINING_MODEL_FIELDS, required=("path_or_id",))]},
        None,
        "the model to train (connector, path_or_id); path_kernel runs explain this model's training",
    ),
    Field("dataset", object_schema(DATASET_FIELDS), {}, "the training rows' dataset (as the top-level `dataset`)"),
    Field("selection", object_schema(SELECTION_FIELDS), {}, "which training rows (as the top-level `selection`)"),
    Field(
        "target",
        TEXT,
        "label",
        "the training rows' target column (after dataset.columns): a class index, or a causal LM's target text",
    ),
    Field(
        "loss",
        {"enum": [None, *LOSSES.values()]},
        None,
        "cross_entropy (classifier) or next_token (causal LM, mean over the target's tokens); null: the connector's",
    ),
    Field("lr", {"type": "number", "exclusiveMinimum": 0}, 1e-3, "AdamW learning rate (the schedule's peak)"),
    Field(
        "betas",
        {
            "type": "array",
            "items": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
            "minItems": 2,
            "maxItems": 2,
        },
        [0.9, 0.999],
        "AdamW betas",
    ),
    Field("eps", {"type": "number", "exclusiveMinimum": 0}, 1e-8, "AdamW eps"),
    Field("weight_decay", {"type": "number", "minimum": 0}, 0.01, "AdamW (decoupled) weight decay"),
    Field("schedule", TEXT, "constant", "a transformers.get_scheduler name: constant, linear, cosine, ..."),
    Field("warmup_steps", {"type": "integer", "minimum": 0}, 0, "warmup updates of the schedule"),
    Field("batch_size", POSITIVE_INT, 8, "training rows per update (the loss is their mean)"),
    Field("steps", nullable("integer", minimum=1), None, "updates; null: `epochs` passes over the rows"),
    Field("epochs", nullable("integer", minimum=1), None, "passes over the training rows when `steps` is null"),
    Field("shuffle", {"type": "boolean"}, True, "a seeded permutation of the rows per epoch"),
    Field("seed", {"type": "integer", "minimum": 0}, 0, "the batch order's seed"),
    Field("trainable", nullable("string", minLength=1), None, "a regex on parameter names; null trains all"),
    Field("window", _WINDOW, None, "[s0, s1): the updates recorded; null records all"),
)


def check_training(block: dict[str, Any]) -> None:
    """Raise a ValueError naming the `training.<field>` when a filled block cannot train."""
    if block["trace"] is not None:
        return
    if block["model"] is None:
        return  # no training in this set
    connector = block["model"].get("connector", "hf_classifier")
    if block["loss"] is not None and block["loss"] != LOSSES[connector]:
        raise ValueError(
            f"training.loss: {block['loss']!r} does not train a {connector}; use {LOSSES[connector]!r} or null"
        )
    if block["steps"] is None and block["epochs"] is None:
        raise ValueError("training.steps: set `steps` (updates) or `epochs` (passes over the training rows)")
    window = block["window"]
    if window is not None and not window[0] < window[1]:
        raise ValueError(f"training.window: [{window[0]}, {window[1]}] is empty; give [s0, s1] with s0 < s1")
    if window is not None and block["steps"] is not None and window[1] > block["steps"]:
        raise ValueError(f"training.window: ends at {window[1]}, after the {block['steps']} training steps")
