"""`generate_similarity`: embed a generated response and compare it to the full prompt's response.

Embeddings of a response (token ids without special tokens):
- `static`: rows of the LM's input embedding matrix;
- `contextual`: the LM's last hidden states on BOS + response (the response read on its own, so
  equal responses embed equally whatever prompt produced them);
- `external`: a sentence embedder's embedding of the decoded text (no reducer).
Token vectors are reduced with `mean`, `max`, `min`, `sum` or `first`; an empty response embeds as
the zero vector (cosine 0 against anything).
"""

from __future__ import annotations

import torch

REDUCERS = ("mean", "max", "min", "sum", "first")


def reduce_tokens(vectors: torch.Tensor, mask: torch.Tensor, reducer: str) -> torch.Tensor:
    """(b, d) from token vectors (b, R, d) where `mask` (b, R) marks the real tokens."""
    vectors = vectors.float()
    mask = mask.bool()
    counts = mask.sum(dim=1, keepdim=True)
    empty = counts.squeeze(1) == 0
    m = mask.unsqueeze(-1)
    if reducer == "mean":
        out = (vectors * m).sum(dim=1) / counts.clamp(min=1)
    elif reducer == "sum":
        out = (vectors * m).sum(dim=1)
    elif reducer == "max":
        out = vectors.masked_fill(~m, float("-inf")).max(dim=1).values
    elif reducer == "min":
        out = vectors.masked_fill(~m, float("inf")).min(dim=1).values
    elif reducer == "first":
        first = mask.float().argmax(dim=1)
        out = vectors[torch.arange(vectors.shape[0]), first]
    else:
        raise ValueError(f"value.reducer: {reducer!r} is not one of {', '.join(REDUCERS)}")
    return torch.where(empty.unsqueeze(1), torch.zeros_like(out), out)
