"""The whole experiment-set schema, assembled from the fields each layer declares.

models/config.py declares `model`, `features` and `value`; data/blocks.py `dataset` and `selection`;
this module the blocks that belong to the pipeline itself (`shap`, `resources`, `wandb`, `evaluation`,
`report`, `compare`, the top level, variants and sweep nodes). `build_schema()` is what validation uses;
`config/schema.json` is the same schema written out for editors and readers (`shapsweep schema --write`),
and a test keeps the file equal to it.
"""

from __future__ import annotations

from typing import Any

from shapsweep.data.blocks import DATASET_FIELDS, FILTER_SCHEMA, SELECTION_FIELDS
from shapsweep.estimators import BUDGET_KNOBS, DEFAULT_METHOD, INDICES, INTERACTION_INDICES, METHODS, NORMALIZERS
from shapsweep.fields import NO_DEFAULT, POSITIVE_INT, TEXT, Field, defaults, enum, nullable, object_schema
from shapsweep.models.config import ABLATION_COMPONENTS, ABLATIONS, FEATURES_FIELDS, MODEL_FIELDS, VALUE_KINDS
from shapsweep.training.options import TRAINING_FIELDS

# Methods beside the game estimators (config/methods.py checks them; docs/empirical.md).
INTEGRATED_GRADIENTS = "integrated_gradients"
EMPIRICAL = "empirical"
PATH_KERNEL = "path_kernel"
UPDATE_GAME = "update_game"
ABLATION_GAME = "ablation_game"
TRACE_METHODS = (PATH_KERNEL, UPDATE_GAME)  # methods that explain the set's trace (config/training.py)
# Kinds whose players are model components, valued by a game estimator (`shap.options.estimator`) with the
# input games' estimator settings: budget knobs, index, interactions, target_stderr.
COMPONENT_GAMES = (UPDATE_GAME, ABLATION_GAME)


def game_estimator(shap: dict) -> str | None:
    """The game estimator a run's coalitions go to: its shap.method, or a component game's
    shap.options.estimator; None for the methods that evaluate no coalitions."""
    if shap["method"] in COMPONENT_GAMES:
        return shap["options"]["estimator"]
    return None if shap["method"] in MODEL_METHODS else shap["method"]


def uses_store(shap: dict) -> bool:
    """Whether a run's explain job reads and writes the evaluation store: every run whose coalitions go to a
    game estimator (integrated gradients, empirical explainers and the path kernel evaluate none)."""
    return game_estimator(shap) is not None


def evaluates_every_coalition(shap: dict) -> bool:
    """Exact estimation (of an input or a component game): every coalition of each row's game is stored."""
    return game_estimator(shap) == "exact"


MODEL_METHODS = (INTEGRATED_GRADIENTS, EMPIRICAL, *TRACE_METHODS, ABLATION_GAME)

IG_BASELINES = ("pad", "mask", "zero")
IG_FIELDS = (
    Field("steps", POSITIVE_INT, 50, "Riemann steps of the path integral (shap.batch_size inputs per pass)"),
    Field(
        "baseline",
        enum(IG_BASELINES),
        "pad",
        "player tokens' embedding at the path's start: the pad token's, the mask token's, or zeros",
    ),
)
IG_OPTIONS = defaults(IG_FIELDS)
PATH_KERNEL_COMPONENTS = ("tensor", "layer", "block", "head")
PATH_KERNEL_QUADRATURES = ("midpoint", "gauss_legendre")
PATH_KERNEL_FIELDS = (
    Field(
        "midpoints",
        POSITIVE_INT,
        10,
        "quadrature nodes per update step (midpoint rule: the gap falls ~4x per doubling on a smooth model)",
    ),
    Field(
        "steps",
        {
            "anyOf": [
                {"const": "all"},
                {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2, "maxItems": 2},
            ]
        },
        "all",
        "the updates explained: 'all' recorded, or [s0, s1) (θ_{s0} -> θ_{s1})",
    ),
    Field(
        "components",
        enum(PATH_KERNEL_COMPONENTS),
        "tensor",
        "parameter groups: each tensor, each module (weight + bias), each numbered block, or each attention "
        "head apart from the rest of its block",
    ),
    Field(
        "data",
        TEXT,
        "example",
        "the players: each training example ('example', its text as label) or the groups of a training column",
    ),
    Field("chunk_size", POSITIVE_INT, 16, "rows per batched gradient (memory, not numbers)"),
    Field(
        "quadrature",
        enum(PATH_KERNEL_QUADRATURES),
        "midpoint",
        "the nodes of each update's integral: the midpoint rule, or Gauss-Legendre (far smaller gap on smooth "
        "models at equal count; none better across ReLU kinks)",
    ),
    Field(
        "step_block",
        nullable("integer", minimum=1),
        None,
        "updates per job: a long window is split into blocks explained by separate jobs and summed per shard "
        "(null: one job per shard)",
    ),
)
PATH_KERNEL_OPTIONS = defaults(PATH_KERNEL_FIELDS)
UPDATE_GAME_FIELDS = (
    PATH_KERNEL_FIELDS[1],  # steps
    PATH_KERNEL_FIELDS[2],  # components
    Field(
        "estimator",
        enum(METHODS),
        "exact",
        "the game estimator of the components' values (with shap's budget knob, index, interactions, target_stderr)",
    ),
)
UPDATE_GAME_OPTIONS = defaults(UPDATE_GAME_FIELDS)
ABLATION_GAME_FIELDS = (
    Field(
        "components",
        enum(ABLATION_COMPONENTS),
        "head",
        "the players: each attention head (its slice of the attention output before the output projection), "
        "each attention sublayer, each MLP block, each layer (its attention and MLP together), or every head and "
        "every MLP block in one game",
    ),
    Field(
        "ablation",
        enum(ABLATIONS),
        "zero",
        "what replaces a component outside the coalition: zeros, or its per-position mean over the reference rows",
    ),
    Field(
        "reference_rows",
        POSITIVE_INT,
        8,
        "mean ablation: the first this many rows of the run's dataset selection give the components' means",
    ),
    UPDATE_GAME_FIELDS[2],  # estimator
)
ABLATION_GAME_OPTIONS = defaults(ABLATION_GAME_FIELDS)
EMPIRICAL_TARGET = Field(
    "target", {"type": "string"}, NO_DEFAULT, "the variant name (one run) or run slug whose attributions it learns"
)


INTERACTION_FIELDS = (
    Field("index", enum(INTERACTION_INDICES), "k-SII", "the pairwise interaction index (docs/estimators.md)"),
    Field("order", {"const": 2}, 2, "interaction order (pairs only)"),
    Field("top_k", POSITIVE_INT, 5, "pairs of largest |index| each shard row keeps"),
    Field(
        "full_matrix",
        {"type": "boolean"},
        NO_DEFAULT,  # absent = false; no default keeps the run ids of runs that ask for interactions
        "also write each row's whole players x players matrix (and its standard errors) to a side file beside "
        "the shard, <shard>.interactions.parquet; compare scores the full matrices when both runs have them",
    ),
)

SHAP_FIELDS = (
    Field(
        "method",
        enum((*METHODS, *MODEL_METHODS)),
        DEFAULT_METHOD,
        "the estimator (docs/estimators.md), integrated_gradients / empirical (docs/empirical.md), or "
        "path_kernel / update_game / ablation_game (docs/training.md)",
    ),
    Field("budget", nullable("integer", minimum=1), None, "distinct coalitions per row, empty and full included"),
    Field("num_samples", nullable("integer", minimum=1), None, "MLLM-SHAP's knob: sampled masks (budget - 1)"),
    Field(
        "fraction",
        nullable("number", exclusiveMinimum=0, maximum=1),
        None,
        "MLLM-SHAP's knob: a fraction of the 2^n - 1 masks",
    ),
    Field("linear", nullable("number", exclusiveMinimum=0), None, "MLLM-SHAP's knob: linear * n^2 masks"),
    Field(
        "target_stderr",
        nullable("number", exclusiveMinimum=0),
        NO_DEFAULT,  # absent = null; no default keeps existing run ids (the shap block is hashed)
        "methods that sample in rounds (kernel, leverage, permutation, regression_adjusted): stop once the largest "
        "player's standard error is under this, or the budget is spent",
    ),
    Field(
        "index",
        enum(INDICES),
        NO_DEFAULT,  # absent = the method's own estimand; no default keeps existing run ids
        "the estimand: shapley or banzhaf (absent: the method's own, banzhaf for mc and msr, else shapley)",
    ),
    Field(
        "interactions",
        object_schema(INTERACTION_FIELDS),
        NO_DEFAULT,  # absent = none; no default keeps existing run ids
        "pairwise interaction indices from the values' own coalitions (no extra model cost); top-k pairs per row",
    ),
    Field("normalizer", enum(NORMALIZERS), "abs_sum", "how attribution_normalized is computed from the raw values"),
    Field("batch_size", POSITIVE_INT, 64, "coalitions per game call"),
    Field("seed", {"type": "integer", "minimum": 0}, 0, "estimator seed (each row's seed derives from it and row_id)"),
    Field("options", {"type": "object"}, {}, "the method's own options (docs/estimators.md)"),
)
assert [f.name for f in SHAP_FIELDS[1:5]] == list(BUDGET_KNOBS), "shap's budget fields are the estimators' knobs"

RESOURCES_FIELDS = (
    Field("gpu", {"type": "integer", "minimum": 0}, 0, "GPUs per explain / evaluate job"),
    Field("mem_mb", POSITIVE_INT, 4000, "memory per explain / evaluate job"),
    Field("runtime", POSITIVE_INT, 60, "minutes per explain / evaluate job (times shards_per_job for a block)"),
    Field("threads", POSITIVE_INT, 1, "CPU threads per explain / evaluate job (torch threads)"),
    Field("slurm_partition", nullable("string"), None, "Slurm partition of explain / evaluate jobs"),
    Field("slurm_extra", nullable("string"), None, "extra sbatch flags of explain / evaluate jobs"),
)

WANDB_FIELDS = (
    Field("enabled", {"type": "boolean"}, False, "log each run to Weights & Biases (rule track)"),
    Field("project", TEXT, "shapsweep", "W&B project"),
    Field("entity", nullable("string"), None, "W&B entity (team or user)"),
    Field("mode", enum(("offline", "online", "disabled")), "offline", "offline: files under <set>/wandb/"),
    Field("tags", {"type": "array", "items": {"type": "string"}}, [], "tags of every W&B run"),
)

EVALUATION_FIELDS = (
    Field("enabled", {"type": "boolean"}, False, "faithfulness of every explanation (rule evaluate)"),
    Field(
        "fractions",
        {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}, "minItems": 1},
        [0.1, 0.2, 0.3, 0.4, 0.5],
        "fractions of players removed / kept for AOPC",
    ),
)

REPORT_FIELDS = (
    Field("sort_rows_by", TEXT, "runtime_s", "per-row metric ordering each run page"),
    Field("max_rows", nullable("integer", minimum=1), None, "rows listed per run page (null = all)"),
    Field(
        "row_pages",
        {"type": "integer", "minimum": 0},
        200,
        "a page per dataset row while the set has at most this many rows; above, pages only for the rows "
        "pointed at (per run the best, worst and most off the reference, a seeded sample, and report.rows). "
        "Every row stays in the explorer page, and `shapsweep show` renders any row's page",
    ),
    Field(
        "rows",
        {"type": "array", "items": TEXT},
        [],
        "row ids that always get a page (an id in no shard is an error naming it)",
    ),
)

STORE_FIELDS = (
    Field(
        "enabled",
        {"type": "boolean"},
        True,
        "share model outputs across runs and sets of the same output root (<output_root>/store/); "
        "false: every run calls the model for each of its coalitions",
    ),
)

COMPARE_FIELDS = (Field("top_k", POSITIVE_INT, 3, "k of the top-k share and top-k overlap"),)

# Blocks a run's spec is made of: the top level sets them for every variant, a variant overrides parts.
RUN_BLOCK_FIELDS: dict[str, tuple[Field, ...]] = {
    "model": MODEL_FIELDS,
    "dataset": DATASET_FIELDS,
    "selection": SELECTION_FIELDS,
    "features": FEATURES_FIELDS,
    "shap": SHAP_FIELDS,
    "resources": RESOURCES_FIELDS,
}
SET_BLOCK_FIELDS: dict[str, tuple[Field, ...]] = {
    "wandb": WANDB_FIELDS,
    "evaluation": EVALUATION_FIELDS,
    "report": REPORT_FIELDS,
    "compare": COMPARE_FIELDS,
    "store": STORE_FIELDS,
    "training": TRAINING_FIELDS,  # the set's training, recorded into a trace (docs/training.md)
}

_SWEEP_AXES = {
    "type": "object",
    "additionalProperties": {"type": "array", "minItems": 1},
    "propertyNames": {"pattern": "^[a-z_]+(\\.[A-Za-z0-9_]+)+$|^shard_size$"},
}
_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.+-]*$"}


def value_schema(with_defaults: bool) -> dict[str, Any]:
    """`value`: every field of every kind (unknown names are errors); each kind's fields apply to that kind.

    The kind's default depends on the connector (another block), so the per-kind rules are enforced by
    models.config.resolve_configs; here each field says which kinds take it.
    """
    kinds_of: dict[str, list[str]] = {}
    first: dict[str, Field] = {}
    for connector, kinds in VALUE_KINDS.items():
        for kind, fields in kinds.items():
            for f in fields:
                kinds_of.setdefault(f.name, []).append(f"{connector}/{kind}")
                first.setdefault(f.name, f)
    fields_of_kind = {kind: fields for kinds in VALUE_KINDS.values() for kind, fields in kinds.items()}
    properties: dict[str, Any] = {
        "kind": {
            **enum(fields_of_kind),
            "description": "the value function; default: the connector's first kind ("
            + ", ".join(f"{c}: {next(iter(k))}" for c, k in VALUE_KINDS.items())
            + ")",
        }
    }
    for name, f in first.items():
        schema = {key: v for key, v in f.schema.items() if key != "enum"}
        choices = list(
            dict.fromkeys(
                c
                for kinds in VALUE_KINDS.values()
                for fs in kinds.values()
                for g in fs
                if g.name == name
                for c in g.choices
            )
        )
        if choices:
            schema["enum"] = choices
        properties[name] = {**schema, "description": f"{f.description} [{', '.join(kinds_of[name])}]"}
    by_kind = [
        {
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": object_schema((Field("kind", {"const": kind}), *fields), with_defaults=with_defaults),
        }
        for kind, fields in fields_of_kind.items()
    ]
    return {
        "type": "object",
        "description": "the value function of a coalition; fields by connector/kind (docs/config.md)",
        "additionalProperties": False,
        "properties": properties,
        "allOf": by_kind,
    }


def _block(name: str, fields: tuple[Field, ...], with_defaults: bool) -> dict[str, Any]:
    return object_schema(fields, with_defaults=with_defaults)


def _sweep_node(variant: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {b: {"$ref": f"#/$defs/{b}_override"} for b in (*RUN_BLOCK_FIELDS, "value")}
    properties["shard_size"] = POSITIVE_INT
    properties["grid"] = _SWEEP_AXES
    properties["zip"] = _SWEEP_AXES
    properties["group"] = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/sweep_node"}}
    properties["name"] = {**_NAME, "description": "readable start of each run's slug"} if variant else _NAME
    if variant:
        properties["reference"] = {
            "type": "boolean",
            "default": False,
            "description": "other runs are compared against this one",
        }
        properties["description"] = {"type": "string"}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": ["name"] if variant else [],
    }


def build_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a rendered experiment set, defaults included."""
    defs: dict[str, Any] = {}
    for name, fields in {**RUN_BLOCK_FIELDS, **SET_BLOCK_FIELDS}.items():
        defs[name] = _block(name, fields, with_defaults=True)
    defs["value"] = value_schema(with_defaults=True)
    defs["filter"] = FILTER_SCHEMA
    defs["sweep_node"] = _sweep_node(variant=False)
    defs["variant"] = _sweep_node(variant=True)
    for name, fields in RUN_BLOCK_FIELDS.items():
        defs[f"{name}_override"] = _block(name, fields, with_defaults=False)
    defs["value_override"] = value_schema(with_defaults=False)

    properties: dict[str, Any] = {
        "experiment_set_id": {
            **_NAME,
            "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$",
            "description": "the set's name: its outputs go to <output_root>/<experiment_set_id>/",
        },
        "output_root": {**TEXT, "default": "results", "description": "folder of every set's outputs"},
        "shard_size": {**POSITIVE_INT, "default": 8, "description": "rows per shard (one explain job each)"},
        "shards_per_job": {
            "description": "Shards one explain job explains with the model loaded once (rules/explain_blocks.smk). "
            "A block is a shard-id prefix, so 1, 10 or 100. Not hashed: changing it never re-runs finished shards' numbers.",
            "enum": [1, 10, 100],
            "default": 1,
        },
    }
    for name in (*RUN_BLOCK_FIELDS, "value", *SET_BLOCK_FIELDS):
        properties[name] = {"$ref": f"#/$defs/{name}", "default": {}}
    properties["experiments"] = {
        "type": "array",
        "minItems": 1,
        "items": {"$ref": "#/$defs/variant"},
        "description": "the variants; each expands by its grid / zip / group into concrete runs",
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://shapsweep.invalid/config.schema.json",
        "title": "shapsweep experiment set",
        "description": "A rendered config/*.jsonnet experiment set. Defaults are filled from the `default` keywords. "
        "Generated by `shapsweep schema --write` from the fields each layer declares; do not edit by hand.",
        "type": "object",
        "additionalProperties": False,
        "required": ["experiment_set_id", "experiments"],
        "properties": properties,
        "$defs": defs,
    }
