"""Shard-record fields that several kinds write the same way."""

from __future__ import annotations


def spans(spans) -> list | None:
    return None if spans is None else [None if s is None else list(map(int, s)) for s in spans]


def regions(regions) -> list | None:
    return None if regions is None else [None if r is None else list(map(float, r)) for r in regions]
