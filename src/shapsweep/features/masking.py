"""Masking strategies: turn a tokenized row and a batch of coalitions into padded model inputs.

The row is tokenized once; every coalition is built by selecting or replacing token ids, never by
re-tokenizing text. Tokens owned by no player (template, system prompt, special tokens, excluded
punctuation) are always kept.

- `remove`: absent players' tokens are dropped; positions are renumbered 0..len-1.
- `mask_token`: each absent token is replaced by one mask (or pad/unk) token; length unchanged.
- `attention`: tokens and positions are kept, absent tokens get attention mask 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRATEGIES = ("remove", "mask_token", "attention")


@dataclass
class MaskedBatch:
    input_ids: np.ndarray  # (b, L) int64, padded with pad_token_id
    attention_mask: np.ndarray  # (b, L) int64
    position_ids: np.ndarray  # (b, L) int64: positions the model must use
    lengths: np.ndarray  # (b,) sequence length incl. attention-masked tokens, excl. padding
    padding_side: str = "right"

    def sequence(self, i: int) -> list[int]:
        """Token ids of row i without padding (what a one-by-one call would send)."""
        row = self.input_ids[i]
        return row[self.real_tokens()[i]].tolist()

    def real_tokens(self) -> np.ndarray:
        """(b, L) True where a position holds a real token (attention-masked tokens included)."""
        width = self.input_ids.shape[1]
        cols = np.arange(width)[None, :]
        if self.padding_side == "left":
            return cols >= (width - self.lengths)[:, None]
        return cols < self.lengths[:, None]


def present_tokens(owners: np.ndarray, coalitions: np.ndarray) -> np.ndarray:
    """(b, T) bool: token t is present in coalition i (tokens without an owner always are)."""
    coalitions = np.asarray(coalitions, dtype=bool)
    owned = owners >= 0
    present = np.ones((coalitions.shape[0], owners.shape[0]), dtype=bool)
    present[:, owned] = coalitions[:, owners[owned]]
    return present


def mask_batch(
    ids: np.ndarray,
    owners: np.ndarray,
    coalitions: np.ndarray,
    strategy: str,
    *,
    pad_token_id: int,
    mask_token_id: int | None = None,
    padding_side: str = "right",
) -> MaskedBatch:
    """Padded inputs for each coalition (rows of `coalitions`, shape (b, n_players))."""
    ids = np.asarray(ids, dtype=np.int64)
    present = present_tokens(owners, coalitions)
    b, total = present.shape
    left = padding_side == "left"
    if strategy == "remove":
        lengths = present.sum(axis=1)
        width = int(lengths.max()) if b else 0
        # A stable sort of "absent" puts the kept tokens first, in their original order.
        order = np.argsort(~present if not left else present, axis=1, kind="stable")
        gathered = ids[order]
        cols = np.arange(total)
        if left:
            valid = cols[None, :] >= (total - lengths)[:, None]
            gathered, valid = gathered[:, total - width :], valid[:, total - width :]
            positions = np.clip(np.arange(width)[None, :] - (width - lengths)[:, None], 0, None)
        else:
            valid = cols[None, :] < lengths[:, None]
            gathered, valid = gathered[:, :width], valid[:, :width]
            positions = np.broadcast_to(np.arange(width), (b, width)).copy()
        input_ids = np.where(valid, gathered, pad_token_id)
        attention = valid.astype(np.int64)
    elif strategy == "mask_token":
        if mask_token_id is None:
            raise ValueError("features.masking: 'mask_token' needs a tokenizer with a mask, pad or unk token")
        input_ids = np.where(present, ids[None, :], mask_token_id)
        attention = np.ones_like(input_ids)
        positions = np.broadcast_to(np.arange(total), (b, total)).copy()
        lengths = np.full(b, total)
    elif strategy == "attention":
        input_ids = np.broadcast_to(ids, (b, total)).copy()
        attention = present.astype(np.int64)
        positions = np.broadcast_to(np.arange(total), (b, total)).copy()
        lengths = np.full(b, total)
    else:
        raise ValueError(f"features.masking: {strategy!r} is not one of {', '.join(STRATEGIES)}")
    return MaskedBatch(input_ids, attention, positions, np.asarray(lengths, dtype=np.int64), padding_side)
