"""Report outputs re-rendered only when their inputs change: a digest of each output's inputs, kept in
`report/.inputs.json`. A rebuild with nothing changed then skips the plots and the explorer's data (most
of a 100k-row build); a new run re-writes its own explorer file, the shared ones and the plots only.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import polars as pl

from shapsweep.atomic_outputs import write_json

MANIFEST = ".inputs.json"


def digest(*parts: Any) -> str:
    """A digest of frames (schema, height and polars' row hashes) and JSON-able values."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, pl.DataFrame):
            h.update(repr((part.schema, part.height)).encode())
            if part.height:
                h.update(str([part.hash_rows(seed=seed).sum() for seed in (0, 1)]).encode())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()


class InputDigests:
    """The digests of the last build under `out_dir`; `fresh` says whether an output may be kept."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / MANIFEST
        try:
            self.before = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            self.before = {}
        self.now: dict[str, str] = {}

    def fresh(self, name: str, value: str, outputs: list[Path]) -> bool:
        self.now[name] = value
        return self.before.get(name) == value and all(Path(p).exists() for p in outputs)

    def save(self) -> None:
        write_json(self.path, self.now, only_if_changed=True)
