"""Data id: what makes two runs read the same rows (dataset identity + selection, not max_samples)."""

from __future__ import annotations

from shapsweep.data.local_files import file_fingerprint, resolve_data_files
from shapsweep.hashing import readable, short_hash


def data_fingerprint(dataset: dict) -> list[str]:
    """Content (or size+mtime) fingerprints of local files; hub datasets are pinned by `revision`."""
    if dataset["source"] == "hub":
        return []
    return [f"{path.name}={file_fingerprint(path)}" for path in resolve_data_files(dataset)]


def data_id(dataset: dict, selection: dict) -> str:
    """`<name>-<hash>`; the hash covers the dataset block, file fingerprints and the selection minus
    `max_samples` (raising it appends rows in the same order, see data.selection)."""
    kept = {k: v for k, v in selection.items() if k != "max_samples"}
    digest = short_hash({"dataset": dataset, "fingerprint": data_fingerprint(dataset), "selection": kept})
    if dataset["source"] == "hub":
        name = dataset["repo_id"] or "hub"
        name = name.rsplit("/", 1)[-1]
    else:
        patterns = dataset.get("data_files")
        first = patterns if isinstance(patterns, str) else "files"
        name = first.rsplit("/", 1)[-1].split(".")[0]
    return f"{readable(name)}-{digest}"
