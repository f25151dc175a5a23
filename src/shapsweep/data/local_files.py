"""The local files behind a parquet | json | csv dataset block: resolution, fingerprint, cheap row counts."""

from __future__ import annotations

import functools
import glob
import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq

from shapsweep.errors import ConfigError

# Files up to this size are fingerprinted by content, bigger ones by size and mtime (hashing
# gigabytes at every Snakemake parse would be too slow).
CONTENT_HASH_LIMIT = 64 * 2**20


def data_file_patterns(dataset: dict) -> list[str]:
    files = dataset.get("data_files")
    if files is None:
        return []
    if isinstance(files, str):
        return [files]
    if isinstance(files, list):
        return list(files)
    split = dataset["split"]
    chosen = files.get(split)
    if chosen is None:
        raise ConfigError(f"dataset.data_files: no entry for split {split!r} (have: {', '.join(files)})")
    return [chosen] if isinstance(chosen, str) else list(chosen)


def resolve_data_files(dataset: dict) -> list[Path]:
    """Local files of the split, sorted within each pattern; a pattern matching nothing is an error."""
    patterns = data_file_patterns(dataset)
    if not patterns:
        raise ConfigError(f"dataset.data_files: required for source {dataset['source']!r} (a path or glob)")
    paths: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True))
        if not matches:
            raise ConfigError(
                f"dataset.data_files: {pattern!r} matches no file (relative paths are read from the "
                f"working directory {Path.cwd()})"
            )
        paths += [Path(m) for m in matches]
    return paths


def file_fingerprint(path: Path) -> str:
    stat = path.stat()
    if stat.st_size > CONTENT_HASH_LIMIT:
        return f"size:{stat.st_size}:mtime_ns:{stat.st_mtime_ns}"
    return _content_hash(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _content_hash(path: str, size: int, mtime_ns: int) -> str:
    """Hashed once per process for each (file, size, mtime): every run of a sweep asks again."""
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def count_rows(source: str, paths: list[Path]) -> int | None:
    """Rows in the files without loading them (Parquet metadata, CSV scan, JSON Lines lines); None if unknown."""
    total = 0
    for path in paths:
        if source == "parquet":
            total += pq.ParquetFile(path).metadata.num_rows
        elif source == "csv":
            import polars as pl  # a streaming count that understands quoted newlines

            total += pl.scan_csv(path).select(pl.len()).collect().item()
        elif source == "json" and path.suffix in (".jsonl", ".ndjson"):
            with path.open("rb") as fh:
                total += sum(1 for line in fh if line.strip())
        else:
            return None
    return total


def peek_columns(source: str, paths: list[Path]) -> list[str] | None:
    """Column names from the first file's schema, header or first line; None if not cheap to know."""
    path = paths[0]
    if source == "parquet":
        return pq.read_schema(path).names
    if source == "csv":
        import polars as pl

        return pl.scan_csv(path).collect_schema().names()
    if source == "json" and path.suffix in (".jsonl", ".ndjson"):
        with path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    record = json.loads(line)
                    return list(record) if isinstance(record, dict) else None
    return None
