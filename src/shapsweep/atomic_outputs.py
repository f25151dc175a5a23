"""Outputs appear whole or not at all: write to a temp file in the same folder, then rename.

The temp file is made by `mkstemp` (mode 0600, so no other process can open it half-written); before the
rename it gets the mode a plain `open()` would have given under the current umask, so a report, a shard or
an export stays readable by the collaborators, group folders and web servers the umask allows.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _current_umask() -> int:
    """The process umask (read by setting it and putting it back: POSIX offers no read-only call)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _plain_open_mode() -> int:
    """The permission bits `open(path, "w")` gives a new file: 0666 less the umask."""
    return 0o666 & ~_current_umask()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path next to `path`; on success it is renamed to `path`, on error removed.

    Whatever the caller wrote to the temp path, the final file has a plain `open()`'s permissions.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _plain_open_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temp folder next to `path`; on success it is renamed to `path`, on error removed.

    For outputs that are folders (a `save_pretrained` model with its logs): `path` never exists half
    written. An older `path` is moved aside before the rename (a rename cannot replace a non-empty folder)
    and deleted after it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_current_umask())
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old")) / path.name
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_text(path: str | Path, text: str, only_if_changed: bool = False) -> bool:
    """Atomic text write; with only_if_changed an identical file is left alone (mtime kept)."""
    path = Path(path)
    if only_if_changed and path.exists() and path.read_text() == text:
        return False
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return True


def write_json(path: str | Path, data: Any, only_if_changed: bool = False) -> bool:
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", only_if_changed)


def write_parquet(path: str | Path, frame, metadata: dict[str, str] | None = None) -> None:
    """Atomic Parquet write of a polars DataFrame, with optional file key-value metadata."""
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, metadata=metadata)


def link_file(source: str | Path, path: str | Path) -> None:
    """Make `path` the same file as `source` (a hard link: same inode and mtime), atomically, replacing
    what was there; a filesystem without hard links gets a copy (mtime kept)."""
    with atomic_path(path) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:  # EPERM / ENOTSUP / EXDEV: no hard links here
            shutil.copy2(source, tmp)
