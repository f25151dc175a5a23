"""The `dataset` and `selection` blocks of an experiment set: their fields, declared once.

config/schema.json and docs/config.md are generated from these (`shapsweep schema`); the loading and
selection code reads the filled blocks.
"""

from __future__ import annotations

from shapsweep.fields import NO_DEFAULT, POSITIVE_INT, TEXT, Field, enum, nullable, object_schema

SOURCES = ("hub", "parquet", "json", "csv")
FILTER_OPS = (
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "in",
    "not_in",
    "contains",
    "min_length",
    "max_length",
    "min_words",
    "max_words",
)

_DATA_FILES = {
    "anyOf": [
        {"type": "null"},
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        {
            "type": "object",
            "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        },
    ]
}

DATASET_FIELDS = (
    Field("source", enum(SOURCES), "json", "hub (datasets.load_dataset of repo_id) or a local file format"),
    Field("repo_id", nullable("string"), None, "source 'hub': the dataset's hub id"),
    Field("subset", nullable("string"), None, "source 'hub': the configuration (subset) name"),
    Field("split", TEXT, "train", "the split to read"),
    Field("revision", nullable("string"), None, "source 'hub': branch, tag or commit"),
    Field(
        "data_files",
        _DATA_FILES,
        None,
        "local files (a path or glob, a list, or {split: paths}); relative paths are read from the working directory",
    ),
    Field(
        "columns",
        {
            "type": "object",
            "additionalProperties": {"type": "string", "minLength": 1},
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        },
        {},
        "canonical name -> the dataset's column (text, row_id, reference, spans, label, or any extra)",
    ),
)

FILTER_FIELDS = (
    Field("column", TEXT, description="a column of the dataset (after the columns mapping)"),
    Field(
        "op",
        enum(FILTER_OPS),
        description="comparison; min_length/max_length count characters, min_words/max_words whitespace-separated "
        "words (bounds on a text's length in words, the players of word granularity)",
    ),
    Field("value", {}, description="the value compared with (a list for in / not_in)"),
)
FILTER_SCHEMA = object_schema(FILTER_FIELDS, required=("column", "op", "value"))

BALANCE_FIELDS = (
    Field(
        "by",
        TEXT,
        description="a column (after the columns mapping) whose values are the buckets, or '#words' for the "
        "text's word count",
    ),
    Field("per_bucket", POSITIVE_INT, description="rows kept per bucket: the first in selection order"),
)

SELECTION_FIELDS = (
    Field("start_index", {"type": "integer", "minimum": 0}, 0, "rows before this index of the split are skipped"),
    Field(
        "max_samples",
        nullable("integer", minimum=1),
        None,
        "rows explained (the first after filters and shuffle); null = all; required for hub datasets",
    ),
    Field(
        "shuffle_seed",
        nullable("integer", minimum=0),
        None,
        "seeded shuffle of the whole selection before max_samples; null keeps the split's order",
    ),
    Field("filters", {"type": "array", "items": {"$ref": "#/$defs/filter"}}, [], "row filters, all must hold"),
    # No default: a selection without it hashes (data id, run ids) as it did before balance existed.
    Field(
        "balance",
        object_schema(BALANCE_FIELDS, required=("by", "per_bucket")),
        NO_DEFAULT,
        "equal rows per bucket: after filters and shuffle, the first per_bucket rows of each bucket (a bucket "
        "with fewer keeps all it has), in selection order, before max_samples",
    ),
    Field("min_players", nullable("integer", minimum=0), None, "rows with fewer players are skipped (status skipped)"),
    Field("max_players", nullable("integer", minimum=1), None, "rows with more players are skipped (status skipped)"),
)
