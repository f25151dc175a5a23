"""The evaluation store: model outputs kept per (game, coalition) and shared by every run of a sweep.

A *game* is one row under one model, feature and value configuration; its key hashes those resolved
blocks and the row's content, so a changed row, model revision, value option or masking never hits.
Each explain job adds what its model computed for a row as one immutable segment file
(`<output_root>/store/<key[:2]>/<key>/<uuid>.npz`: packed coalitions and their values), written to a
temp name and renamed, so a killed job leaves nothing half-written and no file is ever rewritten: jobs on
one machine or on a shared cluster file system need no lock. Reading a game merges its segments.
Stored values are the model's own numbers for those coalitions; another batch layout can move the last
float digits (the store-on and store-off results agree within 1e-6).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from shapsweep.atomic_outputs import atomic_path

# Options of the model block that never change a coalition's value (beyond float noise).
_NOT_VALUE_CHANGING = ("batch_size",)


def _canonical(value: Any) -> Any:
    """JSON-able form of a row value (bytes, e.g. media, are hashed; numpy scalars and arrays become lists)."""
    if isinstance(value, bytes):
        return {"sha256": hashlib.sha256(value).hexdigest()}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


# Row columns that may name a media file: the file's bytes are the content, not its path.
_MEDIA_COLUMNS = ("image", "audio")


def _row_content(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if k == "row_id":
            continue
        if k in _MEDIA_COLUMNS and isinstance(v, str) and os.path.isfile(v):
            v = Path(v).read_bytes()
        out[k] = _canonical(v)
    return out


def game_key(model: dict, features: dict, value: dict, row: dict) -> str:
    """The store key of one row's game: its resolved blocks and the row's content (not its id; a media
    file's bytes, not its path)."""
    content = {
        "model": {k: v for k, v in model.items() if k not in _NOT_VALUE_CHANGING},
        "features": features,
        "value": value,
        "row": _row_content(row),
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class EvaluationStore:
    """Segments of model outputs under `root` (layout.store_dir of the output root)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def game_dir(self, key: str) -> Path:
        return self.root / key[:2] / key

    def load(self, key: str, n_players: int) -> dict[bytes, float]:
        """Every stored value of the game, by packed coalition (np.packbits of the (n,) bool row)."""
        folder = self.game_dir(key)
        if not folder.is_dir():
            return {}
        width = (n_players + 7) // 8
        known: dict[bytes, float] = {}
        for segment in sorted(folder.glob("*.npz")):
            with np.load(segment) as data:
                packed, values = data["coalitions"], data["values"]
            if packed.ndim != 2 or packed.shape[1] != width:
                continue  # another player count under the same key cannot happen; never trust it
            for row, v in zip(packed, values.tolist()):
                known.setdefault(row.tobytes(), v)
        return known

    def save(self, key: str, coalitions: list[bytes], values: np.ndarray) -> Path | None:
        """Add one segment with these packed coalitions and values (nothing for none)."""
        if not coalitions:
            return None
        packed = np.frombuffer(b"".join(coalitions), dtype=np.uint8).reshape(len(coalitions), -1)
        path = self.game_dir(key) / f"{uuid.uuid4().hex}.npz"
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, coalitions=packed, values=np.asarray(values, dtype=np.float64))
        return path
