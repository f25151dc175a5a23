"""`logprob`: log-probability of a fixed response under the (masked) prompt, teacher-forced."""

from __future__ import annotations

import numpy as np
import torch


def response_logprob(logits: torch.Tensor, response_ids: torch.Tensor, reduce: str) -> np.ndarray:
    """Sum or mean over tokens of log p(response_t | prompt, response_<t).

    `logits` (b, R, V) are the model's outputs at the R positions that predict the R response
    tokens `response_ids` (R,). Computed in float32 at least, returned as float64.
    """
    return response_logprob_tensor(logits, response_ids, reduce).cpu().numpy()


def response_logprob_tensor(
    logits: torch.Tensor, response_ids: torch.Tensor, reduce: str, lengths: torch.Tensor | None = None
) -> torch.Tensor:
    """`response_logprob` as a float64 tensor that keeps the autograd graph (integrated gradients).

    `response_ids` may also be one response per row (b, R); with `lengths` (b,) row i's response is its
    first lengths[i] tokens (padded to R), the rest read as nothing."""
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    ids = response_ids.view(1, -1) if response_ids.dim() == 1 else response_ids
    picked = logprobs.gather(-1, ids.expand(logits.shape[0], -1).unsqueeze(-1)).squeeze(-1)
    if lengths is None:
        totals = picked.sum(dim=1) if reduce == "sum" else picked.mean(dim=1)
    else:
        live = torch.arange(picked.shape[1], device=picked.device) < lengths.view(-1, 1)
        totals = picked.masked_fill(~live, 0.0).sum(dim=1)
        if reduce != "sum":
            totals = totals / lengths.to(totals.dtype)
    return totals.double()
