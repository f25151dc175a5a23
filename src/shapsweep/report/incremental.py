"""Report outputs re-rendered only when their inputs change: a digest of each output's inputs, kept in
`report/.inputs.json`. A rebuild with nothing changed then skips the plots, the pages and the explorer's
data; a new run re-writes its own run page and explorer file, the row pages (each shows every run), the
shared explorer file and the plots. A change to the renderer itself (its code or templates) re-renders all.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import polars as pl

from shapsweep.atomic_outputs import write_json

MANIFEST = ".inputs.json"
RENDERER_KEY = "renderer"


def renderer_digest() -> str:
    """A digest of what turns inputs into pages: the report package, its templates and the plots module."""
    package = Path(__file__).resolve().parents[1]
    sources = sorted([*(package / "report").glob("*.py"), *(package / "templates").rglob("*"), package / "plots.py"])
    h = hashlib.sha256()
    for path in sources:
        if path.is_file():
            h.update(path.relative_to(package).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def digest(*parts: Any) -> str:
    """A digest of frames (schema, height and polars' row hashes) and JSON-able values."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, pl.DataFrame):
            h.update(repr((part.schema, part.height)).encode())
            # Means polars computes in parallel differ in their last bits from one build to the next: floats
            # are hashed at 12 significant digits, so such noise never re-renders a page.
            part = part.with_columns(pl.col(pl.Float32, pl.Float64).round_sig_figs(12))
            if part.height:
                h.update(str([part.hash_rows(seed=seed).sum() for seed in (0, 1)]).encode())
        else:
            h.update(json.dumps(_rounded(part), sort_keys=True, default=str).encode())
    return h.hexdigest()


def _rounded(value: Any) -> Any:
    """JSON-able values with their floats at 12 significant digits, as the frames' are: a run's budget is
    the polars mean of its rows' budgets, whose last bits can differ from one build to the next."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    return value


class InputDigests:
    """The digests of the last build under `out_dir`; `fresh` says whether an output may be kept."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / MANIFEST
        try:
            self.before = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            self.before = {}
        renderer = renderer_digest()
        if self.before.get(RENDERER_KEY) != renderer:
            self.before = {}  # pages from another version of the renderer are never kept
        self.now: dict[str, str] = {RENDERER_KEY: renderer}

    def fresh(self, name: str, value: str, outputs: list[Path]) -> bool:
        self.now[name] = value
        return self.before.get(name) == value and all(Path(p).exists() for p in outputs)

    def save(self) -> None:
        write_json(self.path, self.now, only_if_changed=True)
