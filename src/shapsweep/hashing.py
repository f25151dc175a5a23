"""Short content hashes and filesystem-safe names: the two halves of run ids and data ids (a leaf module)."""

from __future__ import annotations

import hashlib
import json
import re


def short_hash(data: object, length: int = 10) -> str:
    """Hex prefix of the SHA-256 of canonical JSON (sorted keys): same content, same hash."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def readable(text: str, limit: int = 24) -> str:
    """`text` reduced to [A-Za-z0-9.+-], for slugs that are also folder names."""
    return re.sub(r"[^A-Za-z0-9.+]+", "-", text).strip("-.")[:limit] or "x"
