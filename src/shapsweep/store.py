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

_GENERATIONS = ".gen.npz"  # segments of greedy responses (the rest hold values)
# Options of the model block that never change a coalition's value (beyond float noise).
# (A served model's address, key and transport settings neither: the server's own id stands for it.)
_NOT_VALUE_CHANGING = ("batch_size", "base_url", "api_key_env", "concurrency", "timeout_s", "max_retries")


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


def _file_bytes(value):
    return Path(value).read_bytes() if isinstance(value, str) and os.path.isfile(value) else value


def _message_media_bytes(messages):
    """A conversation's media parts with their files' bytes in place of their paths (as for media columns)."""
    if not isinstance(messages, list):
        return messages
    out = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            parts = [
                {k: (_file_bytes(v) if k in (p.get("type"), "path") else v) for k, v in p.items()}
                if isinstance(p, dict) and p.get("type") in _MEDIA_COLUMNS
                else p
                for p in content
            ]
            message = {**message, "content": parts}
        out.append(message)
    return out


def _row_content(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if k == "row_id":
            continue
        if k in _MEDIA_COLUMNS:
            v = _file_bytes(v)
        elif k == "messages":
            v = _message_media_bytes(v)
        out[k] = _canonical(v)
    return out


def row_digest(row: dict) -> str:
    """A row's content as one hash (not its id; a media file's bytes, not its path)."""
    return _digest(_row_content(row))


def game_key(model: dict, features: dict, value: dict, row: dict, players: dict | None = None) -> str:
    """The store key of one row's game: its resolved blocks and the row's content (not its id; a media
    file's bytes, not its path). `players`: what else fixes the game when its players are not the row's
    input players (an ablation game's components and what replaces them)."""
    content = {
        "model": {k: v for k, v in model.items() if k not in _NOT_VALUE_CHANGING},
        "features": features,
        "value": value,
        "row": _row_content(row),
    }
    if players is not None:
        content["players"] = players
    return _digest(content)


def _digest(content) -> str:
    """sha256 of `content` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def generation_key(model: dict, features: dict, row: dict) -> str:
    """The store key of one row's greedy generations: the model (max_new_tokens included), the players and
    their masking, and the row; not the value function, so a value computed from generations with another
    similarity, reducer or embedding re-uses them."""
    return game_key(model, features, {"kind": "generations"}, row)


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
            if segment.name.endswith(_GENERATIONS):
                continue
            with np.load(segment) as data:
                packed, values = data["coalitions"], data["values"]
            if packed.ndim != 2 or packed.shape[1] != width:
                continue  # another player count under the same key cannot happen; never trust it
            for row, v in zip(packed, values.tolist()):
                known.setdefault(row.tobytes(), v)
        return known

    def load_generations(self, key: str, n_players: int) -> dict[bytes, list[int]]:
        """Every stored greedy response of the game (token ids), by packed coalition."""
        folder = self.game_dir(key)
        known: dict[bytes, list[int]] = {}
        for segment in sorted(folder.glob(f"*{_GENERATIONS}")) if folder.is_dir() else []:
            with np.load(segment) as data:
                packed, offsets, tokens = data["coalitions"], data["offsets"], data["tokens"]
            if packed.ndim != 2 or packed.shape[1] != (n_players + 7) // 8:
                continue
            for i, row in enumerate(packed):
                known.setdefault(row.tobytes(), tokens[offsets[i] : offsets[i + 1]].tolist())
        return known

    def save_generations(self, key: str, coalitions: list[bytes], responses: list[list[int]]) -> Path | None:
        """Add one segment of greedy responses (ragged token lists, stored flat with offsets)."""
        if not coalitions:
            return None
        packed = np.frombuffer(b"".join(coalitions), dtype=np.uint8).reshape(len(coalitions), -1)
        offsets = np.concatenate([[0], np.cumsum([len(r) for r in responses])]).astype(np.int64)
        tokens = np.fromiter((t for r in responses for t in r), dtype=np.int64, count=int(offsets[-1]))
        path = self.game_dir(key) / f"{uuid.uuid4().hex}{_GENERATIONS}"
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, coalitions=packed, offsets=offsets, tokens=tokens)
        return path

    def save(self, key: str, coalitions: list[bytes], values: np.ndarray) -> Path | None:
        """Add one segment with these packed coalitions and values (nothing for none)."""
        if not coalitions:
            return None
        packed = np.frombuffer(b"".join(coalitions), dtype=np.uint8).reshape(len(coalitions), -1)
        path = self.game_dir(key) / f"{uuid.uuid4().hex}.npz"
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, coalitions=packed, values=np.asarray(values, dtype=np.float64))
        return path
