"""Load a dataset split with Hugging Face `datasets` and map its columns to the canonical names."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from shapsweep.data.local_files import resolve_data_files
from shapsweep.data.media import MEDIA_COLUMNS
from shapsweep.errors import ConfigError

# Canonical row columns (DESIGN.md): `text` is required unless the rows carry media or a conversation
# (`messages`: a list of {role, content}), the others optional.
CANONICAL = ("row_id", "text", "reference", "spans", "label", "image", "audio", "word_times", "messages")


def load_source(dataset: dict):
    """The split as a `datasets.Dataset` (local files or the hub; the hub honours HF_HUB_OFFLINE)."""
    import datasets

    datasets.disable_progress_bars()  # job logs are read by people, not terminals
    source = dataset["source"]
    try:
        if source == "hub":
            if not dataset.get("repo_id"):
                raise ConfigError("dataset.repo_id: required when dataset.source is 'hub'")
            return datasets.load_dataset(
                dataset["repo_id"],
                dataset.get("subset"),
                split=dataset["split"],
                revision=dataset.get("revision"),
                data_files=dataset.get("data_files"),
            )
        files = [str(p) for p in resolve_data_files(dataset)]
        return datasets.load_dataset(source, data_files={dataset["split"]: files}, split=dataset["split"])
    except ConfigError:
        raise
    except Exception as exc:  # datasets raises many kinds; the user needs to know which block to fix
        raise ConfigError(f"dataset: could not load {source} dataset ({type(exc).__name__}: {exc})") from exc


def column_mapping(dataset: dict, available: list[str] | None = None) -> dict[str, str]:
    """canonical name -> dataset column; `text` maps to `text` unless said otherwise.

    Media columns named `image`/`audio` (and `word_times`, `messages`) map to themselves. Rows with media
    or a conversation need no text: the default `text` mapping is dropped when the dataset has no `text`
    column but has media or `messages`.
    """
    given = dataset.get("columns") or {}
    mapping = {"text": "text"}
    if available is not None:
        mapping.update({c: c for c in (*MEDIA_COLUMNS, "word_times", "messages") if c in available})
        textless = (*MEDIA_COLUMNS, "messages")
        has_media = any(c in given for c in textless) or any(c in available for c in textless)
        if "text" not in available and has_media:
            del mapping["text"]
    mapping.update(given)
    return mapping


def media_folders(dataset: dict) -> list[Path]:
    """Folders relative media paths are read from: the local dataset files' folders (none for the hub)."""
    if dataset["source"] == "hub":
        return []
    folders = []
    for path in resolve_data_files(dataset):
        folder = path.parent.resolve()
        if folder not in folders:
            folders.append(folder)
    return folders


def check_columns(available: list[str], dataset: dict) -> None:
    for canonical, column in column_mapping(dataset, available).items():
        if column not in available:
            where = f"dataset.columns.{canonical}" if canonical in (dataset.get("columns") or {}) else "dataset.columns"
            hint = (
                ""
                if canonical != "text" or "text" in (dataset.get("columns") or {})
                else (" (map it: dataset.columns: {text: '<your text column>'})")
            )
            raise ConfigError(
                f"{where}: column {column!r} for {canonical!r} is not in the dataset "
                f"(available: {', '.join(available)}){hint}"
            )


def to_canonical(table: pl.DataFrame | pl.LazyFrame, dataset: dict) -> pl.DataFrame | pl.LazyFrame:
    """Mapped columns take their canonical names; other columns stay as metadata (lazy frames stay lazy).

    An unmapped column whose name a mapping claims (e.g. a `label` column while label: 'topic')
    is kept as `src_<name>`.
    """
    columns = table.collect_schema().names()
    check_columns(columns, dataset)
    mapping = column_mapping(dataset, columns)
    sources = set(mapping.values())
    clashes = {c: f"src_{c}" for c in columns if c in mapping and mapping[c] != c and c not in sources}
    table = table.rename(clashes)
    # one with_columns reads every source before any is overwritten (so swaps work)
    renamed = [pl.col(column).alias(canonical) for canonical, column in mapping.items() if canonical != column]
    consumed = [c for c in sources if c not in mapping]
    return table.with_columns(renamed).drop(consumed)
