"""Which rows an empirical explainer trains on, validates on, or never sees: a stable hash of the row id.

The role depends on the row id and the two fractions only (sha256, not Python's salted `hash`), so it is
the same in every process, on every machine and whatever shard a row sits in; raising `max_samples`
adds rows without moving any old row between roles.
"""

from __future__ import annotations

import hashlib

SPLIT_ROLES = ("train", "validation", "held_out")
# The digest's first 53 bits (a float's mantissa), so k / 2**53 is exact and never rounds up to 1.0.
_BITS = 53


def split_unit(row_id: str) -> float:
    """A number in [0, 1) fixed by `row_id` alone (the first 53 bits of its UTF-8 sha256, big-endian)."""
    digest = hashlib.sha256(str(row_id).encode("utf-8")).digest()
    return (int.from_bytes(digest[:8], "big") >> (64 - _BITS)) / float(2**_BITS)


def split_role(row_id: str, train_fraction: float = 0.8, validation_fraction: float = 0.1) -> str:
    """ "train", "validation" or "held_out" for this row.

    With u = `split_unit(row_id)`: u < train_fraction * (1 - validation_fraction) trains,
    u < train_fraction validates (early stopping), the rest is held out. Train and validation rows are
    both the explainer's training rows (`in_train`); only held-out rows may be used to judge it.
    """
    u = split_unit(row_id)
    if u < train_fraction * (1.0 - validation_fraction):
        return "train"
    if u < train_fraction:
        return "validation"
    return "held_out"
